"""The storage seam of the audit log, its row codec, and the in-memory store.

Every store keeps three things: the records (ordered by seq), the signed
checkpoints, and the active legal holds. The contract every backend honours:

- `append` reads the tip and inserts the sealed records inside one critical
  section (a lock, `BEGIN IMMEDIATE`, or a table lock), so concurrent
  appenders — in one process or many — never fork the chain; a hold change
  passed with it commits in the same transaction or not at all.
- `prune` reads the holds and the candidate records and deletes the prefix
  its plan chose, together with storing the truncation checkpoint, atomically.
- Rows are handed back exactly as stored: a row that no longer parses comes
  back as a `MalformedRecord`, so a verifier can name it instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import attrs

from platform_core.auditlog.chain import (
    AuditRecord,
    ChainTip,
    MalformedRecord,
    from_micros,
)
from platform_core.auditlog.checkpoints import Checkpoint, CheckpointKind
from platform_core.auditlog.events import AuditEvent
from platform_core.auditlog.holds import LegalHold
from platform_core.errors import Conflict, IntegrityError, InvalidInput, NotFound

__all__ = [
    "AuditStore",
    "MemoryAuditStore",
    "PlaceHold",
    "PrunePlan",
    "ReleaseHold",
    "Row",
    "Sealer",
    "record_from_row",
    "record_to_row",
    "stored_checkpoint",
]

Sealer = Callable[[ChainTip], Sequence[AuditRecord]]
PrunePlan = Callable[
    [ChainTip, Sequence[LegalHold], Sequence[AuditRecord | MalformedRecord]],
    Checkpoint | None,
]
Row = tuple[int, int, bytes, bytes, str]


@attrs.frozen
class PlaceHold:
    """Store the hold built from the record that announces it."""

    build: Callable[[AuditRecord], LegalHold]


@attrs.frozen
class ReleaseHold:
    hold_id: str


class AuditStore(Protocol):
    """Where a chain lives. Implementations: memory, JSON lines, SQLite, PostgreSQL."""

    async def append(
        self, sealer: Sealer, hold_change: PlaceHold | ReleaseHold | None = None
    ) -> Sequence[AuditRecord]:
        """Inside one critical section: read the tip, call `sealer(tip)`, store
        its records and apply `hold_change`; all of it commits or none does.
        A duplicate hold is `Conflict`, releasing an unknown one `NotFound`."""
        ...

    def scan(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        """Stored records with seq > `after_seq`, in stored order, as stored."""
        ...

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint (the caller has signed it)."""
        ...

    async def checkpoints(self) -> Sequence[Checkpoint]:
        """Every kept checkpoint, unverified: the log checks signatures."""
        ...

    async def holds(self) -> Sequence[LegalHold]:
        """The legal holds in force."""
        ...

    async def prune(self, cutoff_us: int, plan: PrunePlan) -> Checkpoint | None:
        """Inside one critical section: call `plan(start, holds, records older
        than cutoff_us)`; if it returns a truncation checkpoint, delete records
        up to its seq and keep it, atomically."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


def record_to_row(record: AuditRecord) -> Row:
    return (
        record.seq,
        record.timestamp_us,
        record.prev_hash,
        record.record_hash,
        record.event.canonical_bytes().decode("utf-8"),
    )


def record_from_row(
    seq: int, timestamp_us: int, prev_hash: bytes, record_hash: bytes, event_text: str
) -> AuditRecord | MalformedRecord:
    try:
        event = AuditEvent.from_json(json.loads(event_text))
    except (ValueError, TypeError, InvalidInput) as error:
        return MalformedRecord(seq, f"event does not parse ({type(error).__name__})")
    if len(prev_hash) != 32 or len(record_hash) != 32:
        return MalformedRecord(seq, "hash fields are not 32 bytes")
    return AuditRecord(seq, from_micros(timestamp_us), bytes(prev_hash), bytes(record_hash), event)


def stored_checkpoint(text: str | bytes) -> Checkpoint:
    """Read a kept checkpoint; anything unreadable is an `IntegrityError`."""
    try:
        return Checkpoint.from_json(json.loads(text))
    except (ValueError, InvalidInput):
        raise IntegrityError("a stored checkpoint is unreadable") from None


def latest_truncation(checkpoints: Sequence[Checkpoint]) -> Checkpoint | None:
    truncations = [c for c in checkpoints if c.kind is CheckpointKind.TRUNCATION]
    return max(truncations, key=lambda c: c.seq, default=None)


class MemoryAuditStore:
    """A process-local store for tests and embedding.

    Its critical sections contain no `await`, so on one event loop they are
    atomic by construction; nothing survives the process.
    """

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._checkpoints: list[Checkpoint] = []
        self._holds: dict[str, LegalHold] = {}

    async def append(
        self, sealer: Sealer, hold_change: PlaceHold | ReleaseHold | None = None
    ) -> Sequence[AuditRecord]:
        if self.rows:
            tip = ChainTip(self.rows[-1][0], self.rows[-1][3])
        else:
            truncation = latest_truncation(self._checkpoints)
            tip = truncation.tip if truncation is not None else ChainTip.genesis()
        records = sealer(tip)
        hold: LegalHold | None = None
        if isinstance(hold_change, PlaceHold):
            hold = hold_change.build(records[-1])
            if hold.hold_id in self._holds:
                raise Conflict(f"legal hold {hold.hold_id!r} already exists")
        elif isinstance(hold_change, ReleaseHold) and hold_change.hold_id not in self._holds:
            raise NotFound(f"legal hold {hold_change.hold_id!r} does not exist")
        self.rows.extend(record_to_row(record) for record in records)
        if hold is not None:
            self._holds[hold.hold_id] = hold
        elif isinstance(hold_change, ReleaseHold):
            del self._holds[hold_change.hold_id]
        return records

    async def scan(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        for row in list(self.rows):
            if row[0] > after_seq:
                yield record_from_row(*row)

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._checkpoints.append(checkpoint)

    async def checkpoints(self) -> Sequence[Checkpoint]:
        return list(self._checkpoints)

    async def holds(self) -> Sequence[LegalHold]:
        return list(self._holds.values())

    async def prune(self, cutoff_us: int, plan: PrunePlan) -> Checkpoint | None:
        truncation = latest_truncation(self._checkpoints)
        start = truncation.tip if truncation is not None else ChainTip.genesis()
        candidates = [record_from_row(*row) for row in self.rows if row[1] < cutoff_us]
        checkpoint = plan(start, list(self._holds.values()), candidates)
        if checkpoint is None:
            return None
        self.rows = [row for row in self.rows if row[0] > checkpoint.seq]
        self._checkpoints.append(checkpoint)
        return checkpoint

    async def close(self) -> None:
        return None
