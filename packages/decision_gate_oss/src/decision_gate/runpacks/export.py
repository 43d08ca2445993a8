"""Streaming runpack export: drive the pure builder into any `RunpackWriter`.

One record at a time flows from the run's logs through `RunpackBuilder` into
storage, so exporting a run costs memory for its largest record, not for its
history. With verification the freshly written artifacts are read back through
the writer and verified before the report and the final manifest are written
(core.md §6.3: the report says seven files, the manifest lists eight). On any
failure the writer is aborted, so no manifest (no complete runpack) appears.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any

from decision_gate.core.runlog import LogKind
from decision_gate.core.runpack import (
    SCENARIO_SPEC_PATH,
    VERIFIER_REPORT_PATH,
    ArtifactWriter,
    RunpackBuilder,
    RunpackManifest,
    VerificationReport,
    manifest_bytes,
    verify_runpack,
)
from decision_gate.seams.runpack_storage import RunpackWriter

LogRecords = Callable[[LogKind], AsyncIterable[Any]]
"""The records of one log in append order: model records, or their canonical JSON bytes."""


async def _log_chunks(
    writer: ArtifactWriter, records: AsyncIterable[Any]
) -> AsyncGenerator[bytes, None]:
    async for record in records:
        if isinstance(record, bytes):
            yield writer.item_canonical(record)
        else:
            yield writer.item(record)
    yield writer.finish()


async def _one(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def write_runpack(
    writer: RunpackWriter,
    builder: RunpackBuilder,
    logs: LogRecords,
    *,
    with_verification: bool = False,
) -> tuple[RunpackManifest, VerificationReport | None]:
    """Write every artifact, then the manifest; abort the writer on any failure.

    Returns the manifest as written and, with verification, the embedded report.
    """
    try:
        spec = builder.scenario_spec()
        await writer.write_artifact(SCENARIO_SPEC_PATH, _one(spec))
        for kind in LogKind:
            artifact = builder.log(kind)
            await writer.write_artifact(artifact.path, _log_chunks(artifact, logs(kind)))
        manifest = builder.manifest()
        report = None
        if with_verification:
            reader = writer.reader()
            try:
                report = await verify_runpack(manifest, reader)
            finally:
                await reader.close()
            await writer.write_artifact(VERIFIER_REPORT_PATH, _one(builder.verifier_report(report)))
            manifest = builder.manifest()
        await writer.finalize(manifest_bytes(manifest))
    except BaseException:
        await writer.abort()
        raise
    return manifest, report
