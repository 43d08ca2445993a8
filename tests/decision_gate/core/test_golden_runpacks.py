"""The reference's golden runpacks, rebuilt by the engine (spec §6.5, §6.6; P10-P12).

Every artifact except verifier_report.json is a log of the run or the spec, so it can
be rebuilt from `scenario_spec.json` and `triggers.json` alone: start the run (with
initial dispatch when the first trigger is `init`), then replay each recorded trigger
through `scenario.trigger` with the built-in `time` provider's answer, `true`, anchored
to the trigger's logical time. The rebuilt bytes must equal the reference's files.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from engine_driver import (
    RunDriver,
    at,
    compile_json,
    cond,
    condition,
    evidence,
    gate,
    packet,
    scenario_json,
    stage,
)

from decision_gate.core.canonical import canonical_json_bytes, hash_bytes, hash_canonical
from decision_gate.core.engine import EvidenceRequest
from decision_gate.core.jsonvalue import loads
from decision_gate.core.model import (
    CompleteOutcome,
    EvidenceAnchor,
    EvidenceResult,
    JsonPayload,
    Logical,
    StartOutcome,
    ToolCallRecord,
    TriggerRecord,
    VisibilityPolicy,
    parse,
    to_json,
)
from decision_gate.core.runlog import LogKind

REFERENCE_ROOT = pathlib.Path("/work/shared/contract/runpacks")
GOLDEN = {
    "golden_time_after_pass": REFERENCE_ROOT / "golden" / "golden_time_after_pass",
    "golden_visibility_packet": REFERENCE_ROOT / "golden" / "golden_visibility_packet",
    "backcompat_v1": REFERENCE_ROOT / "backcompat" / "v1",
}


def artifact_bytes(runpack: pathlib.Path, name: str) -> bytes:
    return (runpack / "artifacts" / f"{name}.json").read_bytes()


def artifact_items(runpack: pathlib.Path, name: str) -> list[Any]:
    items = loads(artifact_bytes(runpack, name))
    assert isinstance(items, list)
    return items


def manifest(runpack: pathlib.Path) -> Any:
    return json.loads((runpack / "manifest.json").read_bytes())


def recorded_triggers(runpack: pathlib.Path) -> list[TriggerRecord]:
    return [parse(TriggerRecord, item) for item in artifact_items(runpack, "triggers")]


def time_provider(request: EvidenceRequest) -> EvidenceResult:
    """The built-in `time` provider's answer in the golden runs."""
    trigger_time = request.context.trigger_time
    assert isinstance(trigger_time, Logical)
    return evidence(
        True,
        evidence_anchor=EvidenceAnchor("trigger_time_logical", str(trigger_time.value)),
        content_type="application/json",
    )


def rebuild(runpack: pathlib.Path) -> RunDriver:
    """Run the golden scenario again from its spec and its recorded triggers."""
    scenario = compile_json(loads(artifact_bytes(runpack, "scenario_spec")))
    header = manifest(runpack)
    driver = RunDriver(scenario, provider=time_provider)
    triggers = recorded_triggers(runpack)
    initial_dispatch = triggers[0].event.trigger_id == "init"
    driver.start(
        run_id=header["run_id"],
        tenant_id=header["tenant_id"],
        namespace_id=header["namespace_id"],
        started_at=triggers[0].event.time if initial_dispatch else at(0),
        issue_entry_packets=initial_dispatch,
        dispatch_targets=(),
    )
    for record in triggers[1:] if initial_dispatch else triggers:
        driver.fire(record.event, method="scenario.trigger", request=record.event)
    return driver


golden_runpacks = pytest.mark.parametrize("runpack", GOLDEN.values(), ids=GOLDEN.keys())


@golden_runpacks
def test_the_spec_artifact_is_the_canonical_form_of_the_parsed_spec(
    runpack: pathlib.Path,
) -> None:
    scenario = compile_json(loads(artifact_bytes(runpack, "scenario_spec")))

    assert canonical_json_bytes(scenario.spec_json) == artifact_bytes(runpack, "scenario_spec")
    assert scenario.spec_hash.to_json() == manifest(runpack)["spec_hash"]


@golden_runpacks
@pytest.mark.parametrize("kind", LogKind, ids=[kind.value for kind in LogKind])
def test_every_log_artifact_is_rebuilt_byte_for_byte(runpack: pathlib.Path, kind: LogKind) -> None:
    driver = rebuild(runpack)

    assert driver.artifact(kind) == artifact_bytes(runpack, kind.value)


@golden_runpacks
def test_the_rebuilt_artifacts_have_the_manifest_file_hashes(runpack: pathlib.Path) -> None:
    driver = rebuild(runpack)
    recorded = {
        entry["path"]: entry["hash"]["value"]
        for entry in manifest(runpack)["integrity"]["file_hashes"]
    }

    for kind in LogKind:
        assert hash_bytes(driver.artifact(kind)).value == recorded[f"artifacts/{kind.value}.json"]


@golden_runpacks
def test_each_tool_call_request_hash_is_the_hash_of_its_recorded_trigger(
    runpack: pathlib.Path,
) -> None:
    calls = [parse(ToolCallRecord, item) for item in artifact_items(runpack, "tool_calls")]
    events = [r.event for r in recorded_triggers(runpack) if r.event.trigger_id != "init"]

    assert len(calls) == len(events)
    for call, event in zip(calls, events, strict=True):
        assert call.method == "scenario.trigger"
        assert call.request_hash == hash_canonical(to_json(event))
        assert call.called_at == event.time


def test_p11_the_golden_trigger_call_hashes_are_the_reference_values() -> None:
    driver = rebuild(GOLDEN["golden_time_after_pass"])

    (call,) = driver.logs[LogKind.TOOL_CALLS]
    assert call.request_hash.value == (
        "3f8101ba7f3b244e8e2a3ceaeaefb1c248ae620845d30d431b475379853c0097"
    )
    assert call.response_hash.value == (
        "6c03f60e04f61fe5e6a29811ddbb8b6a8e28f5cc49bab09ebc9422ef20a86d84"
    )
    assert driver.scenario.spec_hash.value == (
        "5e2f158f4b4192a29986215a340c3f50f64166da28b210d23b4892a417f694e8"
    )


def test_p12_initial_dispatch_records_init_then_the_trigger() -> None:
    driver = rebuild(GOLDEN["golden_visibility_packet"])

    triggers: list[TriggerRecord] = driver.logs[LogKind.TRIGGERS]
    assert [(t.event.trigger_id, t.event.source_id) for t in triggers] == [
        ("init", "system"),
        ("trigger-1", "system-tests"),
    ]


def test_p12_the_start_decision_precedes_the_completion() -> None:
    driver = rebuild(GOLDEN["golden_visibility_packet"])

    assert [(d.decision_id, d.outcome) for d in driver.decisions] == [
        ("decision-1", StartOutcome("stage-1")),
        ("decision-2", CompleteOutcome("stage-1")),
    ]


def test_p12_the_entry_packet_belongs_to_the_start_decision() -> None:
    driver = rebuild(GOLDEN["golden_visibility_packet"])

    (issued,) = driver.packets
    assert issued.decision_id == "decision-1"
    assert issued.envelope.issued_at == at(1)
    assert issued.receipts == ()
    assert issued.envelope.visibility == VisibilityPolicy(
        labels=("confidential", "restricted"), policy_tags=("policy-alpha",)
    )


def two_gate_loop() -> RunDriver:
    """P10: stage-1 with gate-a and gate-b that loops to itself, issuing a packet each time."""
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-a", cond("cond-a")), gate("gate-b", cond("cond-b"))],
                advance_to={"kind": "fixed", "stage_id": "stage-1"},
                entry_packets=[packet("packet-1")],
            )
        ],
        [condition("cond-a"), condition("cond-b")],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()
    driver.trigger("trigger-1", at(12))
    driver.submit("submission-1", JsonPayload({"n": 1}), at(13))
    driver.trigger("trigger-2", at(22))
    driver.submit("submission-2", JsonPayload({"n": 2}), at(23))
    return driver


def test_p10_gate_evaluations_are_logged_per_trigger_in_gate_order() -> None:
    driver = two_gate_loop()

    assert [
        (g.trigger_id, g.evaluation.gate_id, g.evidence[0].condition_id)
        for g in driver.logs[LogKind.GATE_EVALS]
    ] == [
        ("trigger-1", "gate-a", "cond-a"),
        ("trigger-1", "gate-b", "cond-b"),
        ("trigger-2", "gate-a", "cond-a"),
        ("trigger-2", "gate-b", "cond-b"),
    ]


def test_p10_decisions_packets_and_submissions_follow_the_triggers() -> None:
    driver = two_gate_loop()

    assert [d.seq for d in driver.decisions] == [1, 2]
    assert [(p.envelope.issued_at, p.decision_id) for p in driver.packets] == [
        (at(12), "decision-1"),
        (at(22), "decision-2"),
    ]
    assert [s.submitted_at for s in driver.logs[LogKind.SUBMISSIONS]] == [at(13), at(23)]
