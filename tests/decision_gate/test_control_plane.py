"""The control plane over real stores and providers: what a caller can observe.

Covers what the pure engine cannot: providers misbehaving (raising, hanging,
returning garbage), providers queried concurrently, compare-and-set between
two control planes sharing one SQLite file, scenario definitions surviving a
restart, and the golden runpacks rebuilt byte for byte — manifest included —
through the store and the streaming export.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import pytest

from decision_gate.control_plane import ControlPlane, ProviderLimits, ProviderRegistry
from decision_gate.core.engine import ProviderMissing, RunAlreadyExists
from decision_gate.core.errors import Conflict, InvalidInput
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.jsonvalue import loads
from decision_gate.core.model import (
    EvidenceAnchor,
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    HoldOutcome,
    Logical,
    NextRequest,
    RunConfig,
    ScenarioSpec,
    TriggerEvent,
    TriggerKind,
    TriggerRecord,
    parse,
)
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import SecurityContext
from decision_gate.providers.time import TimeProvider
from decision_gate.runpack_export import export_runpack
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage
from decision_gate.seams.runpack_storage import RunpackDirectory
from decision_gate.stores import MemoryRunStateStore, SqliteRunStateStore

CONTRACT = Path(__file__).resolve().parents[2].parent / "shared" / "contract"
GOLDEN = CONTRACT / "runpacks" / "golden"
KEY = RunKey(1, 1, "run-1")


class ScriptedProvider:
    """A provider whose answer for each query is a function the test supplies."""

    provider_id = "scripted"

    def __init__(self, answer: Callable[[EvidenceQuery], Any]) -> None:
        self._answer = answer
        self.calls: list[str] = []

    @property
    def checks(self) -> Collection[str]:
        return ("value",)

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        self.calls.append(str(query.params))
        outcome = self._answer(query)
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        return outcome  # type: ignore[no-any-return]


def spec(conditions: list[str], provider: str = "scripted") -> ScenarioSpec:
    return parse(
        ScenarioSpec,
        {
            "scenario_id": "s",
            "namespace_id": 1,
            "spec_version": "1",
            "policies": [],
            "schemas": [],
            "conditions": [
                {
                    "condition_id": name,
                    "query": {"provider_id": provider, "check_id": "value", "params": name},
                    "comparator": "equals",
                    "expected": True,
                    "policy_tags": [],
                }
                for name in conditions
            ],
            "stages": [
                {
                    "stage_id": "only",
                    "entry_packets": [],
                    "gates": [
                        {
                            "gate_id": "g",
                            "requirement": {"And": [{"Condition": c} for c in conditions]},
                        }
                    ],
                    "advance_to": {"kind": "terminal"},
                    "timeout": None,
                    "on_timeout": "fail",
                }
            ],
        },
    )


CONFIG = RunConfig(
    tenant_id=1,  # type: ignore[arg-type]
    namespace_id=1,  # type: ignore[arg-type]
    run_id="run-1",
    scenario_id="s",
    dispatch_targets=(),
    policy_tags=(),
)


def event(n: int, trigger_id: str | None = None) -> TriggerEvent:
    return TriggerEvent(
        trigger_id=trigger_id or f"t{n}",
        tenant_id=1,  # type: ignore[arg-type]
        namespace_id=1,  # type: ignore[arg-type]
        run_id="run-1",
        kind=TriggerKind.EXTERNAL_EVENT,
        time=Logical(n),  # type: ignore[arg-type]
        source_id="test",
    )


async def started(
    provider: ScriptedProvider,
    conditions: list[str],
    *,
    limits: ProviderLimits | None = None,
) -> ControlPlane:
    registry = ProviderRegistry()
    registry.register(provider)
    plane = ControlPlane(MemoryRunStateStore(), registry, default_limits=limits or ProviderLimits())
    await plane.define(spec(conditions))
    await plane.start("s", CONFIG, Logical(0))  # type: ignore[arg-type]
    return plane


def true_result(_: EvidenceQuery) -> EvidenceResult:
    return EvidenceResult(value=JsonEvidence(True))


async def recorded_errors(plane: ControlPlane) -> list[str | None]:
    state = await plane.run_state(KEY)
    return [
        record.result.error.message if record.result.error else None
        for evaluation in state.gate_evals
        for record in evaluation.evidence
    ]


async def test_a_provider_that_raises_holds_the_gate() -> None:
    def boom(_: EvidenceQuery) -> EvidenceResult:
        raise RuntimeError("database password is hunter2")

    plane = await started(ScriptedProvider(boom), ["a"])
    result = await plane.trigger("s", event(1))
    assert isinstance(result.decision.outcome, HoldOutcome)
    errors = await recorded_errors(plane)
    assert errors == ["evidence provider error: provider scripted failed: RuntimeError"]
    assert "hunter2" not in str(errors)


async def test_a_provider_that_hangs_times_out_and_holds() -> None:
    async def hang(_: EvidenceQuery) -> EvidenceResult:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    plane = await started(
        ScriptedProvider(hang), ["a"], limits=ProviderLimits(timeout_seconds=0.05)
    )
    result = await plane.trigger("s", event(1))
    assert isinstance(result.decision.outcome, HoldOutcome)
    assert await recorded_errors(plane) == ["evidence provider error: provider scripted timed out"]


async def test_a_provider_returning_garbage_holds_the_gate() -> None:
    plane = await started(ScriptedProvider(lambda _: {"value": True}), ["a"])
    result = await plane.trigger("s", event(1))
    assert isinstance(result.decision.outcome, HoldOutcome)
    assert await recorded_errors(plane) == [
        "evidence provider error: provider scripted returned dict"
    ]


async def test_providers_are_queried_concurrently() -> None:
    both_started = asyncio.Barrier(2)

    async def meet(_: EvidenceQuery) -> EvidenceResult:
        await both_started.wait()  # deadlocks (and times out) if queries ran one by one
        return EvidenceResult(value=JsonEvidence(True))

    plane = await started(
        ScriptedProvider(meet), ["a", "b"], limits=ProviderLimits(timeout_seconds=5)
    )
    result = await asyncio.wait_for(plane.trigger("s", event(1)), 10)
    assert result.status.value == "completed"


async def test_per_provider_limit_bounds_concurrent_queries() -> None:
    running = 0
    peak = 0

    async def count(_: EvidenceQuery) -> EvidenceResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return EvidenceResult(value=JsonEvidence(True))

    plane = await started(
        ScriptedProvider(count), ["a", "b", "c", "d"], limits=ProviderLimits(max_concurrent=2)
    )
    await plane.trigger("s", event(1))
    assert peak == 2


async def test_missing_provider_is_recorded_and_raised() -> None:
    registry = ProviderRegistry()
    registry.register(ScriptedProvider(true_result))
    plane = ControlPlane(MemoryRunStateStore(), registry)
    await plane.define(spec(["a"]))
    await plane.start("s", CONFIG, Logical(0))  # type: ignore[arg-type]
    plane.providers = ProviderRegistry()  # the provider disappeared after start
    with pytest.raises(ProviderMissing):
        await plane.trigger("s", event(1))
    state = await plane.run_state(KEY)
    assert [call.error.code for call in state.tool_calls if call.error] == ["provider_missing"]


async def test_defining_a_check_no_provider_answers_is_rejected() -> None:
    registry = ProviderRegistry()
    registry.register(TimeProvider())
    plane = ControlPlane(MemoryRunStateStore(), registry)
    bad = parse(
        ScenarioSpec,
        {**json.loads(json.dumps(_spec_json(["a"], "time"))), "scenario_id": "s"},
    )
    with pytest.raises(InvalidInput, match="time:value"):
        await plane.define(bad)


def _spec_json(conditions: list[str], provider: str) -> Any:
    from decision_gate.core.model import to_json

    return to_json(spec(conditions, provider))


async def test_redefining_the_same_spec_is_idempotent_and_a_different_one_conflicts() -> None:
    registry = ProviderRegistry()
    registry.register(ScriptedProvider(true_result))
    plane = ControlPlane(MemoryRunStateStore(), registry)
    first = await plane.define(spec(["a"]))
    assert await plane.define(spec(["a"])) == first
    with pytest.raises(Conflict, match="scenario already defined"):
        await plane.define(spec(["a", "b"]))


async def test_starting_a_run_twice_fails() -> None:
    plane = await started(ScriptedProvider(true_result), ["a"])
    with pytest.raises(RunAlreadyExists):
        await plane.start("s", CONFIG, Logical(0))  # type: ignore[arg-type]


async def test_scenario_definitions_survive_a_restart(tmp_path: Path) -> None:
    registry = ProviderRegistry()
    registry.register(ScriptedProvider(true_result))
    store = SqliteRunStateStore(tmp_path / "runs.sqlite3")
    plane = ControlPlane(store, registry)
    await plane.define(spec(["a"]))
    await plane.start("s", CONFIG, Logical(0))  # type: ignore[arg-type]
    await store.close()

    reopened = SqliteRunStateStore(tmp_path / "runs.sqlite3")
    restarted = ControlPlane(reopened, registry)
    result = await restarted.trigger("s", event(1))
    assert result.status.value == "completed"
    await reopened.close()


async def test_two_control_planes_on_one_sqlite_file_never_lose_a_decision(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    registry = ProviderRegistry()
    registry.register(ScriptedProvider(lambda _: EvidenceResult(value=JsonEvidence(False))))
    first_store, second_store = SqliteRunStateStore(path), SqliteRunStateStore(path)
    first, second = ControlPlane(first_store, registry), ControlPlane(second_store, registry)
    await first.define(spec(["a"]))
    await first.start("s", CONFIG, Logical(0))  # type: ignore[arg-type]

    calls = [plane.trigger("s", event(n)) for n in range(1, 21) for plane in (first, second)]
    results = await asyncio.gather(*calls)
    state = await first.run_state(KEY)
    assert [d.seq for d in state.decisions] == list(range(1, 21))
    assert len({d.trigger_id for d in state.decisions}) == 20
    for result in results:  # both planes answered each trigger id with the one decision
        assert result.decision in state.decisions
    await first_store.close()
    await second_store.close()


def next_request(n: int, trigger_id: str | None = None) -> NextRequest:
    return NextRequest(
        run_id="run-1",
        tenant_id=1,  # type: ignore[arg-type]
        namespace_id=1,  # type: ignore[arg-type]
        trigger_id=trigger_id or f"t{n}",
        agent_id="agent",
        time=Logical(n),  # type: ignore[arg-type]
    )


def false_result(_: EvidenceQuery) -> EvidenceResult:
    return EvidenceResult(value=JsonEvidence(False))


async def test_a_next_comes_with_the_gate_evaluations_it_recorded() -> None:
    plane = await started(ScriptedProvider(false_result), ["a"])
    await plane.trigger("s", event(1))

    outcome = await plane.next_with_gate_evals("s", next_request(2))

    state = await plane.run_state(KEY)
    assert isinstance(outcome.result.decision.outcome, HoldOutcome)
    assert outcome.gate_evals == tuple(e for e in state.gate_evals if e.trigger_id == "t2")
    assert len(outcome.gate_evals) == 1


async def test_a_replayed_next_comes_with_the_gate_evaluations_of_its_first_call() -> None:
    plane = await started(ScriptedProvider(false_result), ["a"])
    first = await plane.next_with_gate_evals("s", next_request(1))
    await plane.next_with_gate_evals("s", next_request(2))

    replayed = await plane.next_with_gate_evals("s", next_request(3, trigger_id="t1"))

    assert replayed == first
    assert len((await plane.run_state(KEY)).gate_evals) == 2


async def test_a_next_on_a_finished_run_has_gate_evaluations_only_for_the_deciding_trigger() -> (
    None
):
    plane = await started(ScriptedProvider(true_result), ["a"])
    completing = await plane.next_with_gate_evals("s", next_request(1))
    assert completing.result.status.value == "completed"

    again = await plane.next_with_gate_evals("s", next_request(2, trigger_id="t1"))
    later = await plane.next_with_gate_evals("s", next_request(3))

    assert again.gate_evals == completing.gate_evals != ()
    assert later.result.decision == completing.result.decision
    assert later.gate_evals == ()


async def test_next_and_next_with_gate_evals_decide_alike() -> None:
    plain = await started(ScriptedProvider(false_result), ["a"])
    traced = await started(ScriptedProvider(false_result), ["a"])

    results = [await plain.next("s", next_request(n)) for n in (1, 2)]
    outcomes = [await traced.next_with_gate_evals("s", next_request(n)) for n in (1, 2)]

    assert [outcome.result for outcome in outcomes] == results
    assert await plain.run_state(KEY) == await traced.run_state(KEY)


@pytest.mark.parametrize("name", ["golden_time_after_pass", "golden_visibility_packet"])
async def test_golden_runpack_rebuilt_byte_for_byte_through_store_and_export(
    name: str, tmp_path: Path
) -> None:
    golden = GOLDEN / name
    spec_json = loads((golden / "artifacts" / "scenario_spec.json").read_bytes())
    golden_spec = parse(ScenarioSpec, spec_json)
    manifest = json.loads((golden / "manifest.json").read_text())
    triggers = [
        parse(TriggerRecord, item).event
        for item in json.loads((golden / "artifacts" / "triggers.json").read_text())
    ]
    init = triggers[0].trigger_id == "init"
    registry = ProviderRegistry()
    registry.register(TimeProvider())
    store = SqliteRunStateStore(tmp_path / "runs.sqlite3")
    plane = ControlPlane(store, registry)
    await plane.define(golden_spec)
    config = RunConfig(
        tenant_id=manifest["tenant_id"],
        namespace_id=manifest["namespace_id"],
        run_id=manifest["run_id"],
        scenario_id=manifest["scenario_id"],
        dispatch_targets=(),
        policy_tags=(),
    )
    await plane.start(
        config.scenario_id,
        config,
        triggers[0].time if init else Logical(0),  # type: ignore[arg-type]
        issue_entry_packets=init,
    )
    for recorded in triggers[1:] if init else triggers:
        await plane.trigger(config.scenario_id, recorded)
    out = tmp_path / "runpack"
    await export_runpack(
        store,
        await plane.scenario(config.scenario_id),
        RunKey(config.tenant_id, config.namespace_id, config.run_id),
        FilesystemRunpackStorage(out),
        RunpackDirectory(os.fspath(out)),
        generated_at=Logical(manifest["generated_at"]["value"]),  # type: ignore[arg-type]
        security=SecurityContext(dev_permissive=False, namespace_authority="dg_registry"),
    )
    await store.close()
    expected = sorted(p.relative_to(golden) for p in golden.rglob("*") if p.is_file())
    produced = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert produced == expected
    for relative in expected:
        assert (out / relative).read_bytes() == (golden / relative).read_bytes(), relative


def test_time_provider_answers_like_the_golden_runs() -> None:
    result = TimeProvider().answer(EvidenceQuery("time", "after", {"timestamp": 0}), Logical(2))
    assert result.evidence_anchor == EvidenceAnchor("trigger_time_logical", "2")
