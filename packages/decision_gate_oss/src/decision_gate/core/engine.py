"""The engine: pure transitions `(scenario, head, input) -> (delta, output)`.

Every control-plane operation of the reference (core.md §4) is a function here
that reads a `RunHead` and returns a `RunDelta` to persist plus the caller's
result. Evaluation is two-phase: `plan_trigger` names the evidence a trigger
needs, the shell fetches it (concurrently, in any order), and `apply_trigger`
decides. Evidence arrives as a mapping keyed by condition id, so arrival order
cannot change a result or a byte.

Anything that needs history (has this trigger id been decided? what did the
last decision issue?) is looked up by the shell and passed in, so the cost of a
call never depends on how long the run is. Errors that the reference does not
persist (evidence too large, no branch matched, timestamp kinds differ, ...)
are raised and produce no delta; the two it does persist (providers missing,
submission conflict) come back as a delta together with the error, and the
shell saves before it raises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import attrs

from decision_gate.core.anchors import anchor_problem
from decision_gate.core.canonical import (
    CanonicalizationError,
    HashDigest,
    SizeLimitExceeded,
    hash_bytes,
    hash_canonical,
    hash_canonical_with_limit,
)
from decision_gate.core.comparators import evaluate_comparator
from decision_gate.core.errors import Conflict, ControlPlaneError
from decision_gate.core.evidence import BytesEvidence, EvidenceValue
from decision_gate.core.jsonvalue import strict_equal
from decision_gate.core.model import (
    I64_MAX,
    U64_MAX,
    AdvanceOutcome,
    Branch,
    BytesPayload,
    CompleteOutcome,
    ConditionSpec,
    DecisionOutcome,
    DecisionRecord,
    DispatchReceipt,
    DispatchTarget,
    EvidenceAnchorPolicy,
    EvidenceContext,
    EvidenceProviderError,
    EvidenceQuery,
    EvidenceRecord,
    EvidenceResult,
    FailOutcome,
    Fixed,
    GateEvalRecord,
    GateEvaluation,
    GateSpec,
    GateTraceEntry,
    HoldOutcome,
    JsonPayload,
    Linear,
    MessageDetails,
    NextRequest,
    PacketEnvelope,
    PacketPayload,
    PacketRecord,
    PrecheckResult,
    ProviderMissingDetails,
    RunConfig,
    RunStatus,
    SafeSummary,
    ScenarioSpec,
    ScenarioStatus,
    StageSpec,
    StartOutcome,
    StatusRequest,
    SubmissionRecord,
    SubmitRequest,
    SubmitResult,
    Terminal,
    Timestamp,
    ToolCallError,
    ToolCallRecord,
    TriggerEvent,
    TriggerKind,
    TriggerRecord,
    TriggerResult,
    TrustLane,
    TrustRequirement,
    UnixMillis,
    VisibilityPolicy,
    to_json,
)
from decision_gate.core.requirement import (
    CompiledRequirement,
    compile_requirement,
    condition_ids,
    evaluate_requirement,
)
from decision_gate.core.runlog import LogKind, RunDelta, RunHead, append_records, new_head
from decision_gate.core.tristate import GateOutcome, LogicMode, TriState
from decision_gate.core.validation import validate_spec

EVIDENCE_MAX_BYTES: Final = 1024 * 1024
PAYLOAD_MAX_BYTES: Final = 2 * 1024 * 1024
INIT_TRIGGER_ID: Final = "init"

# --------------------------------------------------------------------------- errors


class ScenarioMismatch(ControlPlaneError):
    def __init__(self, scenario_id: str) -> None:
        super().__init__(f"scenario mismatch for run: {scenario_id}")


class NamespaceMismatch(ControlPlaneError):
    """Names the namespace the run asked for, as the reference's text does."""

    def __init__(self, namespace_id: str) -> None:
        super().__init__(f"namespace mismatch for run: {namespace_id}")


class RunAlreadyExists(ControlPlaneError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run already exists: {run_id}")


class RunNotFound(ControlPlaneError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run not found: {run_id}")


class RunMismatch(ControlPlaneError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"trigger run mismatch: {run_id}")


class RunInactive(ControlPlaneError):
    def __init__(self, status: RunStatus) -> None:
        super().__init__(f"run is not active: {status.value.capitalize()}")


class SubmissionConflict(Conflict):
    def __init__(self, submission_id: str) -> None:
        self.submission_id = submission_id
        super().__init__(f"submission_id conflict: {submission_id}")


class EvidenceTooLarge(ControlPlaneError):
    def __init__(self, actual: int, limit: int) -> None:
        super().__init__(f"evidence payload exceeds size limit ({actual} > {limit})")


class PayloadTooLarge(ControlPlaneError):
    def __init__(self, actual: int, limit: int) -> None:
        super().__init__(f"payload exceeds size limit ({actual} > {limit})")


class StageNotFound(ControlPlaneError):
    def __init__(self, stage_id: str) -> None:
        super().__init__(f"unknown stage identifier: {stage_id}")


class GateResolutionFailed(ControlPlaneError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"gate resolution failed: {detail}")


class TriggerTimeMismatch(ControlPlaneError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"trigger time kind mismatch: {detail}")


class TimeoutCalculation(ControlPlaneError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"timeout calculation error: {detail}")


class PolicyDenied(ControlPlaneError):
    def __init__(self) -> None:
        super().__init__("policy denied disclosure")


class PolicyFailure(ControlPlaneError):
    """A policy decider that raised: disclosure fails closed."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"policy decision error: {detail}")


class DispatchFailure(ControlPlaneError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"dispatch error: {detail}")


class ProviderMissing(ControlPlaneError):
    def __init__(self, details: ProviderMissingDetails) -> None:
        self.details = details
        super().__init__(
            "provider validation failed: "
            f"missing providers {list(details.missing_providers)}, "
            f"required capabilities {list(details.required_capabilities)}, "
            f"blocked by policy {str(details.blocked_by_policy).lower()}"
        )


class PayloadHashing(ControlPlaneError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"payload hashing error: {detail}")


# --------------------------------------------------------------------------- seams the engine calls


class PolicyDecider(Protocol):
    """Decides whether an entry packet may be disclosed to a dispatch target.

    Raising fails the disclosure closed (the run fails with the error text).
    """

    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool: ...


class Dispatcher(Protocol):
    """Delivers a disclosed packet and returns a receipt; must be deterministic
    for the same inputs, since receipts are hashed into runpacks."""

    def dispatch(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> DispatchReceipt: ...


class PermitAll:
    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool:
        return True


class RecordingDispatcher:
    """Records a disclosure without delivering it anywhere: the receipt is a hash
    of what would have been sent, stamped with the packet's issue time."""

    name: Final = "decision-gate.record"

    def dispatch(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> DispatchReceipt:
        receipt_hash = hash_canonical({"envelope": to_json(envelope), "target": to_json(target)})
        return DispatchReceipt(
            dispatch_id=f"dispatch-{receipt_hash.value[:16]}",
            target=target,
            receipt_hash=receipt_hash,
            dispatched_at=envelope.issued_at,
            dispatcher=self.name,
        )


# --------------------------------------------------------------------------- configuration


@attrs.frozen
class SpecOrder:
    """Query conditions in spec order (gate by gate, depth first)."""


@attrs.frozen
class DeterministicShuffle:
    """Query conditions in an order keyed by sha256("{seed}:{condition_id}")."""

    seed: int


@attrs.frozen
class EngineConfig:
    """The reference's `ControlPlaneConfig`."""

    trust_requirement: TrustRequirement = attrs.field(factory=TrustRequirement)
    anchor_policy: EvidenceAnchorPolicy = attrs.field(factory=EvidenceAnchorPolicy)
    provider_trust_overrides: Mapping[str, TrustRequirement] = attrs.field(factory=dict)
    condition_eval_order: SpecOrder | DeterministicShuffle = SpecOrder()
    logic_mode: LogicMode = LogicMode.KLEENE


# --------------------------------------------------------------------------- compiled scenarios


@attrs.frozen
class Scenario:
    """A validated spec with the lookups every call needs, built once per definition."""

    spec: ScenarioSpec
    spec_json: Any
    spec_hash: HashDigest
    stages: Mapping[str, StageSpec]
    stage_order: tuple[str, ...]
    conditions: Mapping[str, ConditionSpec]
    stage_conditions: Mapping[str, tuple[str, ...]]
    gate_conditions: Mapping[str, tuple[str, ...]]
    kleene_gates: Mapping[str, CompiledRequirement]

    @property
    def scenario_id(self) -> str:
        return self.spec.scenario_id

    def stage(self, stage_id: str) -> StageSpec:
        try:
            return self.stages[stage_id]
        except KeyError:
            raise StageNotFound(stage_id) from None


def compile_scenario(spec: ScenarioSpec) -> Scenario:
    """Validate `spec` (raising `InvalidSpec`) and precompute its lookups."""
    validate_spec(spec)
    spec_json = to_json(spec)
    gate_conditions: dict[str, tuple[str, ...]] = {}
    stage_conditions: dict[str, tuple[str, ...]] = {}
    for stage in spec.stages:
        in_stage: dict[str, None] = {}
        for gate in stage.gates:
            ids = tuple(dict.fromkeys(condition_ids(gate.requirement)))
            gate_conditions[gate.gate_id] = ids
            in_stage.update(dict.fromkeys(ids))
        stage_conditions[stage.stage_id] = tuple(in_stage)
    return Scenario(
        spec=spec,
        spec_json=spec_json,
        spec_hash=hash_canonical(spec_json),
        stages={stage.stage_id: stage for stage in spec.stages},
        stage_order=tuple(stage.stage_id for stage in spec.stages),
        conditions={c.condition_id: c for c in spec.conditions},
        stage_conditions=stage_conditions,
        gate_conditions=gate_conditions,
        kleene_gates={
            gate.gate_id: compile_requirement(gate.requirement)
            for stage in spec.stages
            for gate in stage.gates
        },
    )


# --------------------------------------------------------------------------- hashing


def evidence_hash(value: EvidenceValue) -> HashDigest:
    """sha256 of the canonical JSON or raw bytes; over 1 MiB is `EvidenceTooLarge`."""
    if isinstance(value, BytesEvidence):
        if len(value.value) > EVIDENCE_MAX_BYTES:
            raise EvidenceTooLarge(len(value.value), EVIDENCE_MAX_BYTES)
        return hash_bytes(value.value)
    try:
        return hash_canonical_with_limit(value.value, EVIDENCE_MAX_BYTES)
    except SizeLimitExceeded as error:
        raise EvidenceTooLarge(error.actual, error.limit) from None


def payload_hash(payload: PacketPayload) -> HashDigest:
    """The content hash of a packet or submission payload (2 MiB limit)."""
    if isinstance(payload, JsonPayload):
        try:
            return hash_canonical_with_limit(payload.value, PAYLOAD_MAX_BYTES)
        except SizeLimitExceeded as error:
            raise PayloadTooLarge(error.actual, error.limit) from None
    if isinstance(payload, BytesPayload):
        if len(payload.bytes) > PAYLOAD_MAX_BYTES:
            raise PayloadTooLarge(len(payload.bytes), PAYLOAD_MAX_BYTES)
        return hash_bytes(payload.bytes)
    declared = payload.content_ref.content_hash
    if declared.algorithm != "sha256":
        raise PayloadHashing(f"unsupported content hash algorithm {declared.algorithm}")
    return declared


def _hash_of(value: Any) -> HashDigest:
    try:
        return hash_canonical(to_json(value))
    except CanonicalizationError as error:
        raise ControlPlaneError(f"tool-call hashing error: {error}") from None


# --------------------------------------------------------------------------- start


def start_run(
    scenario: Scenario,
    config: RunConfig,
    started_at: Timestamp,
    issue_entry_packets: bool,
    *,
    policy: PolicyDecider | None = None,
    dispatcher: Dispatcher | None = None,
) -> RunDelta:
    """Create a run (the delta has `previous_version == 0`). The caller ensures the
    run does not exist yet; the store's compare-and-set enforces it too."""
    spec = scenario.spec
    if config.scenario_id != spec.scenario_id:
        raise ScenarioMismatch(config.scenario_id)
    if config.namespace_id != spec.namespace_id:
        raise NamespaceMismatch(str(config.namespace_id))
    first = spec.stages[0]
    head = new_head(
        tenant_id=config.tenant_id,
        namespace_id=config.namespace_id,
        run_id=config.run_id,
        scenario_id=spec.scenario_id,
        spec_hash=scenario.spec_hash,
        current_stage_id=first.stage_id,
        stage_entered_at=started_at,
        dispatch_targets=config.dispatch_targets,
    )
    if not issue_entry_packets:
        return append_records(head, [])
    trigger = TriggerEvent(
        trigger_id=INIT_TRIGGER_ID,
        tenant_id=config.tenant_id,
        namespace_id=config.namespace_id,
        run_id=config.run_id,
        kind=TriggerKind.EXTERNAL_EVENT,
        time=started_at,
        source_id="system",
    )
    decision = DecisionRecord(
        decision_id="decision-1",
        seq=1,  # type: ignore[arg-type]
        trigger_id=INIT_TRIGGER_ID,
        stage_id=first.stage_id,
        decided_at=started_at,
        outcome=StartOutcome(stage_id=first.stage_id),
    )
    packets = _issue_packets(scenario, head, first, decision, policy, dispatcher)
    appended: list[tuple[LogKind, Any]] = [(LogKind.TRIGGERS, TriggerRecord(seq=1, event=trigger))]  # type: ignore[arg-type]
    appended += [(LogKind.PACKETS, packet) for packet in packets]
    appended.append((LogKind.DECISIONS, decision))
    return append_records(head, appended, last_decision=decision)


# --------------------------------------------------------------------------- triggers


@attrs.frozen
class EvidenceRequest:
    """One query the shell must run before `apply_trigger` can decide."""

    condition_id: str
    query: EvidenceQuery
    context: EvidenceContext


@attrs.frozen
class ProviderFailure:
    """A provider that raised instead of answering; recorded as `provider_error`."""

    message: str


EvidenceOutcome = EvidenceResult | ProviderFailure


@attrs.frozen
class PriorDecision:
    """A decision already on record that answers this trigger (replay, or a finished run)."""

    decision: DecisionRecord
    packets: tuple[PacketRecord, ...]


def next_request_trigger(request: NextRequest) -> TriggerEvent:
    """The trigger event `scenario_next` stands for."""
    return TriggerEvent(
        trigger_id=request.trigger_id,
        tenant_id=request.tenant_id,
        namespace_id=request.namespace_id,
        run_id=request.run_id,
        kind=TriggerKind.AGENT_REQUEST_NEXT,
        time=request.time,
        source_id=request.agent_id,
        payload=None,
        correlation_id=request.correlation_id,
    )


def plan_trigger(
    scenario: Scenario,
    head: RunHead,
    trigger: TriggerEvent,
    prior: PriorDecision | None,
    config: EngineConfig = EngineConfig(),
) -> tuple[EvidenceRequest, ...]:
    """The evidence `apply_trigger` will need, in provider call order.

    Nothing is needed when the run is finished, the trigger is a replay, or a
    stage timeout fires (a timeout preempts evaluation).
    """
    if head.status is not RunStatus.ACTIVE or prior is not None:
        return ()
    stage = scenario.stage(head.current_stage_id)
    if _timeout_fires(stage, head, trigger):
        return ()
    context = EvidenceContext(
        tenant_id=head.tenant_id,
        namespace_id=head.namespace_id,
        run_id=head.run_id,
        scenario_id=scenario.scenario_id,
        stage_id=stage.stage_id,
        trigger_id=trigger.trigger_id,
        trigger_time=trigger.time,
        correlation_id=trigger.correlation_id,
    )
    ids = _ordered(scenario.stage_conditions[stage.stage_id], config.condition_eval_order)
    return tuple(
        EvidenceRequest(condition_id, scenario.conditions[condition_id].query, context)
        for condition_id in ids
    )


def _ordered(ids: Sequence[str], order: SpecOrder | DeterministicShuffle) -> tuple[str, ...]:
    if isinstance(order, SpecOrder):
        return tuple(ids)
    return tuple(
        sorted(
            ids,
            key=lambda cid: (hashlib.sha256(f"{order.seed}:{cid}".encode()).hexdigest(), cid),
        )
    )


def apply_trigger(
    scenario: Scenario,
    head: RunHead,
    trigger: TriggerEvent,
    *,
    method: str,
    request: Any,
    prior: PriorDecision | None,
    evidence: Mapping[str, EvidenceOutcome],
    config: EngineConfig = EngineConfig(),
    policy: PolicyDecider | None = None,
    dispatcher: Dispatcher | None = None,
) -> tuple[RunDelta, TriggerResult]:
    """Decide one trigger (core.md §4.6 step 3–4).

    `method` is "scenario.next" or "scenario.trigger" and `request` the model
    value hashed into the tool-call record (`NextRequest` or `TriggerEvent`).
    `prior` must be given when the run is not active (its last decision and
    that decision's packets) or when a decision with this trigger id exists.
    """
    appended: list[tuple[LogKind, Any]] = []
    changes: dict[str, Any] = {}
    if head.status is not RunStatus.ACTIVE:
        if head.last_decision is None:
            raise RunInactive(head.status)
        packets = prior.packets if prior is not None else ()
        result = TriggerResult(head.last_decision, packets, head.status)
    else:
        if trigger.run_id != head.run_id:
            raise RunMismatch(trigger.run_id)
        if prior is not None:
            result = TriggerResult(prior.decision, prior.packets, head.status)
        else:
            appended.append(
                (LogKind.TRIGGERS, TriggerRecord(seq=head.counts.triggers + 1, event=trigger))  # type: ignore[arg-type]
            )
            result = _decide(
                scenario, head, trigger, evidence, config, policy, dispatcher, appended, changes
            )
    appended.append(
        (
            LogKind.TOOL_CALLS,
            ToolCallRecord(
                call_id=f"call-{head.counts.tool_calls + 1}",
                method=method,
                request_hash=_hash_of(request),
                response_hash=_hash_of(result),
                called_at=trigger.time,
                correlation_id=trigger.correlation_id,
            ),
        )
    )
    return append_records(head, appended, **changes), result


def _decide(
    scenario: Scenario,
    head: RunHead,
    trigger: TriggerEvent,
    evidence: Mapping[str, EvidenceOutcome],
    config: EngineConfig,
    policy: PolicyDecider | None,
    dispatcher: Dispatcher | None,
    appended: list[tuple[LogKind, Any]],
    changes: dict[str, Any],
) -> TriggerResult:
    stage = scenario.stage(head.current_stage_id)
    seq = head.counts.decisions + 1
    decision_base = {
        "decision_id": f"decision-{seq}",
        "seq": seq,
        "trigger_id": trigger.trigger_id,
        "stage_id": stage.stage_id,
        "decided_at": trigger.time,
        "correlation_id": trigger.correlation_id,
    }
    if _timeout_fires(stage, head, trigger):
        outcome_gates = _timeout_outcomes(stage)
        if outcome_gates is None:
            return _record_decision(
                head,
                decision_base,
                FailOutcome(reason="timeout"),
                (),
                RunStatus.FAILED,
                appended,
                changes,
            )
        return _transition(
            scenario,
            head,
            stage,
            outcome_gates,
            True,
            decision_base,
            trigger,
            policy,
            dispatcher,
            appended,
            changes,
        )
    records = _normalised_records(scenario, stage, evidence, config)
    evaluations = evaluate_gates(scenario, stage, records, config)
    for evaluation, gate_records in evaluations:
        appended.append(
            (
                LogKind.GATE_EVALS,
                GateEvalRecord(
                    trigger_id=trigger.trigger_id,
                    stage_id=stage.stage_id,
                    evaluation=evaluation,
                    evidence=gate_records,
                ),
            )
        )
    statuses = {evaluation.gate_id: evaluation.status for evaluation, _ in evaluations}
    if all(status is TriState.TRUE for status in statuses.values()):
        return _transition(
            scenario,
            head,
            stage,
            statuses,
            False,
            decision_base,
            trigger,
            policy,
            dispatcher,
            appended,
            changes,
        )
    return _record_decision(
        head,
        decision_base,
        HoldOutcome(summary=hold_summary(statuses)),
        (),
        RunStatus.ACTIVE,
        appended,
        changes,
    )


def hold_summary(statuses: Mapping[str, TriState]) -> SafeSummary:
    """The summary of a hold: which gates are unmet, never any evidence."""
    return SafeSummary(
        status="hold",
        unmet_gates=tuple(gate for gate, status in statuses.items() if status is not TriState.TRUE),
        retry_hint="await_evidence",
        policy_tags=(),
    )


def _transition(
    scenario: Scenario,
    head: RunHead,
    stage: StageSpec,
    outcomes: Mapping[str, TriState],
    timed_out: bool,
    decision_base: dict[str, Any],
    trigger: TriggerEvent,
    policy: PolicyDecider | None,
    dispatcher: Dispatcher | None,
    appended: list[tuple[LogKind, Any]],
    changes: dict[str, Any],
) -> TriggerResult:
    target = resolve_next_stage(scenario, stage, outcomes)
    if target is None:
        return _record_decision(
            head,
            decision_base,
            CompleteOutcome(stage_id=stage.stage_id),
            (),
            RunStatus.COMPLETED,
            appended,
            changes,
        )
    outcome = AdvanceOutcome(from_stage=stage.stage_id, to_stage=target, timeout=timed_out)
    decision = DecisionRecord(outcome=outcome, **decision_base)
    try:
        packets = _issue_packets(
            scenario, head, scenario.stage(target), decision, policy, dispatcher
        )
    except (PolicyDenied, PolicyFailure, DispatchFailure, PayloadTooLarge, PayloadHashing) as error:
        return _record_decision(
            head,
            decision_base,
            FailOutcome(reason=str(error)),
            (),
            RunStatus.FAILED,
            appended,
            changes,
        )
    changes["current_stage_id"] = target
    changes["stage_entered_at"] = trigger.time
    return _record_decision(
        head, decision_base, outcome, packets, RunStatus.ACTIVE, appended, changes
    )


def _record_decision(
    head: RunHead,
    decision_base: dict[str, Any],
    outcome: DecisionOutcome,
    packets: tuple[PacketRecord, ...],
    status: RunStatus,
    appended: list[tuple[LogKind, Any]],
    changes: dict[str, Any],
) -> TriggerResult:
    decision = DecisionRecord(outcome=outcome, **decision_base)
    appended.append((LogKind.DECISIONS, decision))
    appended.extend((LogKind.PACKETS, packet) for packet in packets)
    changes["last_decision"] = decision
    changes["status"] = status
    return TriggerResult(decision, packets, status)


def resolve_next_stage(
    scenario: Scenario, stage: StageSpec, outcomes: Mapping[str, TriState]
) -> str | None:
    """The stage to advance to when the gates have `outcomes`; None completes the run."""
    advance = stage.advance_to
    if isinstance(advance, Linear):
        index = scenario.stage_order.index(stage.stage_id)
        following = scenario.stage_order[index + 1 : index + 2]
        return following[0] if following else None
    if isinstance(advance, Fixed):
        return advance.stage_id
    if isinstance(advance, Terminal):
        return None
    assert isinstance(advance, Branch)
    for rule in advance.branches:
        status = outcomes.get(rule.gate_id, TriState.UNKNOWN)
        if GateOutcome.of(status) is rule.outcome:
            return rule.next_stage_id
    if advance.default is not None:
        return advance.default
    raise GateResolutionFailed("no branch matched")


def _timeout_fires(stage: StageSpec, head: RunHead, trigger: TriggerEvent) -> bool:
    if trigger.kind is not TriggerKind.TICK or stage.timeout is None:
        return False
    entered, now = head.stage_entered_at, trigger.time
    if type(entered) is not type(now):
        raise TriggerTimeMismatch("timeout evaluation requires matching timestamp kinds")
    deadline = entered.value + stage.timeout.timeout_ms
    limit = I64_MAX if isinstance(entered, UnixMillis) else U64_MAX
    if deadline > limit:
        raise TimeoutCalculation("stage deadline overflows the timestamp range")
    return now.value >= deadline


def _timeout_outcomes(stage: StageSpec) -> dict[str, TriState] | None:
    """Synthetic gate outcomes for an expired stage; None means the run fails."""
    policy = stage.on_timeout.value
    if policy == "fail":
        return None
    synthetic = TriState.TRUE if policy == "advance_with_flag" else TriState.UNKNOWN
    return {gate.gate_id: synthetic for gate in stage.gates}


# --------------------------------------------------------------------------- evidence and gates


def normalise_evidence(
    condition: ConditionSpec, outcome: EvidenceOutcome | None, anchor_policy: EvidenceAnchorPolicy
) -> EvidenceRecord:
    """A provider's answer as recorded: errors clear the value, values get our hash."""
    if outcome is None or isinstance(outcome, ProviderFailure):
        message = outcome.message if outcome is not None else "no result returned"
        result = EvidenceResult(
            error=EvidenceProviderError(
                code="provider_error", message=f"evidence provider error: {message}"
            )
        )
    else:
        result = outcome
        requirement = anchor_policy.requirement_for(condition.query.provider_id)
        if result.error is None and requirement is not None:
            problem = anchor_problem(result.evidence_anchor, requirement)
            if problem is not None:
                result = EvidenceResult(
                    error=EvidenceProviderError(code="anchor_invalid", message=problem)
                )
    return _record_for(condition, result)


def _record_for(condition: ConditionSpec, result: EvidenceResult) -> EvidenceRecord:
    if result.error is not None:
        result = attrs.evolve(result, value=None, evidence_hash=None, content_type=None)
        return EvidenceRecord(condition.condition_id, TriState.UNKNOWN, result)
    if result.value is not None:
        result = attrs.evolve(result, evidence_hash=evidence_hash(result.value))
    status = evaluate_comparator(condition.comparator, condition.expected, result.value)
    return EvidenceRecord(condition.condition_id, status, result)


def _normalised_records(
    scenario: Scenario,
    stage: StageSpec,
    evidence: Mapping[str, EvidenceOutcome],
    config: EngineConfig,
) -> dict[str, EvidenceRecord]:
    return {
        condition_id: normalise_evidence(
            scenario.conditions[condition_id], evidence.get(condition_id), config.anchor_policy
        )
        for condition_id in scenario.stage_conditions[stage.stage_id]
    }


def _effective_trust(
    condition: ConditionSpec, gate: GateSpec, config: EngineConfig
) -> TrustRequirement:
    base = config.provider_trust_overrides.get(
        condition.query.provider_id, config.trust_requirement
    )
    condition_requirement = base.stricter(condition.trust or base)
    gate_requirement = config.trust_requirement.stricter(gate.trust or config.trust_requirement)
    return condition_requirement.stricter(gate_requirement)


def _lane_name(lane: TrustLane) -> str:
    return lane.value.capitalize()


def evaluate_gates(
    scenario: Scenario,
    stage: StageSpec,
    records: Mapping[str, EvidenceRecord],
    config: EngineConfig,
) -> list[tuple[GateEvaluation, tuple[EvidenceRecord, ...]]]:
    """Each gate of `stage`, in order: trust applied per gate, evidence sorted by
    condition id, the requirement evaluated with its trace."""
    evaluations = []
    for gate in stage.gates:
        gate_records = []
        for condition_id in scenario.gate_conditions[gate.gate_id]:
            record = records[condition_id]
            requirement = _effective_trust(scenario.conditions[condition_id], gate, config)
            if not record.result.lane.satisfies(requirement):
                result = record.result
                if result.error is None:
                    result = attrs.evolve(
                        result,
                        error=EvidenceProviderError(
                            code="trust_lane",
                            message=(
                                f"evidence lane {_lane_name(result.lane)} does not satisfy "
                                f"{_lane_name(requirement.min_lane)}"
                            ),
                        ),
                    )
                record = EvidenceRecord(condition_id, TriState.UNKNOWN, result)
            gate_records.append(record)
        gate_records.sort(key=lambda r: r.condition_id)
        by_id: dict[str, TriState] = {}
        for record in gate_records:
            by_id.setdefault(record.condition_id, record.status)

        def leaf_status(condition_id: str, statuses: dict[str, TriState] = by_id) -> TriState:
            return statuses.get(condition_id, TriState.UNKNOWN)

        if config.logic_mode is LogicMode.KLEENE:
            status, trace = scenario.kleene_gates[gate.gate_id](leaf_status)
        else:
            status, trace = evaluate_requirement(gate.requirement, leaf_status, config.logic_mode)
        evaluations.append(
            (
                GateEvaluation(
                    gate_id=gate.gate_id,
                    status=status,
                    trace=tuple(GateTraceEntry(cid, s) for cid, s in trace),
                ),
                tuple(gate_records),
            )
        )
    return evaluations


# --------------------------------------------------------------------------- packets


def _issue_packets(
    scenario: Scenario,
    head: RunHead,
    stage: StageSpec,
    decision: DecisionRecord,
    policy: PolicyDecider | None,
    dispatcher: Dispatcher | None,
) -> tuple[PacketRecord, ...]:
    dispatcher = dispatcher or RecordingDispatcher()
    records = []
    for packet in stage.entry_packets:
        envelope = PacketEnvelope(
            scenario_id=scenario.scenario_id,
            run_id=head.run_id,
            stage_id=stage.stage_id,
            packet_id=packet.packet_id,
            schema_id=packet.schema_id,
            content_type=packet.content_type,
            content_hash=payload_hash(packet.payload),
            visibility=VisibilityPolicy(
                labels=packet.visibility_labels, policy_tags=packet.policy_tags
            ),
            expiry=packet.expiry,
            correlation_id=decision.correlation_id,
            issued_at=decision.decided_at,
        )
        receipts = []
        for target in head.dispatch_targets:
            if policy is not None:
                try:
                    permitted = policy.authorize(target, envelope, packet.payload)
                except ControlPlaneError:
                    raise
                except Exception as error:  # noqa: BLE001 - any decider failure denies
                    raise PolicyFailure(str(error) or type(error).__name__) from None
                if not permitted:
                    raise PolicyDenied()
            try:
                receipts.append(dispatcher.dispatch(target, envelope, packet.payload))
            except ControlPlaneError:
                raise
            except Exception as error:  # noqa: BLE001 - any dispatcher failure fails the disclosure
                raise DispatchFailure(str(error) or type(error).__name__) from None
        records.append(
            PacketRecord(
                envelope=envelope,
                payload=packet.payload,
                receipts=tuple(receipts),
                decision_id=decision.decision_id,
            )
        )
    return tuple(records)


# ---------------------------------------------------------------- status, submit, failures


def scenario_status(
    scenario_id: str, head: RunHead, request: StatusRequest, issued_packet_ids: tuple[str, ...]
) -> tuple[RunDelta, ScenarioStatus]:
    """Status is not read-only: it appends a tool-call record, as the reference does."""
    last = head.last_decision
    summary = (
        last.outcome.summary if last is not None and isinstance(last.outcome, HoldOutcome) else None
    )
    status = ScenarioStatus(
        run_id=head.run_id,
        scenario_id=scenario_id,
        current_stage_id=head.current_stage_id,
        status=head.status,
        last_decision=last,
        issued_packet_ids=issued_packet_ids,
        safe_summary=summary,
    )
    call = ToolCallRecord(
        call_id=f"call-{head.counts.tool_calls + 1}",
        method="scenario.status",
        request_hash=_hash_of(request),
        response_hash=_hash_of(status),
        called_at=request.requested_at,
        correlation_id=request.correlation_id,
    )
    return append_records(head, [(LogKind.TOOL_CALLS, call)]), status


def submit(
    head: RunHead, request: SubmitRequest, existing: SubmissionRecord | None
) -> tuple[RunDelta, SubmitResult | SubmissionConflict]:
    """Record a submission; a reused id with other content is a conflict that is
    itself recorded (the delta must be saved before the error is raised)."""
    call_id = f"call-{head.counts.tool_calls + 1}"
    if existing is not None:
        if existing.content_type == request.content_type and _same_payload(
            existing.payload, request.payload
        ):
            result = SubmitResult(record=existing)
            call = ToolCallRecord(
                call_id=call_id,
                method="scenario.submit",
                request_hash=_hash_of(request),
                response_hash=_hash_of(result),
                called_at=request.submitted_at,
                correlation_id=request.correlation_id,
            )
            return append_records(head, [(LogKind.TOOL_CALLS, call)]), result
        error = ToolCallError(
            code="submission_conflict",
            message="submission_id conflicts with existing record",
            details=MessageDetails(info=f"submission_id={request.submission_id}"),
        )
        call = ToolCallRecord(
            call_id=call_id,
            method="scenario.submit",
            request_hash=_hash_of(request),
            response_hash=_hash_of(error),
            called_at=request.submitted_at,
            correlation_id=request.correlation_id,
            error=error,
        )
        return append_records(head, [(LogKind.TOOL_CALLS, call)]), SubmissionConflict(
            request.submission_id
        )
    record = SubmissionRecord(
        submission_id=request.submission_id,
        run_id=head.run_id,
        payload=request.payload,
        content_type=request.content_type,
        content_hash=payload_hash(request.payload),
        submitted_at=request.submitted_at,
        correlation_id=request.correlation_id,
    )
    result = SubmitResult(record=record)
    call = ToolCallRecord(
        call_id=call_id,
        method="scenario.submit",
        request_hash=_hash_of(request),
        response_hash=_hash_of(result),
        called_at=request.submitted_at,
        correlation_id=request.correlation_id,
    )
    return append_records(head, [(LogKind.SUBMISSIONS, record), (LogKind.TOOL_CALLS, call)]), result


def _same_payload(a: PacketPayload, b: PacketPayload) -> bool:
    # The reference compares payloads with serde_json's `==`, where 1, 1.0 and
    # true all differ. Python's `==` conflates them, and so do canonical hashes
    # (1.0 is written as 1), so JSON payloads use the reference's strict equality.
    if isinstance(a, JsonPayload) and isinstance(b, JsonPayload):
        return strict_equal(a.value, b.value)
    return type(a) is type(b) and a == b


def provider_missing(
    head: RunHead,
    *,
    method: str,
    request: Any,
    called_at: Timestamp,
    correlation_id: str | None,
    details: ProviderMissingDetails,
) -> tuple[RunDelta, ProviderMissing]:
    """The recorded failure when a scenario's providers are missing or blocked."""
    error = ToolCallError(
        code="provider_missing",
        message="required evidence providers are missing or blocked",
        details=details,
    )
    call = ToolCallRecord(
        call_id=f"call-{head.counts.tool_calls + 1}",
        method=method,
        request_hash=_hash_of(request),
        response_hash=_hash_of(error),
        called_at=called_at,
        correlation_id=correlation_id,
        error=error,
    )
    return append_records(head, [(LogKind.TOOL_CALLS, call)]), ProviderMissing(details)


# --------------------------------------------------------------------------- precheck


def precheck(
    scenario: Scenario,
    stage_id: str | None,
    evidence: Mapping[str, EvidenceResult],
    config: EngineConfig = EngineConfig(),
) -> PrecheckResult:
    """What-if evaluation with supplied evidence: no providers, no anchors, no state."""
    stage = scenario.stage(stage_id) if stage_id is not None else scenario.spec.stages[0]
    records = {}
    for condition_id in scenario.stage_conditions[stage.stage_id]:
        supplied = evidence.get(condition_id, EvidenceResult(lane=TrustLane.ASSERTED))
        records[condition_id] = _record_for(scenario.conditions[condition_id], supplied)
    evaluations = evaluate_gates(scenario, stage, records, config)
    statuses = {evaluation.gate_id: evaluation.status for evaluation, _ in evaluations}
    decision: DecisionOutcome
    if all(status is TriState.TRUE for status in statuses.values()):
        target = resolve_next_stage(scenario, stage, statuses)
        decision = (
            CompleteOutcome(stage_id=stage.stage_id)
            if target is None
            else AdvanceOutcome(from_stage=stage.stage_id, to_stage=target, timeout=False)
        )
    else:
        decision = HoldOutcome(summary=hold_summary(statuses))
    return PrecheckResult(
        decision=decision, gate_evaluations=tuple(evaluation for evaluation, _ in evaluations)
    )
