"""What every built-in run-state store checks on the way in and on the way out.

In: a delta is refused before anything is written unless it is
self-consistent (the next version, digests that are the SHA-256 of the bytes
they describe, sequence numbers that end at the head's counts), so the hashes
a store keeps are real. Out: stored bytes are re-hashed before they are
parsed, and anything that does not match, parse or name the run it was read
for is `StoreCorrupt`. Messages name the run or scenario, never stored content.

The stores keep bytes and hex digests only; this module is the one place that
turns them back into model values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from decision_gate.core.canonical import SHA256, HashDigest, canonical_json_bytes, sha256_hex
from decision_gate.core.errors import DecisionGateError, StoreCorrupt, StoreError
from decision_gate.core.jsonvalue import JsonValue, loads
from decision_gate.core.model import parse, to_json
from decision_gate.core.runlog import (
    LOG_RECORD_TYPES,
    AppendedRecord,
    LogKind,
    RunDelta,
    RunHead,
    RunKey,
    verify_chain,
)

DEFAULT_MAX_STATE_BYTES: Final = 16 * 1024 * 1024
"""Largest canonical head, record or scenario a store accepts (the reference's state limit)."""


@attrs.frozen
class StoredRecord:
    """One appended record as a store keeps it: its log position, bytes and digest."""

    kind: LogKind
    seq: int
    canonical: bytes
    sha256: str


@attrs.frozen
class RecordKeys:
    """The identifiers a store indexes a record by (None where the log has none)."""

    trigger_id: str | None = None
    decision_id: str | None = None
    submission_id: str | None = None


def record_keys(appended: AppendedRecord) -> RecordKeys:
    """Index keys of a record: decisions and gate evaluations by trigger, packets by
    decision, submissions by id."""
    if appended.kind in (LogKind.DECISIONS, LogKind.GATE_EVALS):
        return RecordKeys(trigger_id=appended.record.trigger_id)
    if appended.kind is LogKind.PACKETS:
        return RecordKeys(decision_id=appended.record.decision_id)
    if appended.kind is LogKind.SUBMISSIONS:
        return RecordKeys(submission_id=appended.record.submission_id)
    return RecordKeys()


def encode_head(head: RunHead) -> tuple[bytes, str]:
    canonical = canonical_json_bytes(to_json(head))
    return canonical, sha256_hex(canonical)


def first_position(delta: RunDelta) -> int:
    """The 1-based chain position of the delta's first record.

    Every record ever appended has one position, so the number of records
    before this delta is the head's total count minus what the delta adds.
    """
    counts = delta.head.counts
    return sum(counts.of(kind) for kind in LogKind) - len(delta.records) + 1


def check_delta(delta: RunDelta, max_bytes: int) -> tuple[bytes, str]:
    """Refuse a delta that is not self-consistent; return the head's canonical bytes and hash."""
    key = delta.head.key
    if delta.previous_version < 0 or delta.head.version != delta.previous_version + 1:
        raise StoreError(f"run {key}: delta head version must be previous version + 1")
    appended: dict[LogKind, list[int]] = {}
    for record in delta.records:
        if sha256_hex(record.canonical) != record.digest.value or record.digest.algorithm != SHA256:
            raise StoreError(f"run {key}: delta record digest does not match its bytes")
        if len(record.canonical) > max_bytes:
            raise StoreError(f"run {key}: record exceeds size limit ({max_bytes} bytes)")
        appended.setdefault(record.kind, []).append(record.seq)
    for kind, seqs in appended.items():
        end = delta.head.counts.of(kind)
        if seqs[0] < 1 or seqs != list(range(seqs[0], end + 1)):
            raise StoreError(f"run {key}: delta {kind.value} sequence does not end at the head")
    canonical, digest = encode_head(delta.head)
    if len(canonical) > max_bytes:
        raise StoreError(f"run {key}: head exceeds size limit ({max_bytes} bytes)")
    return canonical, digest


def check_size(what: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise StoreError(f"{what}: stored value exceeds size limit ({max_bytes} bytes)")


def _decoded(canonical: bytes, sha256: str, what: str) -> JsonValue:
    if sha256_hex(canonical) != sha256:
        raise StoreCorrupt(f"{what}: hash mismatch")
    try:
        return loads(canonical)
    except DecisionGateError:
        raise StoreCorrupt(f"{what}: stored bytes are not JSON") from None


def _parsed(cls: type, data: JsonValue, what: str) -> Any:
    try:
        return parse(cls, data)
    except DecisionGateError:
        raise StoreCorrupt(f"{what}: stored value does not parse") from None


def decode_head(key: RunKey, version: int, canonical: bytes, sha256: str) -> RunHead:
    """The stored head of `key`, which must carry the version stored beside it."""
    what = f"run {key} head"
    head: RunHead = _parsed(RunHead, _decoded(canonical, sha256, what), what)
    if head.key != key:
        raise StoreCorrupt(f"{what}: stored head names another run")
    if head.version != version:
        raise StoreCorrupt(f"{what}: stored version does not match the head")
    return head


def decode_record(key: RunKey, stored: StoredRecord) -> Any:
    """The model value of one stored record (its log's record type)."""
    what = f"run {key} {stored.kind.value} record {stored.seq}"
    data = _decoded(stored.canonical, stored.sha256, what)
    return _parsed(LOG_RECORD_TYPES[stored.kind], data, what)


def run_problems(head: RunHead, records: Iterable[StoredRecord]) -> list[str]:
    """Every integrity problem of a run: records that fail their hash, then the chain.

    `records` is consumed once, lazily, so a store can stream a long run through
    it without holding the run in memory.
    """
    problems: list[str] = []

    def links() -> Iterator[tuple[LogKind, int, HashDigest]]:
        for stored in records:
            if sha256_hex(stored.canonical) != stored.sha256:
                problems.append(f"{stored.kind.value} record {stored.seq}: hash mismatch")
            yield stored.kind, stored.seq, HashDigest(algorithm=SHA256, value=stored.sha256)

    chain_problems = list(verify_chain(head, links()))
    return problems + chain_problems


def encode_scenario(spec_json: JsonValue, spec_hash: HashDigest) -> tuple[str, bytes]:
    """The scenario id and canonical bytes of a definition whose hash must be `spec_hash`."""
    scenario_id = spec_json.get("scenario_id") if isinstance(spec_json, dict) else None
    if not isinstance(scenario_id, str):
        raise StoreError("scenario definition must be an object with a string scenario_id")
    canonical = canonical_json_bytes(spec_json)
    if spec_hash.algorithm != SHA256 or sha256_hex(canonical) != spec_hash.value:
        raise StoreError(f"scenario {scenario_id}: spec_hash does not match its canonical JSON")
    return scenario_id, canonical


def decode_scenario(
    scenario_id: str, canonical: bytes, sha256: str
) -> tuple[JsonValue, HashDigest]:
    what = f"scenario {scenario_id}"
    spec = _decoded(canonical, sha256, what)
    if not isinstance(spec, dict) or spec.get("scenario_id") != scenario_id:
        raise StoreCorrupt(f"{what}: stored definition names another scenario")
    return spec, HashDigest(algorithm=SHA256, value=sha256)
