"""An in-test run: the engine's deltas applied the way a store and the shell apply them.

The engine is pure: every call reads a `RunHead` and returns a `RunDelta`. To
follow a run through several calls a test needs what the shell does around
the engine, and nothing more:

* apply each delta (the head is replaced, records are appended to their log),
  checking the compare-and-set version and the per-log sequence numbers a
  store would check;
* answer `plan_trigger`'s evidence requests, in the order given, from a fake
  provider (a function of the request, or a mapping by condition id); a
  provider function that raises is recorded as `ProviderFailure`, as the shell
  records a provider that fails;
* look up the prior decision for replays: the first decision with the
  trigger's id plus the packets carrying its decision id, or, for a run that
  is no longer active, the last decision and its packets.

A call that raises appends nothing, exactly as the shell saves nothing. The
two errors the engine records (providers missing, submission conflict) are
applied first and then raised.

The module also holds small builders for the JSON of specs, so tests state a
scenario in the wire form an author writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from decision_gate.core.engine import (
    Dispatcher,
    EngineConfig,
    EvidenceOutcome,
    EvidenceRequest,
    PolicyDecider,
    PriorDecision,
    ProviderFailure,
    ProviderMissing,
    Scenario,
    apply_trigger,
    compile_scenario,
    next_request_trigger,
    plan_trigger,
    precheck,
    provider_missing,
    scenario_status,
    start_run,
    submit,
)
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    U64,
    AgentTarget,
    DecisionRecord,
    DispatchTarget,
    EvidenceResult,
    JsonPayload,
    Logical,
    NamespaceId,
    NextRequest,
    PacketPayload,
    PacketRecord,
    PrecheckResult,
    ProviderMissingDetails,
    RunConfig,
    RunStatus,
    ScenarioSpec,
    ScenarioStatus,
    StatusRequest,
    SubmissionRecord,
    SubmitRequest,
    SubmitResult,
    TenantId,
    Timestamp,
    TriggerEvent,
    TriggerKind,
    TriggerResult,
    TrustLane,
    parse,
)
from decision_gate.core.runlog import AppendedRecord, LogKind, RunDelta, RunHead

ProviderFunction = Callable[[EvidenceRequest], EvidenceOutcome]
Provider = ProviderFunction | Mapping[str, EvidenceOutcome]


class ProviderDown(Exception):
    """What a fake provider function raises to stand for a provider that fails."""


def evidence(
    value: JsonValue, lane: TrustLane = TrustLane.VERIFIED, **fields: Any
) -> EvidenceResult:
    """A provider's answer carrying the JSON `value`."""
    return EvidenceResult(value=JsonEvidence(value), lane=lane, **fields)


def always(outcome: EvidenceOutcome) -> ProviderFunction:
    """A provider that gives the same answer to every query."""
    return lambda _request: outcome


VERIFIED_TRUE = evidence(True)


def at(value: int) -> Logical:
    return Logical(U64(value))


START = at(0)


@attrs.define
class RunDriver:
    """One run of `scenario`, driven call by call; see the module docstring."""

    scenario: Scenario
    provider: Provider = attrs.field(default=always(VERIFIED_TRUE))
    config: EngineConfig = attrs.field(factory=EngineConfig)
    policy: PolicyDecider | None = None
    dispatcher: Dispatcher | None = None
    head: RunHead | None = None
    logs: dict[LogKind, list[Any]] = attrs.field(factory=lambda: {kind: [] for kind in LogKind})
    canonical: dict[LogKind, list[bytes]] = attrs.field(
        factory=lambda: {kind: [] for kind in LogKind}
    )
    deltas: list[RunDelta] = attrs.field(factory=list)
    provider_calls: list[EvidenceRequest] = attrs.field(factory=list)

    # ------------------------------------------------------------------ state

    @property
    def run(self) -> RunHead:
        assert self.head is not None, "the run has not been started"
        return self.head

    @property
    def last_delta(self) -> RunDelta:
        return self.deltas[-1]

    @property
    def decisions(self) -> list[DecisionRecord]:
        return self.logs[LogKind.DECISIONS]

    @property
    def packets(self) -> list[PacketRecord]:
        return self.logs[LogKind.PACKETS]

    def artifact(self, kind: LogKind) -> bytes:
        """The runpack artifact of one log: the canonical JSON array of its records."""
        return b"[" + b",".join(self.canonical[kind]) + b"]"

    def apply(self, delta: RunDelta) -> RunDelta:
        """Persist `delta` as a store would: compare-and-set on the version, append in order."""
        expected_version = self.head.version if self.head is not None else 0
        assert delta.previous_version == expected_version, "compare-and-set lost"
        for record in delta.records:
            self._append(record)
        self.head = delta.head
        self.deltas.append(delta)
        return delta

    def _append(self, record: AppendedRecord) -> None:
        log = self.logs[record.kind]
        assert record.seq == len(log) + 1, f"{record.kind.value} seq {record.seq} out of order"
        log.append(record.record)
        self.canonical[record.kind].append(record.canonical)

    def prior_for(self, trigger_id: str) -> PriorDecision | None:
        """The decision that already answers `trigger_id`, looked up as the shell does."""
        if self.run.status is not RunStatus.ACTIVE:
            last = self.run.last_decision
            return None if last is None else self._with_packets(last)
        for decision in self.decisions:
            if decision.trigger_id == trigger_id:
                return self._with_packets(decision)
        return None

    def _with_packets(self, decision: DecisionRecord) -> PriorDecision:
        return PriorDecision(
            decision,
            tuple(p for p in self.packets if p.decision_id == decision.decision_id),
        )

    # ------------------------------------------------------------------ calls

    def start(
        self,
        *,
        run_id: str = "run-1",
        started_at: Timestamp = START,
        issue_entry_packets: bool = False,
        dispatch_targets: Sequence[DispatchTarget] = (AgentTarget("agent-1"),),
        tenant_id: int = 1,
        namespace_id: int = 1,
    ) -> RunDelta:
        config = RunConfig(
            tenant_id=TenantId(tenant_id),
            namespace_id=NamespaceId(namespace_id),
            run_id=run_id,
            scenario_id=self.scenario.scenario_id,
            dispatch_targets=tuple(dispatch_targets),
            policy_tags=(),
        )
        delta = start_run(
            self.scenario,
            config,
            started_at,
            issue_entry_packets,
            policy=self.policy,
            dispatcher=self.dispatcher,
        )
        return self.apply(delta)

    def event(
        self,
        trigger_id: str,
        time: Timestamp,
        *,
        kind: TriggerKind = TriggerKind.EXTERNAL_EVENT,
        source_id: str = "test",
        correlation_id: str | None = None,
        payload: PacketPayload | None = None,
    ) -> TriggerEvent:
        """A trigger event for this run."""
        return TriggerEvent(
            trigger_id=trigger_id,
            tenant_id=self.run.tenant_id,
            namespace_id=self.run.namespace_id,
            run_id=self.run.run_id,
            kind=kind,
            time=time,
            source_id=source_id,
            payload=payload,
            correlation_id=correlation_id,
        )

    def trigger(
        self,
        trigger_id: str,
        time: Timestamp,
        *,
        kind: TriggerKind = TriggerKind.EXTERNAL_EVENT,
        source_id: str = "test",
        correlation_id: str | None = None,
        provider: Provider | None = None,
    ) -> TriggerResult:
        """`scenario_trigger`; `provider` overrides the driver's for this call."""
        event = self.event(
            trigger_id, time, kind=kind, source_id=source_id, correlation_id=correlation_id
        )
        return self.fire(event, method="scenario.trigger", request=event, provider=provider)

    def tick(self, trigger_id: str, time: Timestamp) -> TriggerResult:
        return self.trigger(trigger_id, time, kind=TriggerKind.TICK)

    def next(
        self,
        trigger_id: str,
        time: Timestamp,
        *,
        agent_id: str = "agent-1",
        correlation_id: str | None = None,
        provider: Provider | None = None,
    ) -> TriggerResult:
        """`scenario_next`: a trigger of kind agent_request_next, hashed as the request."""
        request = self.next_request(trigger_id, time, agent_id, correlation_id)
        return self.fire(
            next_request_trigger(request),
            method="scenario.next",
            request=request,
            provider=provider,
        )

    def next_request(
        self,
        trigger_id: str,
        time: Timestamp,
        agent_id: str = "agent-1",
        correlation_id: str | None = None,
    ) -> NextRequest:
        return NextRequest(
            run_id=self.run.run_id,
            tenant_id=self.run.tenant_id,
            namespace_id=self.run.namespace_id,
            trigger_id=trigger_id,
            agent_id=agent_id,
            time=time,
            correlation_id=correlation_id,
        )

    def fire(
        self,
        event: TriggerEvent,
        *,
        method: str,
        request: Any,
        provider: Provider | None = None,
    ) -> TriggerResult:
        """Plan, query the provider in plan order, decide, apply."""
        prior = self.prior_for(event.trigger_id)
        requests = plan_trigger(self.scenario, self.run, event, prior, self.config)
        gathered = self.gather(requests, self.provider if provider is None else provider)
        delta, result = apply_trigger(
            self.scenario,
            self.run,
            event,
            method=method,
            request=request,
            prior=prior,
            evidence=gathered,
            config=self.config,
            policy=self.policy,
            dispatcher=self.dispatcher,
        )
        self.apply(delta)
        return result

    def gather(
        self, requests: Sequence[EvidenceRequest], provider: Provider
    ) -> dict[str, EvidenceOutcome]:
        """Ask `provider` each request in order; a missing mapping entry is no answer."""
        gathered: dict[str, EvidenceOutcome] = {}
        for request in requests:
            self.provider_calls.append(request)
            if isinstance(provider, Mapping):
                if request.condition_id in provider:
                    gathered[request.condition_id] = provider[request.condition_id]
                continue
            try:
                gathered[request.condition_id] = provider(request)
            except ProviderDown as error:
                gathered[request.condition_id] = ProviderFailure(str(error))
        return gathered

    def status(self, requested_at: Timestamp, correlation_id: str | None = None) -> ScenarioStatus:
        request = StatusRequest(
            run_id=self.run.run_id,
            tenant_id=self.run.tenant_id,
            namespace_id=self.run.namespace_id,
            requested_at=requested_at,
            correlation_id=correlation_id,
        )
        issued = tuple(packet.envelope.packet_id for packet in self.packets)
        delta, status = scenario_status(self.scenario.scenario_id, self.run, request, issued)
        self.apply(delta)
        return status

    def submit(
        self,
        submission_id: str,
        payload: PacketPayload,
        submitted_at: Timestamp,
        content_type: str = "application/json",
    ) -> SubmitResult:
        """Record a submission; a conflict is saved first, then raised."""
        request = SubmitRequest(
            run_id=self.run.run_id,
            tenant_id=self.run.tenant_id,
            namespace_id=self.run.namespace_id,
            submission_id=submission_id,
            payload=payload,
            content_type=content_type,
            submitted_at=submitted_at,
        )
        existing = self.submission(submission_id)
        delta, outcome = submit(self.run, request, existing)
        self.apply(delta)
        if not isinstance(outcome, SubmitResult):
            raise outcome
        return outcome

    def submission(self, submission_id: str) -> SubmissionRecord | None:
        records: list[SubmissionRecord] = self.logs[LogKind.SUBMISSIONS]
        return next((r for r in records if r.submission_id == submission_id), None)

    def providers_missing(
        self, details: ProviderMissingDetails, trigger_id: str, time: Timestamp
    ) -> ProviderMissing:
        """What the shell does for `scenario_next` when provider validation fails:
        record the failed call, then raise."""
        request = self.next_request(trigger_id, time)
        delta, error = provider_missing(
            self.run,
            method="scenario.next",
            request=request,
            called_at=time,
            correlation_id=None,
            details=details,
        )
        self.apply(delta)
        return error

    def precheck(
        self, stage_id: str | None, supplied: Mapping[str, EvidenceResult]
    ) -> PrecheckResult:
        return precheck(self.scenario, stage_id, supplied, self.config)


# --------------------------------------------------------------------------- spec JSON builders


def condition(
    condition_id: str,
    *,
    provider_id: str = "test",
    check_id: str | None = None,
    comparator: str = "equals",
    expected: JsonValue = True,
    **extra: JsonValue,
) -> dict[str, JsonValue]:
    return {
        "condition_id": condition_id,
        "query": {"provider_id": provider_id, "check_id": check_id or condition_id},
        "comparator": comparator,
        "expected": expected,
        "policy_tags": [],
        **extra,
    }


def cond(condition_id: str) -> dict[str, JsonValue]:
    """The requirement leaf naming `condition_id`."""
    return {"Condition": condition_id}


def gate(gate_id: str, requirement: JsonValue, **extra: JsonValue) -> dict[str, JsonValue]:
    return {"gate_id": gate_id, "requirement": requirement, **extra}


def packet(packet_id: str, value: JsonValue = None) -> dict[str, JsonValue]:
    return {
        "packet_id": packet_id,
        "schema_id": "schema-1",
        "content_type": "application/json",
        "visibility_labels": [],
        "policy_tags": [],
        "expiry": None,
        "payload": {"kind": "json", "value": value if value is not None else {"id": packet_id}},
    }


def stage(
    stage_id: str,
    gates: Sequence[JsonValue] = (),
    *,
    advance_to: JsonValue = None,
    entry_packets: Sequence[JsonValue] = (),
    timeout_ms: int | None = None,
    on_timeout: str = "fail",
) -> dict[str, JsonValue]:
    return {
        "stage_id": stage_id,
        "entry_packets": list(entry_packets),
        "gates": list(gates),
        "advance_to": advance_to if advance_to is not None else {"kind": "linear"},
        "timeout": None if timeout_ms is None else {"timeout_ms": timeout_ms, "policy_tags": []},
        "on_timeout": on_timeout,
    }


def branch(rules: Sequence[tuple[str, str, str]], default: str | None) -> dict[str, JsonValue]:
    """`{"kind":"branch"}` from (gate_id, outcome, next_stage_id) rules."""
    return {
        "kind": "branch",
        "branches": [
            {"gate_id": gate_id, "outcome": outcome, "next_stage_id": target}
            for gate_id, outcome, target in rules
        ],
        "default": default,
    }


def scenario_json(
    stages: Sequence[JsonValue],
    conditions: Sequence[JsonValue] = (),
    *,
    scenario_id: str = "scenario",
) -> dict[str, JsonValue]:
    return {
        "scenario_id": scenario_id,
        "namespace_id": 1,
        "spec_version": "1",
        "stages": list(stages),
        "conditions": list(conditions),
        "policies": [],
        "schemas": [],
        "default_tenant_id": None,
    }


def compile_json(spec: JsonValue) -> Scenario:
    """Parse and compile a spec given as JSON."""
    return compile_scenario(parse(ScenarioSpec, spec))


def ready_gate_stage(stage_id: str = "stage-1", **options: Any) -> dict[str, JsonValue]:
    """The vectors' usual stage: gate `gate-ready` over condition `ready`."""
    return stage(stage_id, [gate("gate-ready", cond("ready"))], **options)


READY = condition("ready")


def json_payload(value: JsonValue) -> JsonPayload:
    return JsonPayload(value)
