"""A run as a small head plus six append-only logs, and the deltas between versions.

The reference loads, rewrites and re-hashes the whole `RunState` on every call,
so the cost of a trigger grows with the run's history. Here the engine reads a
`RunHead` (constant size: where the run is, how long each log is, the last
decision) and returns a `RunDelta`: the next head and the records it appends.
A store persists a delta as one compare-and-set on `RunHead.version`, so two
writers can never both win, and the cost of a call is the cost of what it adds.

Integrity: every appended record is stored with the SHA-256 of its canonical
JSON, and the head carries `log_digest`, a hash chain over every record ever
appended (log, seq and record hash, in append order). A store that re-checks
record hashes and the chain when it reads a log detects an edited, deleted,
reordered or inserted record; the head's own hash covers the digest.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from decision_gate.core.canonical import (
    HashDigest,
    canonical_json_bytes,
    hash_bytes,
    sha256_hex,
)
from decision_gate.core.model import (
    DecisionRecord,
    DispatchTarget,
    GateEvalRecord,
    NamespaceId,
    PacketRecord,
    RunState,
    RunStatus,
    SubmissionRecord,
    TenantId,
    Timestamp,
    ToolCallRecord,
    TriggerRecord,
    to_json,
)


class LogKind(enum.Enum):
    """The six logs of a run, in runpack artifact order (which is also chain order)."""

    TRIGGERS = "triggers"
    GATE_EVALS = "gate_evals"
    DECISIONS = "decisions"
    PACKETS = "packets"
    SUBMISSIONS = "submissions"
    TOOL_CALLS = "tool_calls"


LOG_RECORD_TYPES: Final[dict[LogKind, type]] = {
    LogKind.TRIGGERS: TriggerRecord,
    LogKind.GATE_EVALS: GateEvalRecord,
    LogKind.DECISIONS: DecisionRecord,
    LogKind.PACKETS: PacketRecord,
    LogKind.SUBMISSIONS: SubmissionRecord,
    LogKind.TOOL_CALLS: ToolCallRecord,
}

GENESIS_DIGEST: Final = hash_bytes(b"decision-gate run log v1")


@attrs.frozen
class LogCounts:
    triggers: int = 0
    gate_evals: int = 0
    decisions: int = 0
    packets: int = 0
    submissions: int = 0
    tool_calls: int = 0

    def of(self, kind: LogKind) -> int:
        return int(getattr(self, kind.value))

    def plus(self, kind: LogKind, n: int) -> LogCounts:
        return attrs.evolve(self, **{kind.value: self.of(kind) + n})


@attrs.frozen
class RunHead:
    """What every call needs to know about a run, independent of its history length."""

    tenant_id: TenantId
    namespace_id: NamespaceId
    run_id: str
    scenario_id: str
    spec_hash: HashDigest
    current_stage_id: str
    stage_entered_at: Timestamp
    status: RunStatus
    dispatch_targets: tuple[DispatchTarget, ...]
    version: int
    counts: LogCounts
    last_decision: DecisionRecord | None
    log_digest: HashDigest

    @property
    def key(self) -> RunKey:
        return RunKey(self.tenant_id, self.namespace_id, self.run_id)


@attrs.frozen(order=True)
class RunKey:
    tenant_id: int
    namespace_id: int
    run_id: str

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.namespace_id}/{self.run_id}"


@attrs.frozen
class AppendedRecord:
    """One record as appended: its log, 1-based position, value and canonical bytes."""

    kind: LogKind
    seq: int
    record: Any
    canonical: bytes
    digest: HashDigest


@attrs.frozen
class RunDelta:
    """The transition from `head.version - 1` to `head.version`.

    `records` are in chain order. A delta with `previous_version == 0` creates
    the run.
    """

    previous_version: int
    head: RunHead
    records: tuple[AppendedRecord, ...]


def chain_link(
    previous: HashDigest, kind: LogKind, seq: int, record_digest: HashDigest
) -> HashDigest:
    """The next log digest after appending one record."""
    material = f"{previous.value}\n{kind.value}\n{seq}\n{record_digest.value}".encode()
    return HashDigest(algorithm="sha256", value=sha256_hex(material))


def append_records(
    head: RunHead, appended: Iterable[tuple[LogKind, Any]], **changes: Any
) -> RunDelta:
    """Build the delta that appends `appended` (in order) and applies `changes` to the head."""
    counts = head.counts
    digest = head.log_digest
    records: list[AppendedRecord] = []
    ordered = sorted(enumerate(appended), key=lambda item: (_KIND_ORDER[item[1][0]], item[0]))
    for _, (kind, record) in ordered:
        counts = counts.plus(kind, 1)
        seq = counts.of(kind)
        canonical = canonical_json_bytes(to_json(record))
        record_digest = hash_bytes(canonical)
        digest = chain_link(digest, kind, seq, record_digest)
        records.append(AppendedRecord(kind, seq, record, canonical, record_digest))
    new_head = attrs.evolve(
        head, version=head.version + 1, counts=counts, log_digest=digest, **changes
    )
    return RunDelta(previous_version=head.version, head=new_head, records=tuple(records))


_KIND_ORDER: Final = {kind: index for index, kind in enumerate(LogKind)}


def new_head(
    *,
    tenant_id: TenantId,
    namespace_id: NamespaceId,
    run_id: str,
    scenario_id: str,
    spec_hash: HashDigest,
    current_stage_id: str,
    stage_entered_at: Timestamp,
    dispatch_targets: tuple[DispatchTarget, ...],
) -> RunHead:
    """The head of a run that does not exist yet (version 0, empty logs)."""
    return RunHead(
        tenant_id=tenant_id,
        namespace_id=namespace_id,
        run_id=run_id,
        scenario_id=scenario_id,
        spec_hash=spec_hash,
        current_stage_id=current_stage_id,
        stage_entered_at=stage_entered_at,
        status=RunStatus.ACTIVE,
        dispatch_targets=dispatch_targets,
        version=0,
        counts=LogCounts(),
        last_decision=None,
        log_digest=GENESIS_DIGEST,
    )


def head_to_json(head: RunHead) -> Any:
    return to_json(head)


def run_state_from(head: RunHead, logs: dict[LogKind, tuple[Any, ...]]) -> RunState:
    """The reference's full `RunState` view of a head and its logs."""
    return RunState(
        tenant_id=head.tenant_id,
        namespace_id=head.namespace_id,
        run_id=head.run_id,
        scenario_id=head.scenario_id,
        spec_hash=head.spec_hash,
        current_stage_id=head.current_stage_id,
        stage_entered_at=head.stage_entered_at,
        status=head.status,
        dispatch_targets=head.dispatch_targets,
        triggers=logs.get(LogKind.TRIGGERS, ()),
        gate_evals=logs.get(LogKind.GATE_EVALS, ()),
        decisions=logs.get(LogKind.DECISIONS, ()),
        packets=logs.get(LogKind.PACKETS, ()),
        submissions=logs.get(LogKind.SUBMISSIONS, ()),
        tool_calls=logs.get(LogKind.TOOL_CALLS, ()),
    )


def verify_chain(
    head: RunHead, records: Iterable[tuple[LogKind, int, HashDigest]]
) -> Iterator[str]:
    """Replay the chain over `records` (in append order); yield a problem per mismatch.

    Used by stores that read a whole run back (export, full load): a missing,
    extra, reordered or altered record changes the digest.
    """
    digest = GENESIS_DIGEST
    counts = LogCounts()
    for kind, seq, record_digest in records:
        counts = counts.plus(kind, 1)
        if counts.of(kind) != seq:
            yield f"{kind.value} record {seq} is out of sequence (expected {counts.of(kind)})"
            return
        digest = chain_link(digest, kind, seq, record_digest)
    if counts != head.counts:
        yield "log lengths do not match the run head"
    elif digest != head.log_digest:
        yield "log digest does not match the run head"
