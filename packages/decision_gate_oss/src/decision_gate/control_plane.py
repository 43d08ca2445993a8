"""The control plane: the async shell that runs the pure engine against real I/O.

Every mutating call follows one shape: load the run head, look up the history
the engine needs (a replayed trigger's decision, a submission with the same
id), let the core plan, fetch evidence concurrently, let the core decide, and
save the delta with a compare-and-set on the head's version. A lost
compare-and-set means another process decided first: the call starts over from
the new head, so concurrent writers serialise without losing a decision and an
idempotent replay stays idempotent.

What a call appended is known from its delta, so a caller that needs it (the
gate evaluations behind `scenario_next` feedback) gets it with the result
instead of reading the run's logs back; only a replay, which appends nothing,
looks its original records up, through one indexed store lookup.

Providers are called concurrently, each bounded by a per-provider limit and a
timeout. Whatever a provider does wrong (raise, time out, return garbage) is
recorded as a `provider_error` and evaluates Unknown: it can hold a gate, never
pass it.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from decision_gate.core import engine
from decision_gate.core.canonical import HashDigest
from decision_gate.core.engine import (
    EngineConfig,
    EvidenceOutcome,
    EvidenceRequest,
    PriorDecision,
    ProviderFailure,
    RunAlreadyExists,
    RunNotFound,
    Scenario,
)
from decision_gate.core.errors import (
    ControlPlaneError,
    DecisionGateError,
    InvalidInput,
    NotFound,
    StoreVersionConflict,
)
from decision_gate.core.model import (
    EvidenceResult,
    GateEvalRecord,
    NextRequest,
    PrecheckResult,
    ProviderMissingDetails,
    RunConfig,
    RunState,
    RunStatus,
    ScenarioSpec,
    ScenarioStatus,
    StatusRequest,
    SubmitRequest,
    SubmitResult,
    Timestamp,
    TriggerEvent,
    TriggerResult,
    parse,
)
from decision_gate.core.runlog import LogKind, RunDelta, RunHead, RunKey, run_state_from
from decision_gate.seams.evidence_provider import EvidenceProvider, EvidenceProviderFailure
from decision_gate.seams.run_state import RunStateStore

MAX_COMMIT_ATTEMPTS: Final = 16
_T = TypeVar("_T")


class ScenarioNotDefined(NotFound):
    def __init__(self, scenario_id: str) -> None:
        super().__init__("scenario not defined")
        self.scenario_id = scenario_id


class ConcurrentModification(ControlPlaneError):
    def __init__(self, key: RunKey) -> None:
        super().__init__(
            f"run {key.run_id} kept changing under concurrent writers; the call was not applied"
        )


@attrs.frozen
class TriggerOutcome:
    """A trigger's result and the gate evaluations recorded for its trigger id, in chain order.

    They are what the call that decided the trigger appended: this call's own
    when it decided afresh, else (a replay, or a run that is no longer active)
    the stored ones looked up by trigger id. Empty when no gate was evaluated
    (a stage timeout, or a trigger id the run never decided on).
    """

    result: TriggerResult
    gate_evals: tuple[GateEvalRecord, ...]


@attrs.frozen
class _Decided:
    """One trigger call as committed: its result and the delta it appended.

    The engine records a trigger only when it decides it afresh; a replay, or
    a call on a run that is no longer active, appends a tool call alone.
    """

    result: TriggerResult
    delta: RunDelta

    @property
    def afresh(self) -> bool:
        return any(record.kind is LogKind.TRIGGERS for record in self.delta.records)

    def gate_evals(self) -> tuple[GateEvalRecord, ...]:
        return tuple(
            record.record for record in self.delta.records if record.kind is LogKind.GATE_EVALS
        )


@attrs.frozen
class ProviderLimits:
    """How long a query may take and how many may run at once, per provider."""

    timeout_seconds: float = 10.0
    max_concurrent: int = 8


class ProviderRegistry:
    """The providers a control plane may query, by id."""

    def __init__(self, providers: Mapping[str, EvidenceProvider] | None = None) -> None:
        self._providers: dict[str, EvidenceProvider] = dict(providers or {})

    def register(self, provider: EvidenceProvider) -> None:
        if provider.provider_id in self._providers:
            raise InvalidInput(f"provider {provider.provider_id!r} is registered twice")
        self._providers[provider.provider_id] = provider

    def get(self, provider_id: str) -> EvidenceProvider | None:
        return self._providers.get(provider_id)

    def ids(self) -> list[str]:
        return sorted(self._providers)

    def missing_for(self, spec: ScenarioSpec) -> ProviderMissingDetails | None:
        """The providers a spec needs that are not registered, or None."""
        missing = sorted(
            {
                c.query.provider_id
                for c in spec.conditions
                if c.query.provider_id not in self._providers
            }
        )
        if not missing:
            return None
        capabilities = sorted(
            {
                f"{c.query.provider_id}:{c.query.check_id}"
                for c in spec.conditions
                if c.query.provider_id in missing
            }
        )
        return ProviderMissingDetails(
            missing_providers=tuple(missing),
            required_capabilities=tuple(capabilities),
            blocked_by_policy=False,
        )

    def unknown_checks(self, spec: ScenarioSpec) -> list[str]:
        """`provider:check` pairs a spec names that a registered provider does not answer."""
        unknown = []
        for condition in spec.conditions:
            provider = self._providers.get(condition.query.provider_id)
            if provider is not None and condition.query.check_id not in provider.checks:
                unknown.append(f"{condition.query.provider_id}:{condition.query.check_id}")
        return sorted(set(unknown))


class ControlPlane:
    """Scenario definitions and runs over one run-state store and a provider registry."""

    def __init__(
        self,
        store: RunStateStore,
        providers: ProviderRegistry,
        *,
        config: EngineConfig | None = None,
        policy: engine.PolicyDecider | None = None,
        dispatcher: engine.Dispatcher | None = None,
        provider_limits: Mapping[str, ProviderLimits] | None = None,
        default_limits: ProviderLimits = ProviderLimits(),
    ) -> None:
        self.store = store
        self.providers = providers
        self.config = config or EngineConfig()
        self._policy = policy
        self._dispatcher = dispatcher
        self._limits = dict(provider_limits or {})
        self._default_limits = default_limits
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._scenarios: dict[str, Scenario] = {}
        self._run_locks: weakref.WeakValueDictionary[RunKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # ----------------------------------------------------------------- scenarios

    async def define(self, spec: ScenarioSpec) -> tuple[str, HashDigest]:
        """Validate and persist a scenario. Defining the same spec again is a no-op;
        a different spec under the same id is a conflict."""
        scenario = engine.compile_scenario(spec)
        unknown = self.providers.unknown_checks(spec)
        if unknown:
            raise InvalidInput(f"scenario names checks no provider answers: {', '.join(unknown)}")
        await self.store.define_scenario(scenario.spec_json, scenario.spec_hash)
        self._scenarios[spec.scenario_id] = scenario
        return spec.scenario_id, scenario.spec_hash

    async def scenario(self, scenario_id: str) -> Scenario:
        """The compiled scenario, loaded from the store after a restart."""
        cached = self._scenarios.get(scenario_id)
        if cached is not None:
            return cached
        stored = await self.store.get_scenario(scenario_id)
        if stored is None:
            raise ScenarioNotDefined(scenario_id)
        spec_json, _ = stored
        scenario = engine.compile_scenario(parse(ScenarioSpec, spec_json, "stored scenario"))
        self._scenarios[scenario_id] = scenario
        return scenario

    # ----------------------------------------------------------------- runs

    async def start(
        self,
        scenario_id: str,
        run_config: RunConfig,
        started_at: Timestamp,
        *,
        issue_entry_packets: bool = False,
    ) -> RunState:
        scenario = await self.scenario(scenario_id)
        key = RunKey(run_config.tenant_id, run_config.namespace_id, run_config.run_id)
        if await self.store.load_head(key) is not None:
            raise RunAlreadyExists(run_config.run_id)
        delta = engine.start_run(
            scenario,
            run_config,
            started_at,
            issue_entry_packets,
            policy=self._policy,
            dispatcher=self._dispatcher,
        )
        try:
            await self.store.commit(delta)
        except StoreVersionConflict:
            raise RunAlreadyExists(run_config.run_id) from None
        return _state_of(delta)

    async def next(self, scenario_id: str, request: NextRequest) -> TriggerResult:
        """An agent asks the run to move on (`scenario_next`)."""
        trigger = engine.next_request_trigger(request)
        return (await self._trigger(scenario_id, trigger, "scenario.next", request)).result

    async def next_with_gate_evals(self, scenario_id: str, request: NextRequest) -> TriggerOutcome:
        """`next`, with the gate evaluations behind its decision (`scenario_next` feedback).

        Costs what `next` costs plus, for a replay only, one indexed lookup:
        never a read of the run's history.
        """
        trigger = engine.next_request_trigger(request)
        decided = await self._trigger(scenario_id, trigger, "scenario.next", request)
        if decided.afresh:
            return TriggerOutcome(decided.result, decided.gate_evals())
        key = RunKey(trigger.tenant_id, trigger.namespace_id, trigger.run_id)
        stored = await self.store.gate_evals_for_trigger(key, trigger.trigger_id)
        return TriggerOutcome(decided.result, stored)

    async def trigger(self, scenario_id: str, event: TriggerEvent) -> TriggerResult:
        """An event, tick or backend signal reaches the run (`scenario_trigger`)."""
        return (await self._trigger(scenario_id, event, "scenario.trigger", event)).result

    async def _trigger(
        self, scenario_id: str, trigger: TriggerEvent, method: str, request: Any
    ) -> _Decided:
        scenario = await self.scenario(scenario_id)
        key = RunKey(trigger.tenant_id, trigger.namespace_id, trigger.run_id)

        async def attempt(head: RunHead) -> tuple[RunDelta, _Decided | DecisionGateError]:
            missing = self.providers.missing_for(scenario.spec)
            if missing is not None:
                return engine.provider_missing(
                    head,
                    method=method,
                    request=request,
                    called_at=trigger.time,
                    correlation_id=trigger.correlation_id,
                    details=missing,
                )
            prior = await self._prior_decision(head, trigger.trigger_id)
            plan = engine.plan_trigger(scenario, head, trigger, prior, self.config)
            evidence = await self.fetch_evidence(plan)
            delta, result = engine.apply_trigger(
                scenario,
                head,
                trigger,
                method=method,
                request=request,
                prior=prior,
                evidence=evidence,
                config=self.config,
                policy=self._policy,
                dispatcher=self._dispatcher,
            )
            return delta, _Decided(result, delta)

        return await self._commit_loop(scenario, key, attempt)

    async def status(self, scenario_id: str, request: StatusRequest) -> ScenarioStatus:
        scenario = await self.scenario(scenario_id)
        key = RunKey(request.tenant_id, request.namespace_id, request.run_id)

        async def attempt(head: RunHead) -> tuple[RunDelta, ScenarioStatus]:
            packet_ids = await self.store.packet_ids(key)
            return engine.scenario_status(scenario.scenario_id, head, request, packet_ids)

        return await self._commit_loop(scenario, key, attempt)

    async def submit(self, scenario_id: str, request: SubmitRequest) -> SubmitResult:
        scenario = await self.scenario(scenario_id)
        key = RunKey(request.tenant_id, request.namespace_id, request.run_id)

        async def attempt(head: RunHead) -> tuple[RunDelta, SubmitResult | DecisionGateError]:
            existing = await self.store.find_submission(key, request.submission_id)
            delta, outcome = engine.submit(head, request, existing)
            return delta, outcome

        return await self._commit_loop(scenario, key, attempt)

    async def precheck(
        self, scenario_id: str, stage_id: str | None, evidence: Mapping[str, EvidenceResult]
    ) -> PrecheckResult:
        """What-if evaluation with supplied evidence; touches no run."""
        scenario = await self.scenario(scenario_id)
        return engine.precheck(scenario, stage_id, evidence, self.config)

    async def run_state(self, key: RunKey) -> RunState:
        state = await self.store.load_state(key)
        if state is None:
            raise RunNotFound(key.run_id)
        return state

    async def _commit_loop(
        self,
        scenario: Scenario,
        key: RunKey,
        attempt: Callable[[RunHead], Awaitable[tuple[RunDelta, _T | DecisionGateError]]],
    ) -> _T:
        # Calls on one run in this process take turns (no wasted work); writers
        # in other processes are serialised by the store's compare-and-set, and a
        # loser backs off with jitter before it reloads and tries again.
        async with self._run_lock(key):
            for attempt_number in range(MAX_COMMIT_ATTEMPTS):
                head = await self.store.load_head(key)
                if head is None:
                    raise RunNotFound(key.run_id)
                if head.scenario_id != scenario.scenario_id:
                    raise engine.ScenarioMismatch(scenario.scenario_id)
                delta, outcome = await attempt(head)
                try:
                    await self.store.commit(delta)
                except StoreVersionConflict:
                    await asyncio.sleep(random.uniform(0, 0.001 * 2 ** min(attempt_number, 8)))
                    continue
                if isinstance(outcome, DecisionGateError):
                    raise outcome
                return outcome
        raise ConcurrentModification(key)

    def _run_lock(self, key: RunKey) -> asyncio.Lock:
        lock = self._run_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._run_locks[key] = lock
        return lock

    async def _prior_decision(self, head: RunHead, trigger_id: str) -> PriorDecision | None:
        decision = (
            head.last_decision
            if head.status is not RunStatus.ACTIVE
            else await self.store.find_decision(head.key, trigger_id)
        )
        if decision is None:
            return None
        packets = await self.store.packets_for_decision(head.key, decision.decision_id)
        return PriorDecision(decision, packets)

    # ----------------------------------------------------------------- evidence

    async def fetch_evidence(
        self, requests: tuple[EvidenceRequest, ...]
    ) -> dict[str, EvidenceOutcome]:
        """Run every query concurrently; each outcome is a result or a recorded failure."""
        outcomes = await asyncio.gather(*(self._query(request) for request in requests))
        return {
            request.condition_id: outcome
            for request, outcome in zip(requests, outcomes, strict=True)
        }

    async def _query(self, request: EvidenceRequest) -> EvidenceOutcome:
        provider_id = request.query.provider_id
        provider = self.providers.get(provider_id)
        if provider is None:
            return ProviderFailure(f"provider {provider_id} is not registered")
        limits = self._limits.get(provider_id, self._default_limits)
        semaphore = self._semaphores.setdefault(
            provider_id, asyncio.Semaphore(limits.max_concurrent)
        )
        async with semaphore:
            try:
                result = await asyncio.wait_for(
                    provider.query(request.query, request.context), limits.timeout_seconds
                )
            except EvidenceProviderFailure as failure:
                return ProviderFailure(str(failure))
            except TimeoutError:
                return ProviderFailure(f"provider {provider_id} timed out")
            except Exception as error:  # noqa: BLE001 - a broken provider holds, never passes
                return ProviderFailure(f"provider {provider_id} failed: {type(error).__name__}")
        if not isinstance(result, EvidenceResult):
            return ProviderFailure(f"provider {provider_id} returned {type(result).__name__}")
        return result


def _state_of(delta: RunDelta) -> RunState:
    logs: dict[LogKind, tuple[Any, ...]] = {}
    for record in delta.records:
        logs[record.kind] = (*logs.get(record.kind, ()), record.record)
    return run_state_from(delta.head, logs)
