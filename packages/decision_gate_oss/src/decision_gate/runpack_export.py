"""Exporting a stored run as a runpack: from a run-state store into runpack storage.

The store's chain check runs first, so a run whose logs were tampered with is
never exported as if it were intact; then the run's logs stream from the store
(each record's hash re-checked as it is read) through `runpacks.export`, one
record at a time.
"""

from __future__ import annotations

import attrs

from decision_gate.core.engine import RunNotFound, Scenario
from decision_gate.core.errors import RunpackError, StoreCorrupt
from decision_gate.core.model import EvidenceAnchorPolicy, Timestamp
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import (
    DEFAULT_MANIFEST_NAME,
    RunpackBuilder,
    RunpackManifest,
    SecurityContext,
    VerificationReport,
)
from decision_gate.runpacks.export import write_runpack
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.runpack_storage import RunpackStorage, RunpackTarget

__all__ = ["DEFAULT_MANIFEST_NAME", "ExportedRunpack", "export_runpack"]


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
    manifest, report = await write_runpack(
        writer,
        builder,
        lambda kind: store.read_log(key, kind),
        with_verification=include_verification,
    )
    return ExportedRunpack(manifest=manifest, report=report, location=writer.location)
