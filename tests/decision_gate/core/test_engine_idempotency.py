"""Idempotency and the recorded errors: replays, finished runs, status, submissions and
missing providers (spec §4.5, §4.6, §4.12, §4.13; vectors E20-E23).

What a replay may append is the point of these tests, so they look at the last delta's
records, which are exactly what a store would persist for the call.
"""

from __future__ import annotations

import pytest
from engine_driver import (
    READY,
    RunDriver,
    always,
    at,
    compile_json,
    cond,
    evidence,
    gate,
    packet,
    ready_gate_stage,
    scenario_json,
    stage,
)

from decision_gate.core.canonical import hash_canonical
from decision_gate.core.engine import (
    EVIDENCE_MAX_BYTES,
    PAYLOAD_MAX_BYTES,
    EvidenceTooLarge,
    PayloadTooLarge,
    SubmissionConflict,
)
from decision_gate.core.errors import Conflict
from decision_gate.core.evidence import BytesEvidence
from decision_gate.core.model import (
    AdvanceOutcome,
    BytesPayload,
    EvidenceResult,
    HoldOutcome,
    JsonPayload,
    MessageDetails,
    ProviderMissingDetails,
    RunStatus,
    StartOutcome,
    StatusRequest,
    ToolCallError,
    ToolCallRecord,
    TriggerKind,
    TriggerRecord,
    to_json,
)
from decision_gate.core.runlog import LogKind


def three_stage_run(*, issue_entry_packets: bool = False) -> RunDriver:
    """stage-1 (packet-0, issued only with initial dispatch) → stage-2 (packet-1) → stage-3,
    each gated on `ready`, linear."""
    spec = scenario_json(
        [
            stage("stage-1", [gate("gate-1", cond("ready"))], entry_packets=[packet("packet-0")]),
            stage("stage-2", [gate("gate-2", cond("ready"))], entry_packets=[packet("packet-1")]),
            stage("stage-3", [gate("gate-3", cond("ready"))]),
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start(issue_entry_packets=issue_entry_packets)
    return driver


def appended_kinds(driver: RunDriver) -> list[LogKind]:
    return [record.kind for record in driver.last_delta.records]


def test_replaying_a_trigger_id_returns_the_earlier_decision_and_its_packets() -> None:
    driver = three_stage_run()
    first = driver.trigger("trigger-1", at(1))

    replay = driver.trigger("trigger-1", at(5))

    assert replay == first
    assert [p.envelope.packet_id for p in replay.packets] == ["packet-1"]


def test_replaying_a_trigger_id_appends_only_a_tool_call() -> None:
    driver = three_stage_run()
    driver.trigger("trigger-1", at(1))

    driver.trigger("trigger-1", at(5))

    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]
    assert len(driver.provider_calls) == 1
    assert driver.run.current_stage_id == "stage-2"


def test_a_replayed_hold_is_not_evaluated_again_when_the_evidence_has_changed() -> None:
    driver = three_stage_run()
    held = driver.trigger("trigger-1", at(1), provider=always(evidence(False)))

    replay = driver.trigger("trigger-1", at(2))

    assert replay == held
    assert driver.run.current_stage_id == "stage-1"


def test_the_replay_tool_call_hashes_the_new_request_and_the_replayed_result() -> None:
    driver = three_stage_run()
    driver.trigger("trigger-1", at(1))

    replay = driver.trigger("trigger-1", at(5), correlation_id="corr-retry")

    call: ToolCallRecord = driver.logs[LogKind.TOOL_CALLS][-1]
    event = driver.event("trigger-1", at(5), correlation_id="corr-retry")
    assert call.call_id == "call-2"
    assert call.request_hash == hash_canonical(to_json(event))
    assert call.response_hash == hash_canonical(to_json(replay))
    assert call.called_at == at(5)
    assert call.correlation_id == "corr-retry"


def test_next_with_the_init_trigger_id_replays_the_start_decision() -> None:
    driver = three_stage_run(issue_entry_packets=True)

    replay = driver.next("init", at(3))

    assert replay.decision.outcome == StartOutcome("stage-1")
    assert [p.envelope.packet_id for p in replay.packets] == ["packet-0"]
    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]


def test_a_finished_run_answers_any_trigger_with_its_last_decision() -> None:
    spec = scenario_json([ready_gate_stage(advance_to={"kind": "terminal"})], [READY])
    driver = RunDriver(compile_json(spec))
    driver.start()
    completed = driver.trigger("trigger-1", at(1))

    later = driver.trigger("trigger-9", at(9))

    assert later == completed
    assert later.status is RunStatus.COMPLETED
    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]
    assert len(driver.provider_calls) == 1


def test_a_trigger_that_errors_leaves_its_id_free_for_a_fresh_evaluation() -> None:
    driver = three_stage_run()
    too_large = EvidenceResult(value=BytesEvidence(b"\0" * (EVIDENCE_MAX_BYTES + 1)))
    with pytest.raises(EvidenceTooLarge):
        driver.trigger("trigger-1", at(1), provider=always(too_large))

    retried = driver.trigger("trigger-1", at(2))

    assert retried.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=False)
    assert retried.decision.decision_id == "decision-1"


def test_status_appends_a_tool_call_even_though_it_changes_nothing_else() -> None:
    driver = three_stage_run()

    driver.status(at(1))

    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]
    assert driver.logs[LogKind.TOOL_CALLS][0].method == "scenario.status"


def test_status_records_the_hashes_of_its_request_and_its_answer() -> None:
    driver = three_stage_run()

    status = driver.status(at(4), correlation_id="corr-status")

    call: ToolCallRecord = driver.logs[LogKind.TOOL_CALLS][-1]
    request = StatusRequest(
        driver.run.run_id, driver.run.tenant_id, driver.run.namespace_id, at(4), "corr-status"
    )
    assert call.request_hash == hash_canonical(to_json(request))
    assert call.response_hash == hash_canonical(to_json(status))
    assert (call.called_at, call.correlation_id) == (at(4), "corr-status")


def test_next_records_the_hash_of_the_next_request_under_its_own_method() -> None:
    driver = three_stage_run()

    result = driver.next("trigger-1", at(1), agent_id="agent-7")

    call: ToolCallRecord = driver.logs[LogKind.TOOL_CALLS][-1]
    trigger: TriggerRecord = driver.logs[LogKind.TRIGGERS][-1]
    assert call.method == "scenario.next"
    assert call.request_hash == hash_canonical(
        to_json(driver.next_request("trigger-1", at(1), agent_id="agent-7"))
    )
    assert call.response_hash == hash_canonical(to_json(result))
    assert (trigger.event.kind, trigger.event.source_id) == (
        TriggerKind.AGENT_REQUEST_NEXT,
        "agent-7",
    )


def test_status_carries_a_safe_summary_only_after_a_hold() -> None:
    driver = three_stage_run()
    assert driver.status(at(1)).safe_summary is None

    held = driver.trigger("trigger-1", at(2), provider=always(evidence(False)))

    assert isinstance(held.decision.outcome, HoldOutcome)
    assert driver.status(at(3)).safe_summary == held.decision.outcome.summary


ATTESTATION = JsonPayload({"artifact": "attestation"})


def test_e20_a_submission_over_two_mebibytes_is_rejected_and_not_recorded() -> None:
    driver = three_stage_run()
    before = driver.run

    with pytest.raises(PayloadTooLarge, match=r"payload exceeds size limit \(2097153 > 2097152\)"):
        driver.submit("submission-1", BytesPayload(b"\0" * (PAYLOAD_MAX_BYTES + 1)), at(1))

    assert driver.run == before


def test_e21_resubmitting_the_same_content_returns_the_existing_record() -> None:
    driver = three_stage_run()
    first = driver.submit("submission-1", ATTESTATION, at(1))

    second = driver.submit("submission-1", ATTESTATION, at(2))

    assert second == first
    assert second.record.submitted_at == at(1)
    assert len(driver.logs[LogKind.SUBMISSIONS]) == 1
    assert len(driver.logs[LogKind.TOOL_CALLS]) == 2


def test_e22_resubmitting_other_content_under_the_same_id_is_a_conflict() -> None:
    driver = three_stage_run()
    driver.submit("submission-1", ATTESTATION, at(1))

    with pytest.raises(SubmissionConflict, match="submission_id conflict: submission-1") as raised:
        driver.submit("submission-1", JsonPayload({"artifact": "different"}), at(2))

    assert isinstance(raised.value, Conflict)
    assert len(driver.logs[LogKind.SUBMISSIONS]) == 1
    assert len(driver.logs[LogKind.TOOL_CALLS]) == 2


def test_e22_the_conflict_is_recorded_as_a_tool_call_error() -> None:
    driver = three_stage_run()
    driver.submit("submission-1", ATTESTATION, at(1))

    with pytest.raises(SubmissionConflict):
        driver.submit("submission-1", JsonPayload({"artifact": "different"}), at(2))

    call: ToolCallRecord = driver.logs[LogKind.TOOL_CALLS][-1]
    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]
    assert call.method == "scenario.submit"
    assert call.error == ToolCallError(
        code="submission_conflict",
        message="submission_id conflicts with existing record",
        details=MessageDetails(info="submission_id=submission-1"),
    )
    assert call.response_hash == hash_canonical(to_json(call.error))


def test_an_integer_and_a_float_payload_are_different_submissions() -> None:
    driver = three_stage_run()
    driver.submit("submission-1", JsonPayload({"n": 1}), at(1))

    with pytest.raises(SubmissionConflict):
        driver.submit("submission-1", JsonPayload({"n": 1.0}), at(2))


def test_a_boolean_and_an_integer_payload_are_different_submissions() -> None:
    driver = three_stage_run()
    driver.submit("submission-1", JsonPayload([True]), at(1))

    with pytest.raises(SubmissionConflict):
        driver.submit("submission-1", JsonPayload([1]), at(2))


def test_object_member_order_does_not_make_a_payload_different() -> None:
    driver = three_stage_run()
    first = driver.submit("submission-1", JsonPayload({"a": 1, "b": 2}), at(1))

    second = driver.submit("submission-1", JsonPayload({"b": 2, "a": 1}), at(2))

    assert second == first


def test_the_same_payload_with_another_content_type_is_a_conflict() -> None:
    driver = three_stage_run()
    driver.submit("submission-1", ATTESTATION, at(1))

    with pytest.raises(SubmissionConflict):
        driver.submit("submission-1", ATTESTATION, at(2), content_type="text/plain")


def test_a_finished_run_still_accepts_submissions() -> None:
    spec = scenario_json([ready_gate_stage(advance_to={"kind": "terminal"})], [READY])
    driver = RunDriver(compile_json(spec))
    driver.start()
    driver.trigger("trigger-1", at(1))

    result = driver.submit("submission-1", ATTESTATION, at(2))

    assert result.record.content_hash == hash_canonical({"artifact": "attestation"})
    assert driver.run.status is RunStatus.COMPLETED


def test_e23_missing_providers_are_recorded_as_a_tool_call_error() -> None:
    driver = three_stage_run()
    details = ProviderMissingDetails(
        missing_providers=("missing",), required_capabilities=(), blocked_by_policy=False
    )

    error = driver.providers_missing(details, "trigger-1", at(1))

    (call,) = driver.logs[LogKind.TOOL_CALLS]
    assert call.method == "scenario.next"
    assert call.request_hash == hash_canonical(to_json(driver.next_request("trigger-1", at(1))))
    assert call.error is not None
    assert call.error.code == "provider_missing"
    assert call.error.details == details
    assert to_json(call.error)["details"] == {
        "kind": "provider_missing",
        "missing_providers": ["missing"],
        "required_capabilities": [],
        "blocked_by_policy": False,
    }
    assert str(error) == (
        "provider validation failed: missing providers ['missing'], "
        "required capabilities [], blocked by policy false"
    )


def test_e23_missing_providers_record_no_trigger_and_no_decision() -> None:
    driver = three_stage_run()
    details = ProviderMissingDetails(("missing",), (), blocked_by_policy=False)

    driver.providers_missing(details, "trigger-1", at(1))

    assert appended_kinds(driver) == [LogKind.TOOL_CALLS]
    assert driver.run.last_decision is None
