"""The Decision Gate data model and its one wire converter.

Every value is a frozen attrs class; `CONVERTER` turns them to and from the
reference's wire form (serde's behaviour, core.md §1.1) and nothing else does:
- `Option` fields are emitted as null, except the skip-if-none fields
  (`GateSpec.trust`, `ConditionSpec.trust`, `EvidenceQuery.params`), which are
  omitted, because the bytes that get hashed depend on it;
- enums tagged by `kind` are internally tagged, `Timestamp` and evidence values
  adjacently tagged, requirements externally tagged (requirement.py);
- identifiers that are integers reject bools, floats and out-of-range values;
  strings reject non-strings; nothing is coerced.

Parsing is stricter than the reference in one deliberate way: unknown keys are
rejected (the published schemas say `additionalProperties: false`), so a typo
in a scenario is an error with its JSON path instead of a silently ignored field.
Lists are tuples so that every value is hashable and immutable.
"""

from __future__ import annotations

import builtins
import enum
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, NewType, TypeVar

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union
from cattrs.v import format_exception

from decision_gate.core.canonical import HashDigest
from decision_gate.core.comparators import Comparator
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import BytesEvidence, EvidenceValue, JsonEvidence
from decision_gate.core.jsonvalue import JsonValue, json_type_name
from decision_gate.core.requirement import Requirement, requirement_from_json, requirement_to_json
from decision_gate.core.tristate import GateOutcome, TriState

U64_MAX: Final = 2**64 - 1
I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1

TenantId = NewType("TenantId", int)
NamespaceId = NewType("NamespaceId", int)
U64 = NewType("U64", int)
I64 = NewType("I64", int)
U8 = NewType("U8", int)

# --------------------------------------------------------------------------- time


@attrs.frozen(order=True)
class UnixMillis:
    value: I64


@attrs.frozen(order=True)
class Logical:
    value: U64


Timestamp = UnixMillis | Logical

# --------------------------------------------------------------------------- trust


class TrustLane(enum.Enum):
    VERIFIED = "verified"
    ASSERTED = "asserted"

    @property
    def rank(self) -> int:
        return 1 if self is TrustLane.VERIFIED else 0

    def satisfies(self, requirement: TrustRequirement) -> bool:
        return self.rank >= requirement.min_lane.rank


@attrs.frozen
class TrustRequirement:
    min_lane: TrustLane = TrustLane.VERIFIED

    def stricter(self, other: TrustRequirement) -> TrustRequirement:
        """The higher of the two minimum lanes; ties keep `self`."""
        return other if other.min_lane.rank > self.min_lane.rank else self


# --------------------------------------------------------------------------- anchors


@attrs.frozen
class AnchorRequirement:
    anchor_type: str
    required_fields: tuple[str, ...]


@attrs.frozen
class ProviderAnchorPolicy:
    provider_id: str
    requirement: AnchorRequirement


@attrs.frozen
class EvidenceAnchorPolicy:
    """Per-provider anchor requirements; the first entry naming a provider wins."""

    providers: tuple[ProviderAnchorPolicy, ...] = ()

    def requirement_for(self, provider_id: str) -> AnchorRequirement | None:
        for entry in self.providers:
            if entry.provider_id == provider_id:
                return entry.requirement
        return None


# --------------------------------------------------------------------------- spec


@attrs.frozen
class PolicyRef:
    policy_id: str
    description: str | None = None


@attrs.frozen
class SchemaRef:
    schema_id: str
    version: str | None = None
    uri: str | None = None


@attrs.frozen
class ContentRef:
    uri: str
    content_hash: HashDigest
    encryption: str | None = None


@attrs.frozen
class JsonPayload:
    value: JsonValue


@attrs.frozen
class BytesPayload:
    bytes: builtins.bytes  # the wire name shadows the builtin inside the class


@attrs.frozen
class ExternalPayload:
    content_ref: ContentRef


PacketPayload = JsonPayload | BytesPayload | ExternalPayload


@attrs.frozen
class PacketSpec:
    packet_id: str
    schema_id: str
    content_type: str
    visibility_labels: tuple[str, ...]
    policy_tags: tuple[str, ...]
    payload: PacketPayload
    expiry: Timestamp | None = None


@attrs.frozen
class BranchRule:
    gate_id: str
    outcome: GateOutcome
    next_stage_id: str


@attrs.frozen
class Linear:
    pass


@attrs.frozen
class Fixed:
    stage_id: str


@attrs.frozen
class Branch:
    branches: tuple[BranchRule, ...]
    default: str | None = None


@attrs.frozen
class Terminal:
    pass


AdvanceTo = Linear | Fixed | Branch | Terminal


class TimeoutPolicy(enum.Enum):
    FAIL = "fail"
    ADVANCE_WITH_FLAG = "advance_with_flag"
    ALTERNATE_BRANCH = "alternate_branch"


@attrs.frozen
class TimeoutSpec:
    timeout_ms: U64
    policy_tags: tuple[str, ...]


@attrs.frozen
class GateSpec:
    gate_id: str
    requirement: Requirement
    trust: TrustRequirement | None = None


@attrs.frozen
class EvidenceQuery:
    provider_id: str
    check_id: str
    params: JsonValue = None


@attrs.frozen
class ConditionSpec:
    condition_id: str
    query: EvidenceQuery
    comparator: Comparator
    policy_tags: tuple[str, ...]
    expected: JsonValue = None
    trust: TrustRequirement | None = None


@attrs.frozen
class StageSpec:
    stage_id: str
    entry_packets: tuple[PacketSpec, ...]
    gates: tuple[GateSpec, ...]
    advance_to: AdvanceTo
    on_timeout: TimeoutPolicy
    timeout: TimeoutSpec | None = None


@attrs.frozen
class ScenarioSpec:
    scenario_id: str
    namespace_id: NamespaceId
    spec_version: str
    stages: tuple[StageSpec, ...]
    conditions: tuple[ConditionSpec, ...]
    policies: tuple[PolicyRef, ...]
    schemas: tuple[SchemaRef, ...]
    default_tenant_id: TenantId | None = None


# --------------------------------------------------------------------------- runs


@attrs.frozen
class AgentTarget:
    agent_id: str


@attrs.frozen
class SessionTarget:
    session_id: str


@attrs.frozen
class ExternalTarget:
    system: str
    target: str


@attrs.frozen
class ChannelTarget:
    channel: str


DispatchTarget = AgentTarget | SessionTarget | ExternalTarget | ChannelTarget


@attrs.frozen
class RunConfig:
    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    scenario_id: str
    dispatch_targets: tuple[DispatchTarget, ...]
    policy_tags: tuple[str, ...]


class RunStatus(enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


class TriggerKind(enum.Enum):
    AGENT_REQUEST_NEXT = "agent_request_next"
    TICK = "tick"
    EXTERNAL_EVENT = "external_event"
    BACKEND_EVENT = "backend_event"


@attrs.frozen
class TriggerEvent:
    trigger_id: str
    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    kind: TriggerKind
    time: Timestamp
    source_id: str
    payload: PacketPayload | None = None
    correlation_id: str | None = None


@attrs.frozen
class TriggerRecord:
    seq: U64
    event: TriggerEvent


@attrs.frozen
class EvidenceProviderError:
    code: str
    message: str
    details: JsonValue = None


@attrs.frozen
class EvidenceRef:
    uri: str


@attrs.frozen
class EvidenceAnchor:
    anchor_type: str
    anchor_value: str


@attrs.frozen
class EvidenceSignature:
    scheme: str
    key_id: str
    signature: bytes


@attrs.frozen
class EvidenceResult:
    value: EvidenceValue | None = None
    lane: TrustLane = TrustLane.VERIFIED
    error: EvidenceProviderError | None = None
    evidence_hash: HashDigest | None = None
    evidence_ref: EvidenceRef | None = None
    evidence_anchor: EvidenceAnchor | None = None
    signature: EvidenceSignature | None = None
    content_type: str | None = None


@attrs.frozen
class EvidenceRecord:
    condition_id: str
    status: TriState
    result: EvidenceResult


@attrs.frozen
class GateTraceEntry:
    condition_id: str
    status: TriState


@attrs.frozen
class GateEvaluation:
    gate_id: str
    status: TriState
    trace: tuple[GateTraceEntry, ...]


@attrs.frozen
class GateEvalRecord:
    trigger_id: str
    stage_id: str
    evaluation: GateEvaluation
    evidence: tuple[EvidenceRecord, ...]


@attrs.frozen
class SafeSummary:
    status: str
    unmet_gates: tuple[str, ...]
    retry_hint: str | None
    policy_tags: tuple[str, ...]


@attrs.frozen
class StartOutcome:
    stage_id: str


@attrs.frozen
class CompleteOutcome:
    stage_id: str


@attrs.frozen
class AdvanceOutcome:
    from_stage: str
    to_stage: str
    timeout: bool


@attrs.frozen
class HoldOutcome:
    summary: SafeSummary


@attrs.frozen
class FailOutcome:
    reason: str


DecisionOutcome = StartOutcome | CompleteOutcome | AdvanceOutcome | HoldOutcome | FailOutcome


@attrs.frozen
class DecisionRecord:
    decision_id: str
    seq: U64
    trigger_id: str
    stage_id: str
    decided_at: Timestamp
    outcome: DecisionOutcome
    correlation_id: str | None = None


@attrs.frozen
class VisibilityPolicy:
    labels: tuple[str, ...]
    policy_tags: tuple[str, ...]


@attrs.frozen
class PacketEnvelope:
    scenario_id: str
    run_id: str
    stage_id: str
    packet_id: str
    schema_id: str
    content_type: str
    content_hash: HashDigest
    visibility: VisibilityPolicy
    expiry: Timestamp | None
    correlation_id: str | None
    issued_at: Timestamp


@attrs.frozen
class DispatchReceipt:
    dispatch_id: str
    target: DispatchTarget
    receipt_hash: HashDigest
    dispatched_at: Timestamp
    dispatcher: str


@attrs.frozen
class PacketRecord:
    envelope: PacketEnvelope
    payload: PacketPayload
    receipts: tuple[DispatchReceipt, ...]
    decision_id: str


@attrs.frozen
class SubmissionRecord:
    submission_id: str
    run_id: str
    payload: PacketPayload
    content_type: str
    content_hash: HashDigest
    submitted_at: Timestamp
    correlation_id: str | None = None


@attrs.frozen
class ProviderMissingDetails:
    missing_providers: tuple[str, ...]
    required_capabilities: tuple[str, ...]
    blocked_by_policy: bool


@attrs.frozen
class MessageDetails:
    info: str


ToolCallErrorDetails = ProviderMissingDetails | MessageDetails


@attrs.frozen
class ToolCallError:
    code: str
    message: str
    details: ToolCallErrorDetails | None = None


@attrs.frozen
class ToolCallRecord:
    call_id: str
    method: str
    request_hash: HashDigest
    response_hash: HashDigest
    called_at: Timestamp
    correlation_id: str | None = None
    error: ToolCallError | None = None


@attrs.frozen
class RunState:
    """The complete record of one run; every list is append-only."""

    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    scenario_id: str
    spec_hash: HashDigest
    current_stage_id: str
    stage_entered_at: Timestamp
    status: RunStatus
    dispatch_targets: tuple[DispatchTarget, ...]
    triggers: tuple[TriggerRecord, ...] = ()
    gate_evals: tuple[GateEvalRecord, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    packets: tuple[PacketRecord, ...] = ()
    submissions: tuple[SubmissionRecord, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()


# --------------------------------------------------------------------------- requests


@attrs.frozen
class StatusRequest:
    run_id: str
    tenant_id: TenantId
    namespace_id: NamespaceId
    requested_at: Timestamp
    correlation_id: str | None = None


@attrs.frozen
class NextRequest:
    run_id: str
    tenant_id: TenantId
    namespace_id: NamespaceId
    trigger_id: str
    agent_id: str
    time: Timestamp
    correlation_id: str | None = None


@attrs.frozen
class SubmitRequest:
    run_id: str
    tenant_id: TenantId
    namespace_id: NamespaceId
    submission_id: str
    payload: PacketPayload
    content_type: str
    submitted_at: Timestamp
    correlation_id: str | None = None


@attrs.frozen
class TriggerResult:
    """The result of next and trigger (the reference's NextResult/TriggerResult)."""

    decision: DecisionRecord
    packets: tuple[PacketRecord, ...]
    status: RunStatus


@attrs.frozen
class SubmitResult:
    record: SubmissionRecord


@attrs.frozen
class ScenarioStatus:
    run_id: str
    scenario_id: str
    current_stage_id: str
    status: RunStatus
    last_decision: DecisionRecord | None
    issued_packet_ids: tuple[str, ...]
    safe_summary: SafeSummary | None


@attrs.frozen
class PrecheckResult:
    decision: DecisionOutcome
    gate_evaluations: tuple[GateEvaluation, ...]


@attrs.frozen
class EvidenceContext:
    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    scenario_id: str
    stage_id: str
    trigger_id: str
    trigger_time: Timestamp
    correlation_id: str | None = None


# --------------------------------------------------------------------------- converter

CONVERTER: Final = cattrs.Converter(forbid_extra_keys=True)
"""The one converter between model values and their wire (JSON) form."""


class _WireTypeError(TypeError):
    """A wire value of the wrong JSON type; its message is shown to the user as is."""


class _WireValueError(ValueError):
    """A wire value of the right type but out of range; its message is shown as is."""


def _object_first(cls: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """cattrs' generated hook for an attrs class, refusing non-objects first (the
    generated code would fail on them with an AttributeError nobody can read)."""
    structure_fields = make_dict_structure_fn(cls, converter)

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, dict):
            raise _WireTypeError(f"expected an object, got {json_type_name(value)}")
        return structure_fields(value, type_)

    return structure


CONVERTER.register_structure_hook_factory(attrs.has, _object_first)

_T = TypeVar("_T")


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise _WireTypeError(f"expected a string, got {json_type_name(value)}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise _WireTypeError(f"expected a boolean, got {json_type_name(value)}")
    return value


def _integer_in(low: int, high: int) -> Callable[[Any, type], int]:
    def structure(value: Any, _: type) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _WireTypeError(f"expected an integer, got {json_type_name(value)}")
        if not low <= value <= high:
            raise _WireValueError(f"integer {value} is outside {low}..{high}")
        return value

    return structure


def _is_json_value_type(annotation: Any) -> bool:
    """Whether a resolved annotation is the `JsonValue` alias. Resolving the alias
    rebuilds the union (its forward references), so identity cannot be used."""
    args = typing.get_args(annotation)
    return len(args) == 7 and args[:5] == (type(None), bool, int, float, str)


def _json_value(value: Any, _: type) -> JsonValue:
    _check_json(value, 0)
    return value  # type: ignore[no-any-return]


def _check_json(value: Any, depth: int) -> None:
    if depth > 256:
        raise ValueError("JSON value nested deeper than 256 levels")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite number")
        return
    if isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object keys must be strings")
            _check_json(item, depth + 1)
        return
    raise TypeError(f"not a JSON value: {json_type_name(value)}")


def _bytes_from_json(value: Any, _: type) -> bytes:
    if not isinstance(value, list):
        raise _WireTypeError(f"expected an array of bytes, got {json_type_name(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255:
            raise _WireValueError("byte arrays hold integers 0..255")
    return bytes(value)


def _requirement(value: Any, _: type) -> Requirement:
    return requirement_from_json(value, "$")


def _array_tuple_factory(cls: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """cattrs' tuple hook (which keeps item paths in errors), refusing non-arrays:
    left alone it would turn the string "abc" into ("a", "b", "c")."""
    structure_items = homogenous_tuple_structure_factory(cls, converter)

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _WireTypeError(f"expected an array, got {json_type_name(value)}")
        return structure_items(value, type_)

    return structure


CONVERTER.register_structure_hook(str, _strict_str)
CONVERTER.register_structure_hook(bool, _strict_bool)
CONVERTER.register_structure_hook(TenantId, _integer_in(1, U64_MAX))
CONVERTER.register_structure_hook(NamespaceId, _integer_in(1, U64_MAX))
CONVERTER.register_structure_hook(U64, _integer_in(0, U64_MAX))
CONVERTER.register_structure_hook(I64, _integer_in(I64_MIN, I64_MAX))
CONVERTER.register_structure_hook(U8, _integer_in(0, 255))
CONVERTER.register_structure_hook(bytes, _bytes_from_json)
CONVERTER.register_unstructure_hook(bytes, list)
CONVERTER.register_structure_hook_func(_is_json_value_type, _json_value)
CONVERTER.register_unstructure_hook_func(_is_json_value_type, lambda v: v)
_REQUIREMENT_TYPES: Final = typing.get_args(Requirement)


def _is_requirement_type(annotation: Any) -> bool:
    return annotation is Requirement or annotation in _REQUIREMENT_TYPES


CONVERTER.register_structure_hook_func(_is_requirement_type, _requirement)
CONVERTER.register_unstructure_hook_func(_is_requirement_type, requirement_to_json)
CONVERTER.register_structure_hook(HashDigest, lambda v, _: _hash_digest(v))
CONVERTER.register_unstructure_hook(HashDigest, lambda d: d.to_json())


def _hash_digest(value: Any) -> HashDigest:
    if not isinstance(value, dict):
        raise TypeError(f"expected a hash digest object, got {json_type_name(value)}")
    extra = set(value) - {"algorithm", "value"}
    if extra:
        raise ValueError(f"unknown keys in hash digest: {sorted(extra)}")
    algorithm, hexdigest = value.get("algorithm"), value.get("value")
    if algorithm != "sha256":
        raise ValueError(f"unsupported hash algorithm: {algorithm!r}")
    if (
        not isinstance(hexdigest, str)
        or len(hexdigest) != 64
        or hexdigest.strip("0123456789abcdef")
    ):
        raise ValueError("hash value must be 64 lowercase hex characters")
    return HashDigest(algorithm="sha256", value=hexdigest)


CONVERTER.register_structure_hook_factory(
    lambda t: (
        getattr(t, "__origin__", None) is tuple
        and len(t.__args__) == 2
        and t.__args__[1] is Ellipsis
    ),
    _array_tuple_factory,
)


def _tagged(union: Any, tags: Mapping[type, str], tag_name: str = "kind") -> None:
    configure_tagged_union(union, CONVERTER, tag_generator=tags.__getitem__, tag_name=tag_name)
    # `Optional[A | B]` is a union of its own to cattrs; route it through the tagged one.
    structure_union = CONVERTER.get_structure_hook(union)
    CONVERTER.register_structure_hook(
        union | None,
        lambda value, _: None if value is None else structure_union(value, union),
    )
    unstructure_union = CONVERTER.get_unstructure_hook(union)
    CONVERTER.register_unstructure_hook(
        union | None, lambda value: None if value is None else unstructure_union(value)
    )


_tagged(Timestamp, {UnixMillis: "unix_millis", Logical: "logical"})
_tagged(EvidenceValue, {JsonEvidence: "json", BytesEvidence: "bytes"})
_tagged(PacketPayload, {JsonPayload: "json", BytesPayload: "bytes", ExternalPayload: "external"})
_tagged(AdvanceTo, {Linear: "linear", Fixed: "fixed", Branch: "branch", Terminal: "terminal"})
_tagged(
    DispatchTarget,
    {
        AgentTarget: "agent",
        SessionTarget: "session",
        ExternalTarget: "external",
        ChannelTarget: "channel",
    },
)
_tagged(
    DecisionOutcome,
    {
        StartOutcome: "start",
        CompleteOutcome: "complete",
        AdvanceOutcome: "advance",
        HoldOutcome: "hold",
        FailOutcome: "fail",
    },
)
_tagged(
    ToolCallErrorDetails, {ProviderMissingDetails: "provider_missing", MessageDetails: "message"}
)

# serde emits `Option` fields as null unless skip-if-none; these are skipped.
# A generated hook captures its fields' hooks when it is made, so a class is
# registered before any class that contains it (EvidenceQuery before ConditionSpec).
_omit_if_none = override(omit_if_default=True)
CONVERTER.register_unstructure_hook(
    GateSpec, make_dict_unstructure_fn(GateSpec, CONVERTER, trust=_omit_if_none)
)
CONVERTER.register_unstructure_hook(
    EvidenceQuery, make_dict_unstructure_fn(EvidenceQuery, CONVERTER, params=_omit_if_none)
)
CONVERTER.register_unstructure_hook(
    ConditionSpec, make_dict_unstructure_fn(ConditionSpec, CONVERTER, trust=_omit_if_none)
)
CONVERTER.register_unstructure_hook(
    EvidenceAnchorPolicy,
    make_dict_unstructure_fn(EvidenceAnchorPolicy, CONVERTER, providers=_omit_if_none),
)


def _format_exception(error: BaseException, type_: type | None) -> str:
    if isinstance(error, _WireTypeError | _WireValueError | InvalidInput):
        return str(error)
    if isinstance(error, ValueError) and isinstance(type_, type) and issubclass(type_, enum.Enum):
        allowed = ", ".join(repr(member.value) for member in type_)
        return f"expected one of {allowed}"
    return format_exception(error, type_)


def parse(cls: type[_T], data: Any, what: str | None = None) -> _T:
    """Structure wire data into `cls`, or raise `InvalidInput` naming the first bad path."""
    if attrs.has(cls) and not isinstance(data, dict):
        # cattrs' generated hooks assume a mapping and fail with AttributeError.
        label = what or cls.__name__
        raise InvalidInput(f"invalid {label}: expected an object, got {json_type_name(data)} @ $")
    try:
        return CONVERTER.structure(data, cls)
    except cattrs.BaseValidationError as error:
        messages = cattrs.transform_error(error, path="$", format_exception=_format_exception)
        first = messages[0] if messages else str(error)
        label = what or cls.__name__
        raise InvalidInput(f"invalid {label}: {first}") from None
    except InvalidInput as error:
        label = what or cls.__name__
        raise InvalidInput(f"invalid {label}: {error}") from None
    except (TypeError, ValueError, KeyError) as error:
        label = what or cls.__name__
        raise InvalidInput(f"invalid {label}: {error}") from None


def to_json(value: Any) -> Any:
    """The wire (JSON-ready) form of a model value."""
    return CONVERTER.unstructure(value)
