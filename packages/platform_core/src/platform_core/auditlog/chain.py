"""The hash chain: how a record commits to its place, and how a chain is checked.

Invariants:
- Record `n` hashes, under the blake3 derive-key context
  "platform_core auditlog v1 record", the fixed-width frame
  seq (u64) ‖ previous hash (32 bytes) ‖ timestamp (i64 µs since the epoch)
  ‖ canonical JSON of the event. Changing any of them changes the hash, and the
  context keeps a record hash from ever equalling a checkpoint or key digest.
- Record 1 links to `GENESIS`; record n+1 links to the hash of record n. A
  chain that starts later starts from a signed truncation checkpoint.
- `ChainVerifier` names the first sequence number at which the stored chain
  stops being what was appended: an edited, deleted, reordered or inserted
  record, or a record that disagrees with a signed checkpoint. Everything
  before that number is intact.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import blake3

from platform_core.auditlog.events import AuditEvent, canonical_json
from platform_core.errors import IntegrityError, InvalidInput

__all__ = [
    "GENESIS",
    "RECORD_CONTEXT",
    "AuditRecord",
    "ChainBroken",
    "ChainTip",
    "ChainVerifier",
    "MalformedRecord",
    "VerificationReport",
    "from_micros",
    "hex32",
    "parse_rfc3339",
    "record_digest",
    "record_from_line",
    "record_line",
    "rfc3339",
    "seal",
    "to_micros",
]

RECORD_CONTEXT = "platform_core auditlog v1 record"
GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is a caller bug."""
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: object) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise InvalidInput("timestamp must be an RFC 3339 UTC string ending in 'Z'")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput("timestamp must be an RFC 3339 UTC string") from None


def hex32(text: object, name: str) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise InvalidInput(f"{name} must be 64 hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidInput(f"{name} must be 64 hex characters") from None


def record_digest(seq: int, prev_hash: bytes, timestamp_us: int, event_bytes: bytes) -> bytes:
    """The hash record `seq` commits to."""
    frame = struct.pack(">Q32sq", seq, prev_hash, timestamp_us) + event_bytes
    return blake3.blake3(frame, derive_key_context=RECORD_CONTEXT).digest()


@attrs.frozen
class ChainTip:
    """The last link: its sequence number and hash (seq 0 is the genesis)."""

    seq: int
    head: bytes

    @classmethod
    def genesis(cls) -> ChainTip:
        return cls(0, GENESIS)


@attrs.frozen
class AuditRecord:
    """One sealed link of the chain."""

    seq: int
    timestamp: datetime
    prev_hash: bytes
    record_hash: bytes
    event: AuditEvent

    @property
    def timestamp_us(self) -> int:
        return to_micros(self.timestamp)

    def computed_hash(self) -> bytes:
        return record_digest(self.seq, self.prev_hash, self.timestamp_us,
                             self.event.canonical_bytes())

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": rfc3339(self.timestamp),
            "prev": self.prev_hash.hex(),
            "hash": self.record_hash.hex(),
            "event": self.event.to_json(),
        }

    @classmethod
    def from_json(cls, body: object) -> AuditRecord:
        if not isinstance(body, Mapping):
            raise InvalidInput("audit record must be a JSON object")
        extra = sorted(set(body) - {"seq", "ts", "prev", "hash", "event"})
        if extra:
            raise InvalidInput(f"audit record: unknown field {extra[0]!r}")
        seq = body.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise InvalidInput("audit record seq must be a positive integer")
        return cls(
            seq=seq,
            timestamp=parse_rfc3339(body.get("ts")),
            prev_hash=hex32(body.get("prev"), "prev"),
            record_hash=hex32(body.get("hash"), "hash"),
            event=AuditEvent.from_json(body.get("event")),
        )


@attrs.frozen
class MalformedRecord:
    """A stored row or line that does not even parse; `seq` is where it sits."""

    seq: int
    problem: str


def record_line(record: AuditRecord) -> bytes:
    """A record as one JSON line: canonical, so equal records give equal bytes."""
    return canonical_json(record.to_json()) + b"\n"


def record_from_line(raw: bytes, expected_seq: int) -> AuditRecord | MalformedRecord:
    """Parse one line (without its newline); anything but a canonical record
    line is a `MalformedRecord` at `expected_seq`."""
    try:
        record = AuditRecord.from_json(json.loads(raw.decode("utf-8")))
    except (ValueError, InvalidInput) as error:
        return MalformedRecord(expected_seq, f"line does not parse ({type(error).__name__})")
    if record_line(record) != raw + b"\n":
        return MalformedRecord(expected_seq, "line is not in canonical form")
    return record


def seal(tip: ChainTip, timestamp: datetime, event: AuditEvent) -> AuditRecord:
    """The record that follows `tip`."""
    seq = tip.seq + 1
    digest = record_digest(seq, tip.head, to_micros(timestamp), event.canonical_bytes())
    return AuditRecord(seq, timestamp, tip.head, digest, event)


@attrs.frozen
class VerificationReport:
    """The outcome of walking a chain.

    `first_bad_seq` is None when every record checked out; otherwise records
    before it are intact and `reason` says what is wrong at it.
    """

    first_bad_seq: int | None
    reason: str
    records_checked: int
    tip: ChainTip

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


class ChainBroken(IntegrityError):
    """The audit chain does not verify; carries the first bad sequence number."""

    def __init__(self, report: VerificationReport) -> None:
        super().__init__(
            f"audit chain broken at seq {report.first_bad_seq}: {report.reason}"
        )
        self.report = report


class ChainVerifier:
    """Walks records in stored order from a trusted starting tip.

    `anchors` maps sequence numbers to hashes vouched for by signed checkpoints;
    a record that disagrees with an anchor is bad even if its links hold, and an
    anchor beyond the last record means records were cut off the end.
    """

    def __init__(self, start: ChainTip, anchors: Mapping[int, bytes] | None = None) -> None:
        self._tip = start
        self._anchors = dict(anchors or {})
        self._checked = 0
        self._bad: tuple[int, str] | None = None

    @property
    def failed(self) -> bool:
        return self._bad is not None

    @property
    def tip(self) -> ChainTip:
        """The last record that verified."""
        return self._tip

    def feed(self, record: AuditRecord | MalformedRecord) -> bool:
        """Check the next record; False once the chain is broken."""
        if self._bad is not None:
            return False
        expected = self._tip.seq + 1
        if isinstance(record, MalformedRecord):
            return self._fail(expected, f"unreadable record: {record.problem}")
        if record.seq != expected:
            if record.seq > expected:
                return self._fail(expected, f"record {expected} is missing (found {record.seq})")
            return self._fail(expected, f"found record {record.seq} where {expected} belongs")
        if record.prev_hash != self._tip.head:
            return self._fail(expected, f"does not link to record {self._tip.seq}")
        try:
            computed = record.computed_hash()
        except InvalidInput as error:
            return self._fail(expected, f"unreadable record: {error}")
        if computed != record.record_hash:
            return self._fail(expected, "content does not match its hash (edited)")
        anchored = self._anchors.get(expected)
        if anchored is not None and anchored != record.record_hash:
            return self._fail(expected, "differs from a signed checkpoint (chain rewritten)")
        self._tip = ChainTip(expected, record.record_hash)
        self._checked += 1
        return True

    def feed_all(self, records: Iterable[AuditRecord | MalformedRecord]) -> None:
        for record in records:
            if not self.feed(record):
                return

    def _fail(self, seq: int, reason: str) -> bool:
        self._bad = (seq, reason)
        return False

    def report(self) -> VerificationReport:
        """The verdict once every record has been fed."""
        bad = self._bad
        if bad is None:
            beyond = [seq for seq in self._anchors if seq > self._tip.seq]
            if beyond:
                bad = (
                    self._tip.seq + 1,
                    f"chain ends at {self._tip.seq} but a signed checkpoint covers "
                    f"{max(beyond)} (records removed from the end)",
                )
        if bad is None:
            return VerificationReport(None, "intact", self._checked, self._tip)
        return VerificationReport(bad[0], bad[1], self._checked, self._tip)
