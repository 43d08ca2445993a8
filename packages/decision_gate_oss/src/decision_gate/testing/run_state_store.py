"""Conformance suite: the behaviour every `RunStateStore` must show.

Activate it in a test module of yours with
`from decision_gate.testing.run_state_store import *` next to a
`run_state_store` fixture that yields a fresh, empty store (and closes it).
Pinned down: compare-and-set commits (exactly one of concurrent writers wins,
a loser stores nothing), refusal of inconsistent deltas, hash-checked reads,
append-order logs, immutable scenario definitions. Uses nothing but the seam,
`core.runlog` and the model. Needs pytest, pytest-asyncio (asyncio_mode =
"auto") and hypothesis.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision_gate.core.canonical import HashDigest, canonical_json_bytes, hash_bytes
from decision_gate.core.errors import (
    Conflict,
    NotFound,
    StoreCorrupt,
    StoreError,
    StoreVersionConflict,
)
from decision_gate.core.model import (
    U64,
    DecisionRecord,
    GateEvalRecord,
    GateEvaluation,
    HoldOutcome,
    JsonPayload,
    Logical,
    NamespaceId,
    PacketEnvelope,
    PacketRecord,
    SafeSummary,
    StartOutcome,
    SubmissionRecord,
    TenantId,
    ToolCallRecord,
    TriggerEvent,
    TriggerKind,
    TriggerRecord,
    VisibilityPolicy,
)
from decision_gate.core.runlog import LogKind, RunDelta, RunHead, RunKey, append_records, new_head
from decision_gate.core.tristate import TriState
from decision_gate.seams.run_state import RunStateStore

SPEC_HASH = hash_bytes(b"scenario spec")

# --------------------------------------------------------------------------- building runs


def fresh_head(run_id: str = "run-1", tenant_id: int = 1, namespace_id: int = 1) -> RunHead:
    return new_head(
        tenant_id=TenantId(tenant_id),
        namespace_id=NamespaceId(namespace_id),
        run_id=run_id,
        scenario_id="scenario-1",
        spec_hash=SPEC_HASH,
        current_stage_id="stage-1",
        stage_entered_at=Logical(U64(0)),
        dispatch_targets=(),
    )


def trigger_record(head: RunHead, trigger_id: str) -> TriggerRecord:
    seq = head.counts.triggers + 1
    event = TriggerEvent(
        trigger_id=trigger_id,
        tenant_id=head.tenant_id,
        namespace_id=head.namespace_id,
        run_id=head.run_id,
        kind=TriggerKind.TICK,
        time=Logical(U64(seq)),
        source_id="contract",
    )
    return TriggerRecord(seq=U64(seq), event=event)


def gate_eval_record(trigger_id: str, gate_id: str = "gate-1") -> GateEvalRecord:
    return GateEvalRecord(
        trigger_id=trigger_id,
        stage_id="stage-1",
        evaluation=GateEvaluation(gate_id=gate_id, status=TriState.UNKNOWN, trace=()),
        evidence=(),
    )


def decision_record(
    head: RunHead, trigger_id: str, decision_id: str | None = None
) -> DecisionRecord:
    seq = head.counts.decisions + 1
    return DecisionRecord(
        decision_id=decision_id or f"decision-{seq}",
        seq=U64(seq),
        trigger_id=trigger_id,
        stage_id="stage-1",
        decided_at=Logical(U64(seq)),
        outcome=HoldOutcome(
            SafeSummary(status="hold", unmet_gates=("gate-1",), retry_hint=None, policy_tags=())
        ),
    )


def packet_record(packet_id: str, decision_id: str, value: Any = None) -> PacketRecord:
    payload = JsonPayload(value if value is not None else {"packet": packet_id})
    envelope = PacketEnvelope(
        scenario_id="scenario-1",
        run_id="run-1",
        stage_id="stage-1",
        packet_id=packet_id,
        schema_id="schema-1",
        content_type="application/json",
        content_hash=hash_bytes(packet_id.encode()),
        visibility=VisibilityPolicy(labels=(), policy_tags=()),
        expiry=None,
        correlation_id=None,
        issued_at=Logical(U64(1)),
    )
    return PacketRecord(envelope=envelope, payload=payload, receipts=(), decision_id=decision_id)


def submission_record(submission_id: str, value: Any = "submitted") -> SubmissionRecord:
    return SubmissionRecord(
        submission_id=submission_id,
        run_id="run-1",
        payload=JsonPayload(value),
        content_type="application/json",
        content_hash=hash_bytes(submission_id.encode()),
        submitted_at=Logical(U64(1)),
    )


def tool_call_record(head: RunHead, method: str = "scenario.status") -> ToolCallRecord:
    return ToolCallRecord(
        call_id=f"call-{head.counts.tool_calls + 1}",
        method=method,
        request_hash=hash_bytes(b"request"),
        response_hash=hash_bytes(b"response"),
        called_at=Logical(U64(1)),
    )


def trigger_delta(
    head: RunHead,
    trigger_id: str,
    packet_ids: Iterable[str] = (),
    gate_ids: Iterable[str] = ("gate-1",),
) -> RunDelta:
    """What the engine appends for one evaluated trigger: trigger, one gate eval
    per gate, decision, its packets and the tool call."""
    decision = decision_record(head, trigger_id)
    appended: list[tuple[LogKind, Any]] = [
        (LogKind.TRIGGERS, trigger_record(head, trigger_id)),
        *((LogKind.GATE_EVALS, gate_eval_record(trigger_id, gate_id)) for gate_id in gate_ids),
        (LogKind.DECISIONS, decision),
        *((LogKind.PACKETS, packet_record(p, decision.decision_id)) for p in packet_ids),
        (LogKind.TOOL_CALLS, tool_call_record(head, "scenario.trigger")),
    ]
    return append_records(head, appended, last_decision=decision)


async def create_run(store: RunStateStore, head: RunHead | None = None) -> RunHead:
    delta = append_records(head or fresh_head(), [])
    await store.commit(delta)
    return delta.head


async def apply(store: RunStateStore, delta: RunDelta) -> RunHead:
    await store.commit(delta)
    return delta.head


def scenario_json(scenario_id: str, spec_version: str = "1") -> Any:
    return {"scenario_id": scenario_id, "namespace_id": 1, "spec_version": spec_version}


def scenario_hash(spec: Any) -> HashDigest:
    return hash_bytes(canonical_json_bytes(spec))


async def collect(store: RunStateStore, key: RunKey, kind: LogKind) -> list[Any]:
    return [record async for record in store.read_log(key, kind)]


# --------------------------------------------------------------------------- the seam


async def test_store_implements_the_run_state_store_protocol(
    run_state_store: RunStateStore,
) -> None:
    assert isinstance(run_state_store, RunStateStore)


async def test_store_is_ready_when_open(run_state_store: RunStateStore) -> None:
    await run_state_store.readiness()


async def test_closed_store_refuses_every_call(run_state_store: RunStateStore) -> None:
    await run_state_store.close()
    await run_state_store.close()
    with pytest.raises(StoreError):
        await run_state_store.readiness()
    with pytest.raises(StoreError):
        await run_state_store.load_head(fresh_head().key)


# --------------------------------------------------------------------------- heads and commits


async def test_unknown_run_has_no_head(run_state_store: RunStateStore) -> None:
    assert await run_state_store.load_head(fresh_head().key) is None


async def test_created_run_reads_back_its_head(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    assert await run_state_store.load_head(head.key) == head
    assert head.version == 1


async def test_committed_delta_replaces_the_head(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1", ["p-1"]))
    assert await run_state_store.load_head(head.key) == head
    assert head.version == 2


async def test_creating_a_run_that_exists_is_a_version_conflict(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    with pytest.raises(StoreVersionConflict):
        await create_run(run_state_store, attrs.evolve(fresh_head(), current_stage_id="other"))
    assert await run_state_store.load_head(head.key) == head


async def test_commit_from_a_stale_version_is_refused_and_stores_nothing(
    run_state_store: RunStateStore,
) -> None:
    created = await create_run(run_state_store)
    current = await apply(run_state_store, trigger_delta(created, "t-1"))
    with pytest.raises(StoreVersionConflict):
        await run_state_store.commit(trigger_delta(created, "t-stale"))
    assert await run_state_store.load_head(current.key) == current
    assert await run_state_store.find_decision(current.key, "t-stale") is None
    assert await run_state_store.gate_evals_for_trigger(current.key, "t-stale") == ()
    assert await run_state_store.verify_run(current.key) == []


async def test_commit_to_an_unknown_run_from_a_nonzero_version_is_a_version_conflict(
    run_state_store: RunStateStore,
) -> None:
    phantom = attrs.evolve(fresh_head(), version=3)
    with pytest.raises(StoreVersionConflict):
        await run_state_store.commit(append_records(phantom, []))
    assert await run_state_store.list_runs() == []


async def test_of_concurrent_commits_from_one_version_exactly_one_wins(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    deltas = [trigger_delta(head, f"t-{n}") for n in range(8)]
    outcomes = await asyncio.gather(
        *(run_state_store.commit(delta) for delta in deltas), return_exceptions=True
    )
    winners = [delta for delta, outcome in zip(deltas, outcomes, strict=True) if outcome is None]
    assert len(winners) == 1
    assert all(isinstance(o, StoreVersionConflict) for o in outcomes if o is not None)
    assert await run_state_store.load_head(head.key) == winners[0].head
    assert await run_state_store.verify_run(head.key) == []


async def test_delta_whose_head_skips_a_version_is_refused(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    delta = trigger_delta(head, "t-1")
    skipping = attrs.evolve(delta, head=attrs.evolve(delta.head, version=head.version + 2))
    with pytest.raises(StoreError):
        await run_state_store.commit(skipping)
    assert await run_state_store.load_head(head.key) == head


async def test_delta_whose_record_digest_does_not_match_its_bytes_is_refused(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    delta = trigger_delta(head, "t-1")
    forged = attrs.evolve(delta.records[0], digest=hash_bytes(b"something else"))
    with pytest.raises(StoreError):
        await run_state_store.commit(attrs.evolve(delta, records=(forged, *delta.records[1:])))
    assert await run_state_store.load_head(head.key) == head
    assert await collect(run_state_store, head.key, LogKind.TRIGGERS) == []


async def test_delta_that_does_not_continue_the_stored_logs_is_refused(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    skipped = attrs.evolve(head, counts=head.counts.plus(LogKind.TRIGGERS, 2))
    with pytest.raises(StoreError):
        await run_state_store.commit(trigger_delta(skipped, "t-1"))
    assert await run_state_store.load_head(head.key) == head


async def test_runs_with_the_same_id_in_other_tenants_and_namespaces_are_separate(
    run_state_store: RunStateStore,
) -> None:
    heads = [
        await create_run(run_state_store, fresh_head("run-1", tenant, namespace))
        for tenant, namespace in [(1, 1), (2, 1), (1, 2), (2**64 - 1, 2**64 - 1)]
    ]
    first = await apply(run_state_store, trigger_delta(heads[0], "t-1"))
    assert await run_state_store.find_decision(first.key, "t-1") is not None
    for other in heads[1:]:
        assert await run_state_store.load_head(other.key) == other
        assert await run_state_store.find_decision(other.key, "t-1") is None
    assert await run_state_store.list_runs() == sorted(head.key for head in heads)


# --------------------------------------------------------------------------- indexed lookups


async def test_find_decision_returns_the_first_decision_taken_for_a_trigger(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1"))
    first = head.last_decision
    head = await apply(run_state_store, trigger_delta(head, "t-2"))
    head = await apply(run_state_store, trigger_delta(head, "t-1"))
    assert first is not None
    assert await run_state_store.find_decision(head.key, "t-1") == first
    assert await run_state_store.find_decision(head.key, "t-2") == attrs.evolve(
        first, decision_id="decision-2", seq=U64(2), trigger_id="t-2", decided_at=Logical(U64(2))
    )


async def test_find_decision_of_an_unseen_trigger_or_run_is_none(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1"))
    assert await run_state_store.find_decision(head.key, "t-unseen") is None
    assert await run_state_store.find_decision(fresh_head("other").key, "t-1") is None


async def test_gate_evals_for_trigger_are_that_triggers_evaluations_in_chain_order(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1", gate_ids=["g-b", "g-a"]))
    head = await apply(run_state_store, trigger_delta(head, "t-2", gate_ids=["g-c"]))
    head = await apply(run_state_store, trigger_delta(head, "t-3", gate_ids=[]))
    assert await run_state_store.gate_evals_for_trigger(head.key, "t-1") == (
        gate_eval_record("t-1", "g-b"),
        gate_eval_record("t-1", "g-a"),
    )
    assert await run_state_store.gate_evals_for_trigger(head.key, "t-2") == (
        gate_eval_record("t-2", "g-c"),
    )
    assert await run_state_store.gate_evals_for_trigger(head.key, "t-3") == ()


async def test_gate_evals_for_an_unseen_trigger_or_run_are_empty(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1"))
    assert await run_state_store.gate_evals_for_trigger(head.key, "t-unseen") == ()
    assert await run_state_store.gate_evals_for_trigger(fresh_head("other").key, "t-1") == ()


async def test_packets_for_decision_are_that_decisions_packets_in_chain_order(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1", ["p-b", "p-a", "p-c"]))
    head = await apply(run_state_store, trigger_delta(head, "t-2", ["p-d"]))
    packets = await run_state_store.packets_for_decision(head.key, "decision-1")
    assert [p.envelope.packet_id for p in packets] == ["p-b", "p-a", "p-c"]
    assert packets[0] == packet_record("p-b", "decision-1")
    assert await run_state_store.packets_for_decision(head.key, "decision-9") == ()


async def test_find_submission_returns_the_stored_submission(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    for submission_id in ("s-1", "s-2"):
        head = await apply(
            run_state_store,
            append_records(
                head,
                [
                    (LogKind.SUBMISSIONS, submission_record(submission_id, [submission_id])),
                    (LogKind.TOOL_CALLS, tool_call_record(head, "scenario.submit")),
                ],
            ),
        )
    assert await run_state_store.find_submission(head.key, "s-2") == submission_record(
        "s-2", ["s-2"]
    )
    assert await run_state_store.find_submission(head.key, "s-3") is None


async def test_packet_ids_lists_every_issued_packet_in_order(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    assert await run_state_store.packet_ids(head.key) == ()
    head = await apply(run_state_store, trigger_delta(head, "t-1", ["p-2", "p-1"]))
    head = await apply(run_state_store, trigger_delta(head, "t-2"))
    head = await apply(run_state_store, trigger_delta(head, "t-3", ["p-3"]))
    assert await run_state_store.packet_ids(head.key) == ("p-2", "p-1", "p-3")


# --------------------------------------------------------------------------- logs and full views


async def test_read_log_streams_one_log_in_sequence_order(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    expected = []
    for n in range(300):
        delta = trigger_delta(head, f"t-{n}")
        expected.append(delta.records[0].record)
        head = await apply(run_state_store, delta)
    assert await collect(run_state_store, head.key, LogKind.TRIGGERS) == expected
    assert await collect(run_state_store, head.key, LogKind.SUBMISSIONS) == []


async def test_read_log_of_an_unknown_run_yields_nothing(run_state_store: RunStateStore) -> None:
    assert await collect(run_state_store, fresh_head().key, LogKind.DECISIONS) == []


async def test_read_log_stops_at_the_head_it_started_from(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1"))
    stream = run_state_store.read_log(head.key, LogKind.TRIGGERS)
    first = await anext(stream)
    await apply(run_state_store, trigger_delta(head, "t-2"))
    assert first.event.trigger_id == "t-1"
    assert [record async for record in stream] == []


async def test_load_state_is_the_full_run_in_chain_order(run_state_store: RunStateStore) -> None:
    head = await create_run(run_state_store)
    deltas = []
    for n in range(3):
        deltas.append(trigger_delta(head, f"t-{n}", [f"p-{n}"]))
        head = await apply(run_state_store, deltas[-1])
    state = await run_state_store.load_state(head.key)
    assert state is not None
    assert (state.run_id, state.current_stage_id, state.status) == (
        head.run_id,
        head.current_stage_id,
        head.status,
    )

    def appended(kind: LogKind) -> tuple[Any, ...]:
        return tuple(r.record for d in deltas for r in d.records if r.kind is kind)

    assert state.triggers == appended(LogKind.TRIGGERS)
    assert state.gate_evals == appended(LogKind.GATE_EVALS)
    assert state.decisions == appended(LogKind.DECISIONS)
    assert state.packets == appended(LogKind.PACKETS)
    assert state.tool_calls == appended(LogKind.TOOL_CALLS)
    assert state.submissions == ()


async def test_load_state_of_an_unknown_run_is_none(run_state_store: RunStateStore) -> None:
    assert await run_state_store.load_state(fresh_head().key) is None


async def test_verify_run_finds_nothing_wrong_with_an_intact_run(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    assert await run_state_store.verify_run(head.key) == []
    head = await apply(run_state_store, trigger_delta(head, "t-1", ["p-1"]))
    assert await run_state_store.verify_run(head.key) == []


async def test_verify_run_of_an_unknown_run_is_not_found(run_state_store: RunStateStore) -> None:
    with pytest.raises(NotFound):
        await run_state_store.verify_run(fresh_head().key)


async def test_a_head_whose_chain_does_not_match_its_records_fails_full_reads(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    delta = trigger_delta(head, "t-1")
    lying = attrs.evolve(delta, head=attrs.evolve(delta.head, log_digest=hash_bytes(b"lie")))
    await run_state_store.commit(lying)
    assert await run_state_store.verify_run(head.key) == ["log digest does not match the run head"]
    with pytest.raises(StoreCorrupt):
        await run_state_store.load_state(head.key)


async def test_stored_records_do_not_share_the_callers_objects(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    body: dict[str, Any] = {"answer": 1}
    head = await apply(
        run_state_store,
        append_records(head, [(LogKind.SUBMISSIONS, submission_record("s-1", body))]),
    )
    body["answer"] = 2
    stored = await run_state_store.find_submission(head.key, "s-1")
    assert stored is not None
    assert isinstance(stored.payload, JsonPayload)
    assert stored.payload.value == {"answer": 1}


# --------------------------------------------------------------------------- scenarios


async def test_defining_a_new_scenario_stores_it(run_state_store: RunStateStore) -> None:
    spec = scenario_json("scenario-a")
    assert await run_state_store.define_scenario(spec, scenario_hash(spec)) is True
    assert await run_state_store.get_scenario("scenario-a") == (spec, scenario_hash(spec))


async def test_redefining_a_scenario_with_the_same_spec_is_idempotent(
    run_state_store: RunStateStore,
) -> None:
    spec = scenario_json("scenario-a")
    await run_state_store.define_scenario(spec, scenario_hash(spec))
    assert await run_state_store.define_scenario(spec, scenario_hash(spec)) is False


async def test_redefining_a_scenario_with_another_spec_is_a_conflict(
    run_state_store: RunStateStore,
) -> None:
    spec = scenario_json("scenario-a")
    await run_state_store.define_scenario(spec, scenario_hash(spec))
    other = scenario_json("scenario-a", spec_version="2")
    with pytest.raises(Conflict, match="scenario already defined"):
        await run_state_store.define_scenario(other, scenario_hash(other))
    assert await run_state_store.get_scenario("scenario-a") == (spec, scenario_hash(spec))


async def test_a_scenario_whose_hash_is_not_its_canonical_hash_is_refused(
    run_state_store: RunStateStore,
) -> None:
    spec = scenario_json("scenario-a")
    with pytest.raises(StoreError):
        await run_state_store.define_scenario(spec, hash_bytes(b"not the spec"))
    with pytest.raises(StoreError):
        await run_state_store.define_scenario(["not", "an", "object"], scenario_hash(spec))
    assert await run_state_store.get_scenario("scenario-a") is None


async def test_an_undefined_scenario_is_none(run_state_store: RunStateStore) -> None:
    assert await run_state_store.get_scenario("scenario-x") is None


async def test_list_scenarios_is_sorted_by_id(run_state_store: RunStateStore) -> None:
    specs = [scenario_json(name) for name in ("b", "a", "c")]
    for spec in specs:
        await run_state_store.define_scenario(spec, scenario_hash(spec))
    assert await run_state_store.list_scenarios() == [
        (spec["scenario_id"], scenario_hash(spec))
        for spec in sorted(specs, key=lambda s: s["scenario_id"])
    ]


async def test_start_decision_record_round_trips_through_the_store(
    run_state_store: RunStateStore,
) -> None:
    head = await create_run(run_state_store)
    start = attrs.evolve(
        decision_record(head, "init"), decision_id="decision-1", outcome=StartOutcome("stage-1")
    )
    head = await apply(
        run_state_store,
        append_records(
            head,
            [
                (LogKind.TRIGGERS, trigger_record(head, "init")),
                (LogKind.DECISIONS, start),
                (LogKind.PACKETS, packet_record("entry", "decision-1", {"nested": [1, 2.5, None]})),
            ],
            last_decision=start,
        ),
    )
    assert await run_state_store.find_decision(head.key, "init") == start
    loaded = await run_state_store.load_head(head.key)
    assert loaded is not None
    assert loaded.last_decision == start
    assert await run_state_store.packets_for_decision(head.key, "decision-1") == (
        packet_record("entry", "decision-1", {"nested": [1, 2.5, None]}),
    )


# --------------------------------------------------------------------------- any history

_run_numbers = itertools.count()

_BATCHES = st.lists(st.lists(st.sampled_from(list(LogKind)), max_size=6), min_size=1, max_size=8)


def any_record(head: RunHead, kind: LogKind, label: str) -> Any:
    """A record of `kind` that fits the logs of `head` (decisions before their packets)."""
    if kind is LogKind.TRIGGERS:
        return trigger_record(head, label)
    if kind is LogKind.GATE_EVALS:
        return gate_eval_record(label)
    if kind is LogKind.DECISIONS:
        return decision_record(head, label)
    if kind is LogKind.PACKETS:
        return packet_record(label, f"decision-{head.counts.decisions}")
    if kind is LogKind.SUBMISSIONS:
        return submission_record(label, {"label": label, "number": 0.5})
    return tool_call_record(head)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=_BATCHES)
async def test_any_sequence_of_deltas_reads_back_in_append_order(
    run_state_store: RunStateStore, batches: list[list[LogKind]]
) -> None:
    head = await create_run(run_state_store, fresh_head(f"run-{next(_run_numbers)}"))
    expected: dict[LogKind, list[Any]] = {kind: [] for kind in LogKind}
    for number, kinds in enumerate(batches):
        appended = []
        staged = head
        for index, kind in enumerate(kinds):
            record = any_record(staged, kind, f"r-{number}-{index}")
            staged = attrs.evolve(staged, counts=staged.counts.plus(kind, 1))
            appended.append((kind, record))
        delta = append_records(head, appended)
        head = await apply(run_state_store, delta)
        for stored in delta.records:
            expected[stored.kind].append(stored.record)
    for kind in LogKind:
        assert await collect(run_state_store, head.key, kind) == expected[kind]
    assert await run_state_store.verify_run(head.key) == []
    assert await run_state_store.load_head(head.key) == head
    for gate_eval in expected[LogKind.GATE_EVALS]:
        found = await run_state_store.gate_evals_for_trigger(head.key, gate_eval.trigger_id)
        assert found == (gate_eval,)
    state = await run_state_store.load_state(head.key)
    assert state is not None
    assert state.decisions == tuple(expected[LogKind.DECISIONS])
