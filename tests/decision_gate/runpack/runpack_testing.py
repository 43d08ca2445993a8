"""Shared material for the runpack tests: the reference runpacks and a small run."""

from __future__ import annotations

import copy
import pathlib
import shutil
import stat
from typing import Any

from decision_gate.core.canonical import HashDigest, hash_canonical
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    U64,
    CompleteOutcome,
    DecisionRecord,
    EvidenceAnchor,
    EvidenceRecord,
    EvidenceResult,
    EvidenceSignature,
    GateEvalRecord,
    GateEvaluation,
    GateTraceEntry,
    Logical,
    NamespaceId,
    RunState,
    RunStatus,
    TenantId,
    ToolCallRecord,
    TriggerEvent,
    TriggerKind,
    TriggerRecord,
)
from decision_gate.core.runlog import LogKind, append_records, new_head, run_state_from
from decision_gate.core.runpack import (
    MemoryRunpackSource,
    VerificationReport,
    run_to_completion,
    verify_runpack_bytes,
)
from decision_gate.core.tristate import TriState

REFERENCE_ROOT = pathlib.Path("/work/shared/contract/runpacks")
REFERENCE_RUNPACKS = (
    "golden/golden_time_after_pass",
    "golden/golden_visibility_packet",
    "backcompat/v1",
)
MANIFEST = "manifest.json"

SPEC: dict[str, Any] = {
    "conditions": [
        {
            "comparator": "equals",
            "condition_id": "after",
            "expected": True,
            "policy_tags": [],
            "query": {"check_id": "after", "params": {"timestamp": 0}, "provider_id": "time"},
        }
    ],
    "default_tenant_id": 1,
    "namespace_id": 1,
    "policies": [],
    "scenario_id": "golden-time-after",
    "schemas": [],
    "spec_version": "1",
    "stages": [
        {
            "advance_to": {"kind": "terminal"},
            "entry_packets": [],
            "gates": [{"gate_id": "gate-time", "requirement": {"Condition": "after"}}],
            "on_timeout": "fail",
            "stage_id": "stage-1",
            "timeout": None,
        }
    ],
}


def reference_files(name: str) -> dict[str, bytes]:
    root = REFERENCE_ROOT / name
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def copy_reference(name: str, destination: pathlib.Path) -> pathlib.Path:
    """A writable copy of a reference runpack (the originals are read-only)."""
    target = destination / pathlib.Path(name).name
    shutil.copytree(REFERENCE_ROOT / name, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def verify_in_memory(files: dict[str, bytes], manifest_path: str = MANIFEST) -> VerificationReport:
    source = MemoryRunpackSource(files, chunk_size=97)
    return run_to_completion(
        verify_runpack_bytes(files[manifest_path], source, manifest_path=manifest_path)
    )


def spec_with_provider(provider_id: str) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["conditions"][0]["query"]["provider_id"] = provider_id
    return spec


def small_run(
    spec: JsonValue = None,
    *,
    anchor: EvidenceAnchor | None = None,
    signature: EvidenceSignature | None = None,
    triggers: int = 1,
) -> RunState:
    """A run with `triggers` external events, each evaluated True and decided.

    Built the way the engine builds runs: a head, then appended records.
    """
    spec = SPEC if spec is None else spec
    spec_hash: HashDigest = hash_canonical(spec)
    head = new_head(
        tenant_id=TenantId(1),
        namespace_id=NamespaceId(1),
        run_id="run-1",
        scenario_id="golden-time-after",
        spec_hash=spec_hash,
        current_stage_id="stage-1",
        stage_entered_at=Logical(U64(0)),
        dispatch_targets=(),
    )
    logs: dict[LogKind, list[Any]] = {kind: [] for kind in LogKind}
    for index in range(1, triggers + 1):
        trigger_id = f"trigger-{index}"
        at = Logical(U64(index * 2))
        event = TriggerEvent(
            trigger_id=trigger_id,
            tenant_id=TenantId(1),
            namespace_id=NamespaceId(1),
            run_id="run-1",
            kind=TriggerKind.EXTERNAL_EVENT,
            time=at,
            source_id="system-tests",
        )
        result = EvidenceResult(
            value=JsonEvidence(True),
            evidence_hash=hash_canonical(True),
            evidence_anchor=anchor,
            signature=signature,
            content_type="application/json",
        )
        gate_eval = GateEvalRecord(
            trigger_id=trigger_id,
            stage_id="stage-1",
            evaluation=GateEvaluation(
                gate_id="gate-time",
                status=TriState.TRUE,
                trace=(GateTraceEntry(condition_id="after", status=TriState.TRUE),),
            ),
            evidence=(EvidenceRecord(condition_id="after", status=TriState.TRUE, result=result),),
        )
        decision = DecisionRecord(
            decision_id=f"decision-{index}",
            seq=U64(index),
            trigger_id=trigger_id,
            stage_id="stage-1",
            decided_at=at,
            outcome=CompleteOutcome(stage_id="stage-1"),
        )
        call = ToolCallRecord(
            call_id=f"call-{index}",
            method="scenario.trigger",
            request_hash=hash_canonical(trigger_id),
            response_hash=hash_canonical(index),
            called_at=at,
        )
        delta = append_records(
            head,
            [
                (LogKind.TRIGGERS, TriggerRecord(seq=U64(index), event=event)),
                (LogKind.GATE_EVALS, gate_eval),
                (LogKind.DECISIONS, decision),
                (LogKind.TOOL_CALLS, call),
            ],
            status=RunStatus.COMPLETED,
        )
        head = delta.head
        for appended in delta.records:
            logs[appended.kind].append(appended.record)
    return run_state_from(head, {kind: tuple(records) for kind, records in logs.items()})
