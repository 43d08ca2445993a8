"""Exporting a stored run as a runpack: the shell half of `core.runpack`.

The run's logs stream from the run-state store (each record's hash re-checked
as it is read) through the core's builder into a runpack writer, one record at
a time, so exporting a long run costs memory for one record, not for the run.
The store's chain check runs first: a run whose logs were tampered with is
never exported as if it were intact. With verification, the freshly written
runpack is read back and verified before its report and final manifest are
written; a failed write aborts, leaving no manifest.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

import attrs

from decision_gate.core.engine import RunNotFound, Scenario
from decision_gate.core.errors import RunpackError, StoreCorrupt
from decision_gate.core.model import EvidenceAnchorPolicy, Timestamp
from decision_gate.core.runlog import LogKind, RunKey
from decision_gate.core.runpack import (
    ArtifactWriter,
    RunpackBuilder,
    RunpackManifest,
    SecurityContext,
    VerificationReport,
    manifest_bytes,
    verify_runpack,
)
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.runpack_storage import RunpackStorage, RunpackTarget

DEFAULT_MANIFEST_NAME: Final = "manifest.json"


@attrs.frozen
class ExportedRunpack:
    manifest: RunpackManifest
    report: VerificationReport | None
    location: str


async def export_runpack(
    store: RunStateStore,
    scenario: Scenario,
    key: RunKey,
    storage: RunpackStorage,
    target: RunpackTarget,
    *,
    generated_at: Timestamp,
    include_verification: bool = True,
    manifest_name: str = DEFAULT_MANIFEST_NAME,
    anchor_policy: EvidenceAnchorPolicy | None = None,
    security: SecurityContext | None = None,
) -> ExportedRunpack:
    head = await store.load_head(key)
    if head is None:
        raise RunNotFound(key.run_id)
    if head.scenario_id != scenario.scenario_id:
        raise RunpackError(f"run {key.run_id} does not belong to scenario {scenario.scenario_id}")
    problems = await store.verify_run(key)
    if problems:
        raise StoreCorrupt(f"run {key.run_id} failed its integrity check: {problems[0]}")
    builder = RunpackBuilder(
        spec_json=scenario.spec_json,
        spec_hash=head.spec_hash,
        tenant_id=head.tenant_id,
        namespace_id=head.namespace_id,
        run_id=head.run_id,
        generated_at=generated_at,
        anchor_policy=anchor_policy,
        security=security,
    )
    writer = await storage.open_writer(target, manifest_name)
    try:
        await writer.write_artifact(
            "artifacts/scenario_spec.json", _single(builder.scenario_spec())
        )
        for kind in LogKind:
            artifact = builder.log(kind)
            await writer.write_artifact(artifact.path, _log_chunks(store, key, kind, artifact))
        manifest = builder.manifest()
        report = None
        if include_verification:
            report = await verify_runpack(manifest, writer.reader(), check_unlisted=False)
            await writer.write_artifact(
                "artifacts/verifier_report.json", _single(builder.verifier_report(report))
            )
            manifest = builder.manifest()
        location = await writer.finalize(manifest_bytes(manifest))
    except BaseException:
        await writer.abort()
        raise
    return ExportedRunpack(manifest=manifest, report=report, location=location)


async def _log_chunks(
    store: RunStateStore, key: RunKey, kind: LogKind, artifact: ArtifactWriter
) -> AsyncGenerator[bytes, None]:
    async for record in store.read_log(key, kind):
        yield artifact.item(record)
    yield artifact.finish()


async def _single(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data
