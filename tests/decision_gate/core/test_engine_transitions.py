"""Engine transitions: advance, complete, branch, timeouts and disclosure (spec §4.6, §4.10,
§4.11; vectors E1-E3, E5-E13).

Unless a test says otherwise the run is the vectors' default: tenant 1, namespace 1,
`run-1`, started at Logical 0 without initial dispatch, one agent dispatch target, and a
provider answering every query with verified `true`.
"""

from __future__ import annotations

import attrs
import pytest
from engine_driver import (
    READY,
    RunDriver,
    always,
    at,
    branch,
    compile_json,
    cond,
    condition,
    evidence,
    gate,
    packet,
    ready_gate_stage,
    scenario_json,
    stage,
)

from decision_gate.core.engine import (
    GateResolutionFailed,
    NamespaceMismatch,
    PolicyDenied,
    RecordingDispatcher,
    RunMismatch,
    ScenarioMismatch,
    TimeoutCalculation,
    TriggerTimeMismatch,
    start_run,
)
from decision_gate.core.model import (
    I64,
    AdvanceOutcome,
    CompleteOutcome,
    DispatchReceipt,
    DispatchTarget,
    FailOutcome,
    HoldOutcome,
    NamespaceId,
    PacketEnvelope,
    PacketPayload,
    RunConfig,
    RunStatus,
    TenantId,
    UnixMillis,
)
from decision_gate.core.runlog import LogKind


def two_stage_run() -> RunDriver:
    """E1/E2: stage-1 gated on `ready` (linear) → stage-2 with one packet, terminal."""
    spec = scenario_json(
        [
            ready_gate_stage(),
            stage("stage-2", advance_to={"kind": "terminal"}, entry_packets=[packet("packet-1")]),
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()
    return driver


def test_e1_replayed_next_returns_the_same_advance_with_its_packet() -> None:
    driver = two_stage_run()

    first = driver.next("trigger-1", at(1))
    second = driver.next("trigger-1", at(1))

    assert first.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=False)
    assert len(first.packets) == 1
    assert second == first


def test_e1_status_lists_the_packet_issued_once() -> None:
    driver = two_stage_run()
    driver.next("trigger-1", at(1))
    driver.next("trigger-1", at(1))

    status = driver.status(at(2))

    assert status.issued_packet_ids == ("packet-1",)
    assert status.current_stage_id == "stage-2"


def test_e2_next_trigger_on_the_terminal_stage_completes_the_run() -> None:
    driver = two_stage_run()

    first = driver.next("trigger-1", at(1))
    second = driver.next("trigger-2", at(2))

    assert first.status is RunStatus.ACTIVE
    assert second.decision.outcome == CompleteOutcome("stage-2")
    assert second.status is RunStatus.COMPLETED
    assert driver.run.status is RunStatus.COMPLETED


def test_e3_advance_records_the_trigger_time_as_the_stage_entry_time() -> None:
    spec = scenario_json([ready_gate_stage(), stage("stage-2")], [READY])
    driver = RunDriver(compile_json(spec), provider={"ready": evidence(True)})
    driver.start()

    advanced = driver.trigger("trigger-1", at(1))

    assert advanced.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=False)
    assert driver.run.stage_entered_at == at(1)
    assert driver.run.status is RunStatus.ACTIVE


def test_e3_trigger_on_the_last_linear_stage_completes_the_run() -> None:
    spec = scenario_json([ready_gate_stage(), stage("stage-2")], [READY])
    driver = RunDriver(compile_json(spec), provider={"ready": evidence(True)})
    driver.start()
    driver.trigger("trigger-1", at(1))

    completed = driver.trigger("trigger-2", at(2))

    assert completed.decision.outcome == CompleteOutcome("stage-2")
    assert completed.status is RunStatus.COMPLETED


def test_a_false_gate_holds_the_run_instead_of_failing_it() -> None:
    spec = scenario_json([ready_gate_stage(), stage("stage-2")], [READY])
    driver = RunDriver(compile_json(spec), provider=always(evidence(False)))
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert isinstance(result.decision.outcome, HoldOutcome)
    assert result.status is RunStatus.ACTIVE
    assert driver.run.current_stage_id == "stage-1"


def branch_run(rules: list[tuple[str, str, str]], default: str | None) -> RunDriver:
    """stage-1 with gate-1 (true) branching; every other stage is an empty terminal."""
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", {"Condition": "ready"})],
                advance_to=branch(rules, default),
            ),
            *(
                stage(stage_id, advance_to={"kind": "terminal"})
                for stage_id in ("stage-2", "stage-a", "stage-b", "stage-default")
            ),
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()
    return driver


def test_e5_the_first_matching_branch_rule_wins() -> None:
    driver = branch_run(
        [("gate-1", "true", "stage-a"), ("gate-1", "true", "stage-b")], "stage-default"
    )

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-a", timeout=False)


def test_e6_a_branch_with_no_matching_rule_takes_the_default() -> None:
    driver = branch_run([("gate-1", "false", "stage-2")], "stage-default")

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-default", timeout=False)


def test_e7_a_branch_with_no_match_and_no_default_is_an_error_that_records_nothing() -> None:
    driver = branch_run([("gate-1", "false", "stage-2")], None)
    before = driver.run

    with pytest.raises(GateResolutionFailed, match="gate resolution failed: no branch matched"):
        driver.trigger("trigger-1", at(1))

    assert driver.run == before
    assert all(not records for records in driver.logs.values())


def test_e8_a_stage_without_gates_advances_on_the_first_trigger() -> None:
    driver = RunDriver(compile_json(scenario_json([stage("stage-1"), stage("stage-2")])))
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=False)
    assert driver.provider_calls == []


def test_e9_an_expired_stage_with_policy_fail_fails_the_run() -> None:
    spec = scenario_json(
        [ready_gate_stage(advance_to={"kind": "terminal"}, timeout_ms=5, on_timeout="fail")],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    result = driver.tick("tick-1", at(10))

    assert result.decision.outcome == FailOutcome("timeout")
    assert result.status is RunStatus.FAILED
    assert driver.logs[LogKind.GATE_EVALS] == []


def test_e10_advance_with_flag_moves_on_with_the_timeout_flag_set() -> None:
    spec = scenario_json(
        [stage("stage-1", timeout_ms=5, on_timeout="advance_with_flag"), stage("stage-2")]
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    result = driver.tick("tick-1", at(10))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=True)
    assert driver.run.current_stage_id == "stage-2"
    assert driver.run.stage_entered_at == at(10)


def test_e11_alternate_branch_routes_on_unknown_without_evaluating_the_gate() -> None:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", {"Condition": "ready"})],
                advance_to=branch([("gate-1", "unknown", "stage-timeout")], "stage-default"),
                timeout_ms=5,
                on_timeout="alternate_branch",
            ),
            stage("stage-timeout", advance_to={"kind": "terminal"}),
            stage("stage-default", advance_to={"kind": "terminal"}),
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    result = driver.tick("tick-1", at(10))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-timeout", timeout=True)
    assert driver.logs[LogKind.GATE_EVALS] == []
    assert driver.provider_calls == []


def test_e12_a_tick_before_the_deadline_evaluates_normally() -> None:
    spec = scenario_json([stage("stage-1", timeout_ms=10, on_timeout="fail"), stage("stage-2")])
    driver = RunDriver(compile_json(spec))
    driver.start()

    result = driver.tick("tick-1", at(5))

    assert result.decision.outcome == AdvanceOutcome("stage-1", "stage-2", timeout=False)


def test_a_late_trigger_that_is_not_a_tick_never_times_out() -> None:
    spec = scenario_json(
        [ready_gate_stage(timeout_ms=5, on_timeout="fail"), stage("stage-2")], [READY]
    )
    driver = RunDriver(compile_json(spec), provider=always(evidence(False)))
    driver.start()

    result = driver.trigger("trigger-1", at(1000))

    assert isinstance(result.decision.outcome, HoldOutcome)


def test_a_tick_of_another_timestamp_kind_is_an_error_that_records_nothing() -> None:
    spec = scenario_json([stage("stage-1", timeout_ms=5, on_timeout="fail")])
    driver = RunDriver(compile_json(spec))
    driver.start()
    before = driver.run

    with pytest.raises(TriggerTimeMismatch, match="matching timestamp kinds"):
        driver.tick("tick-1", UnixMillis(I64(10)))

    assert driver.run == before


class DenyAll:
    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool:
        return False


class CountingDispatcher:
    """The recording dispatcher, counting how often it is asked to deliver."""

    def __init__(self) -> None:
        self.calls = 0

    def dispatch(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> DispatchReceipt:
        self.calls += 1
        return RecordingDispatcher().dispatch(target, envelope, payload)


def test_e13_a_denied_disclosure_fails_the_run_without_dispatching() -> None:
    spec = scenario_json(
        [
            ready_gate_stage(advance_to={"kind": "fixed", "stage_id": "stage-2"}),
            stage("stage-2", entry_packets=[packet("packet-1")]),
        ],
        [READY],
    )
    dispatcher = CountingDispatcher()
    driver = RunDriver(compile_json(spec), policy=DenyAll(), dispatcher=dispatcher)
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == FailOutcome("policy denied disclosure")
    assert result.status is RunStatus.FAILED
    assert driver.run.current_stage_id == "stage-1"
    assert len(driver.logs[LogKind.TOOL_CALLS]) == 1
    assert driver.packets == []
    assert dispatcher.calls == 0


def test_an_advance_dispatches_each_entry_packet_to_each_target() -> None:
    spec = scenario_json(
        [ready_gate_stage(), stage("stage-2", entry_packets=[packet("packet-1")])], [READY]
    )
    dispatcher = CountingDispatcher()
    driver = RunDriver(compile_json(spec), dispatcher=dispatcher)
    driver.start()

    result = driver.trigger("trigger-1", at(1), correlation_id="corr-1")

    (issued,) = result.packets
    assert dispatcher.calls == 1
    assert issued.decision_id == result.decision.decision_id
    assert issued.envelope.issued_at == at(1)
    assert issued.envelope.correlation_id == "corr-1"
    assert len(issued.receipts) == 1


class CrashingDecider:
    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool:
        raise RuntimeError("decider crashed")


class UnreachableDispatcher:
    def dispatch(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> DispatchReceipt:
        raise RuntimeError("network down")


def test_a_policy_decider_that_raises_fails_the_disclosure_closed() -> None:
    spec = scenario_json([stage("stage-1"), stage("stage-2", entry_packets=[packet("packet-1")])])
    driver = RunDriver(compile_json(spec), policy=CrashingDecider())
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == FailOutcome("policy decision error: decider crashed")
    assert result.status is RunStatus.FAILED


def test_a_dispatcher_that_raises_fails_the_run_with_the_dispatch_error() -> None:
    spec = scenario_json([stage("stage-1"), stage("stage-2", entry_packets=[packet("packet-1")])])
    driver = RunDriver(compile_json(spec), dispatcher=UnreachableDispatcher())
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == FailOutcome("dispatch error: network down")
    assert driver.packets == []


def test_an_entry_packet_over_two_mebibytes_fails_the_advance() -> None:
    oversized = packet("packet-1", "x" * (2 * 1024 * 1024))
    spec = scenario_json([stage("stage-1"), stage("stage-2", entry_packets=[oversized])])
    driver = RunDriver(compile_json(spec))
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert result.decision.outcome == FailOutcome("payload exceeds size limit (2097154 > 2097152)")
    assert driver.run.current_stage_id == "stage-1"


def test_a_denied_initial_disclosure_aborts_the_start() -> None:
    spec = scenario_json([stage("stage-1", entry_packets=[packet("packet-1")])])
    driver = RunDriver(compile_json(spec), policy=DenyAll())

    with pytest.raises(PolicyDenied):
        driver.start(issue_entry_packets=True)

    assert driver.head is None


def test_without_initial_dispatch_the_first_stage_packets_are_never_issued() -> None:
    spec = scenario_json([stage("stage-1", entry_packets=[packet("packet-1")]), stage("stage-2")])
    driver = RunDriver(compile_json(spec))

    delta = driver.start()
    driver.trigger("trigger-1", at(1))

    assert delta.records == ()
    assert delta.previous_version == 0
    assert driver.packets == []


def test_a_start_for_another_scenario_is_rejected() -> None:
    scenario = compile_json(scenario_json([stage("stage-1")]))
    config = RunConfig(TenantId(1), NamespaceId(1), "run-1", "other", (), ())

    with pytest.raises(ScenarioMismatch, match="scenario mismatch for run: other"):
        start_run(scenario, config, at(0), False)


def test_a_start_in_another_namespace_is_rejected() -> None:
    scenario = compile_json(scenario_json([stage("stage-1")]))
    config = RunConfig(TenantId(1), NamespaceId(2), "run-1", "scenario", (), ())

    with pytest.raises(NamespaceMismatch) as raised:
        start_run(scenario, config, at(0), False)

    assert str(raised.value) == "namespace mismatch for run: 2"


def test_a_tick_exactly_at_the_deadline_times_out() -> None:
    spec = scenario_json([stage("stage-1", timeout_ms=5, on_timeout="fail")])
    driver = RunDriver(compile_json(spec))
    driver.start()

    assert driver.tick("tick-1", at(5)).decision.outcome == FailOutcome("timeout")


def test_advance_with_flag_on_a_terminal_stage_completes_the_run() -> None:
    spec = scenario_json(
        [
            ready_gate_stage(
                advance_to={"kind": "terminal"}, timeout_ms=5, on_timeout="advance_with_flag"
            )
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec), provider=always(evidence(False)))
    driver.start()

    result = driver.tick("tick-1", at(5))

    assert result.decision.outcome == CompleteOutcome("stage-1")
    assert result.status is RunStatus.COMPLETED


def test_alternate_branch_without_an_unknown_rule_or_default_is_an_error() -> None:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", cond("ready"))],
                advance_to=branch([("gate-1", "true", "stage-2")], None),
                timeout_ms=5,
                on_timeout="alternate_branch",
            ),
            stage("stage-2"),
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    with pytest.raises(GateResolutionFailed):
        driver.tick("tick-1", at(5))

    assert driver.logs[LogKind.TRIGGERS] == []


def test_a_deadline_beyond_the_timestamp_range_is_an_error() -> None:
    spec = scenario_json([stage("stage-1", timeout_ms=5, on_timeout="fail")])
    driver = RunDriver(compile_json(spec))
    driver.start(started_at=UnixMillis(I64(2**63 - 3)))

    with pytest.raises(TimeoutCalculation, match="overflows"):
        driver.tick("tick-1", UnixMillis(I64(2**63 - 1)))


def test_a_hold_lists_every_unmet_gate_in_stage_order() -> None:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [
                    gate("gate-z", cond("no")),
                    gate("gate-met", cond("ready")),
                    gate("gate-a", cond("unknown")),
                ],
            )
        ],
        [READY, condition("no"), condition("unknown")],
    )
    driver = RunDriver(
        compile_json(spec), provider={"ready": evidence(True), "no": evidence(False)}
    )
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    assert isinstance(result.decision.outcome, HoldOutcome)
    assert result.decision.outcome.summary.unmet_gates == ("gate-z", "gate-a")


def test_a_trigger_for_another_run_is_rejected() -> None:
    driver = RunDriver(compile_json(scenario_json([stage("stage-1"), stage("stage-2")])))
    driver.start()
    foreign = attrs.evolve(driver.event("trigger-1", at(1)), run_id="run-2")

    with pytest.raises(RunMismatch, match="trigger run mismatch: run-2"):
        driver.fire(foreign, method="scenario.trigger", request=foreign)
