"""Properties of the engine that hold for every input, checked with hypothesis:

* evidence arrival order (the insertion order of the evidence mapping, or the
  provider call order a shuffle seed picks) never changes a byte of what is appended;
* the same inputs give the same deltas (the engine is a function);
* however a run is driven, decision seqs run 1..n and call ids call-1..call-n;
* a trigger's cost does not grow with the run: the 1000th trigger of a hold loop
  appends the same records as the 10th, up to its counters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_gate.core.canonical import canonical_json_bytes
from decision_gate.core.engine import (
    DeterministicShuffle,
    EngineConfig,
    EvidenceOutcome,
    ProviderFailure,
    apply_trigger,
    plan_trigger,
)
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceResult, JsonPayload, RunStatus, TrustLane
from decision_gate.core.runlog import LogKind, RunDelta, head_to_json

CONDITIONS = ("c0", "c1", "c2", "c3", "c4")

# Three gates over five conditions of different comparators, sharing c1 and c3, so
# evidence is duplicated across gate records and every connective is exercised.
SCENARIO = compile_json(
    scenario_json(
        [
            stage(
                "stage-1",
                [
                    gate("gate-a", {"And": [cond("c0"), cond("c1")]}),
                    gate("gate-b", {"Or": [cond("c2"), {"Not": cond("c3")}]}),
                    gate(
                        "gate-c",
                        {"RequireGroup": {"min": 2, "reqs": [cond("c1"), cond("c3"), cond("c4")]}},
                    ),
                ],
                entry_packets=[packet("packet-1")],
            ),
            stage(
                "stage-2",
                [gate("gate-d", cond("c0"))],
                entry_packets=[packet("packet-2")],
            ),
        ],
        [
            condition("c0", provider_id="alpha"),
            condition("c1", provider_id="beta", comparator="greater_than", expected=3),
            condition("c2", provider_id="alpha", comparator="in_set", expected=["a", "b"]),
            condition("c3", provider_id="gamma", comparator="exists", expected=None),
            condition("c4", provider_id="beta", comparator="not_equals", expected="x"),
        ],
    )
)

ALL_TRUE: dict[str, EvidenceOutcome] = {
    "c0": evidence(True),
    "c1": evidence(5),
    "c2": evidence("a"),
    "c3": evidence(None),
    "c4": evidence("y"),
}

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.sampled_from(["a", "b", "x", "y"]),
    st.lists(st.integers(0, 3), max_size=2),
)
answers: st.SearchStrategy[EvidenceOutcome | None] = st.one_of(
    st.none(),
    st.builds(ProviderFailure, st.sampled_from(["down", "timeout"])),
    st.builds(
        EvidenceResult,
        value=st.builds(JsonEvidence, json_values),
        lane=st.sampled_from(TrustLane),
        content_type=st.sampled_from([None, "application/json"]),
    ),
)
evidence_sets = st.fixed_dictionaries(dict.fromkeys(CONDITIONS, answers)).map(
    lambda chosen: {cid: answer for cid, answer in chosen.items() if answer is not None}
)


def started(config: EngineConfig | None = None) -> RunDriver:
    driver = RunDriver(SCENARIO, config=config or EngineConfig())
    driver.start(issue_entry_packets=True)
    return driver


def appended_bytes(delta: RunDelta) -> list[tuple[LogKind, int, bytes]]:
    return [(record.kind, record.seq, record.canonical) for record in delta.records]


def decide(driver: RunDriver, supplied: Mapping[str, EvidenceOutcome]) -> RunDelta:
    event = driver.event("trigger-1", at(7), correlation_id="corr")
    delta, _ = apply_trigger(
        SCENARIO,
        driver.run,
        event,
        method="scenario.trigger",
        request=event,
        prior=None,
        evidence=supplied,
        config=driver.config,
    )
    return delta


@settings(max_examples=75, deadline=None)
@given(supplied=evidence_sets, data=st.data())
def test_the_insertion_order_of_evidence_never_changes_a_byte(
    supplied: dict[str, EvidenceOutcome], data: st.DataObject
) -> None:
    driver = started()
    order = data.draw(st.permutations(sorted(supplied)))
    reordered = {cid: supplied[cid] for cid in order}

    in_spec_order = decide(driver, dict(sorted(supplied.items())))
    in_arrival_order = decide(driver, reordered)

    assert appended_bytes(in_arrival_order) == appended_bytes(in_spec_order)
    assert in_arrival_order.head == in_spec_order.head


@settings(max_examples=50, deadline=None)
@given(supplied=evidence_sets, seed=st.integers(0, 2**64 - 1))
def test_the_provider_call_order_a_seed_picks_never_changes_a_byte(
    supplied: dict[str, EvidenceOutcome], seed: int
) -> None:
    in_spec_order, shuffled = (
        started(),
        started(EngineConfig(condition_eval_order=DeterministicShuffle(seed))),
    )

    in_spec_order.trigger("trigger-1", at(7), provider=supplied)
    shuffled.trigger("trigger-1", at(7), provider=supplied)

    assert sorted(r.condition_id for r in shuffled.provider_calls) == sorted(CONDITIONS)
    for kind in LogKind:
        assert shuffled.artifact(kind) == in_spec_order.artifact(kind)
    assert shuffled.run == in_spec_order.run


@settings(max_examples=50, deadline=None)
@given(supplied=evidence_sets)
def test_the_same_inputs_give_identical_deltas(supplied: dict[str, EvidenceOutcome]) -> None:
    driver = started()
    event = driver.event("trigger-1", at(7))

    assert plan_trigger(SCENARIO, driver.run, event, None) == plan_trigger(
        SCENARIO, driver.run, event, None
    )
    first, second = decide(driver, supplied), decide(driver, supplied)
    assert first == second
    assert appended_bytes(first) == appended_bytes(second)


# One step of driving a run: a trigger with some evidence, a replay of an earlier
# trigger id, a status call, or a submission.
steps = st.one_of(
    st.tuples(st.just("trigger"), evidence_sets),
    st.tuples(st.just("replay"), st.integers(0, 20)),
    st.tuples(st.just("status"), st.none()),
    st.tuples(st.just("submit"), st.integers(0, 3)),
)


def drive(driver: RunDriver, plan: list[tuple[str, Any]]) -> None:
    """Follow `plan`, then trigger with all-true evidence until the run completes."""
    fired = 0
    for number, (step, argument) in enumerate(plan, start=1):
        if step == "trigger":
            fired += 1
            driver.trigger(f"trigger-{fired}", at(number), provider=argument)
        elif step == "replay":
            driver.trigger(f"trigger-{argument % (fired + 1)}", at(number))
        elif step == "status":
            driver.status(at(number))
        else:
            driver.submit(f"submission-{argument}", JsonPayload(argument), at(number))
    while driver.run.status is RunStatus.ACTIVE:
        fired += 1
        driver.trigger(f"trigger-{fired}", at(100 + fired), provider=ALL_TRUE)


@settings(max_examples=60, deadline=None)
@given(plan=st.lists(steps, max_size=12))
def test_a_run_driven_to_completion_numbers_decisions_and_calls_without_gaps(
    plan: list[tuple[str, Any]],
) -> None:
    driver = started()

    drive(driver, plan)

    decisions = driver.decisions
    calls = driver.logs[LogKind.TOOL_CALLS]
    assert [d.seq for d in decisions] == list(range(1, len(decisions) + 1))
    assert [d.decision_id for d in decisions] == [
        f"decision-{n}" for n in range(1, len(decisions) + 1)
    ]
    assert [c.call_id for c in calls] == [f"call-{n}" for n in range(1, len(calls) + 1)]
    assert driver.run.status is RunStatus.COMPLETED


@settings(max_examples=30, deadline=None)
@given(plan=st.lists(steps, max_size=12))
def test_driving_the_same_plan_twice_gives_the_same_run(plan: list[tuple[str, Any]]) -> None:
    first, second = started(), started()

    drive(first, plan)
    drive(second, plan)

    for kind in LogKind:
        assert first.artifact(kind) == second.artifact(kind)
    assert first.run == second.run


COUNTERS = re.compile(rb"[0-9a-f]{64}|\d+")


def without_counters(delta: RunDelta) -> list[tuple[LogKind, bytes]]:
    """The appended records with every hash and number blanked: what a trigger
    appends apart from its sequence numbers, ids and times."""
    return [(r.kind, COUNTERS.sub(b"#", r.canonical)) for r in delta.records]


def test_the_thousandth_trigger_of_a_hold_loop_appends_what_the_tenth_did() -> None:
    driver = RunDriver(
        compile_json(
            scenario_json([stage("stage-1", [gate("gate-1", cond("ready"))])], [condition("ready")])
        ),
        provider={"ready": evidence(False)},
    )
    driver.start()
    appended: dict[int, RunDelta] = {}
    for n in range(1, 1001):
        driver.trigger(f"trigger-{n}", at(n))
        appended[n] = driver.last_delta

    tenth, thousandth = appended[10], appended[1000]
    assert [r.kind for r in thousandth.records] == [
        LogKind.TRIGGERS,
        LogKind.GATE_EVALS,
        LogKind.DECISIONS,
        LogKind.TOOL_CALLS,
    ]
    assert without_counters(thousandth) == without_counters(tenth)
    assert head_without_counters(thousandth) == head_without_counters(tenth)


def head_without_counters(delta: RunDelta) -> bytes:
    return COUNTERS.sub(b"#", canonical_json_bytes(head_to_json(delta.head)))
