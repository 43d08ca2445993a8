"""The chain and its verifier: every tampering recipe of assurance.md C1 is
caught, and the verifier names the first sequence number that is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_core.auditlog import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    ChainTip,
    ChainVerifier,
    MalformedRecord,
)
from platform_core.auditlog.chain import record_digest, seal

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_chain(length: int, start: ChainTip | None = None) -> list[AuditRecord]:
    tip = start or ChainTip.genesis()
    records = []
    for number in range(length):
        record = seal(
            tip, T0 + timedelta(seconds=tip.seq + 1), AuditEvent("doc.read", details={"n": number})
        )
        records.append(record)
        tip = ChainTip(record.seq, record.record_hash)
    return records


def verify(records: list[AuditRecord], anchors: dict[int, bytes] | None = None) -> int | None:
    verifier = ChainVerifier(ChainTip.genesis(), anchors)
    verifier.feed_all(records)
    return verifier.report().first_bad_seq


def test_an_untouched_chain_verifies_end_to_end() -> None:
    records = build_chain(20)
    verifier = ChainVerifier(ChainTip.genesis())
    verifier.feed_all(records)
    report = verifier.report()
    assert report.ok
    assert report.records_checked == 20
    assert report.tip == ChainTip(20, records[-1].record_hash)


def test_the_first_record_links_to_the_genesis_hash() -> None:
    assert build_chain(1)[0].prev_hash == GENESIS


@pytest.mark.parametrize("field", ["seq", "prev", "timestamp", "payload"])
def test_the_record_hash_commits_to_every_field(field: str) -> None:
    base = dict(seq=7, prev_hash=b"\x01" * 32, timestamp_us=1_000, event_bytes=b'{"a":1}')
    changed = dict(base)
    if field == "seq":
        changed["seq"] = 8
    elif field == "prev":
        changed["prev_hash"] = b"\x02" * 32
    elif field == "timestamp":
        changed["timestamp_us"] = 1_001
    else:
        changed["event_bytes"] = b'{"a":2}'
    assert record_digest(**base) != record_digest(**changed)  # type: ignore[arg-type]


def test_the_record_hash_is_domain_separated_from_plain_blake3() -> None:
    record = build_chain(1)[0]
    frame_hash = blake3.blake3(record.event.canonical_bytes()).digest()
    checkpoint_context = blake3.blake3(
        record.event.canonical_bytes(), derive_key_context="platform_core auditlog v1 checkpoint"
    ).digest()
    assert record.record_hash not in {frame_hash, checkpoint_context}


@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, 11), value=st.integers())
def test_an_edited_payload_is_named_by_its_own_seq(position: int, value: int) -> None:
    records = build_chain(12)
    original = records[position]
    if original.event.details == {"n": value}:
        value += 1
    records[position] = attrs.evolve(
        original, event=attrs.evolve(original.event, details={"n": value})
    )
    assert verify(records) == position + 1


def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link() -> None:
    records = build_chain(10)
    forged_event = AuditEvent("doc.read", details={"n": "forged"})
    forged = seal(ChainTip(3, records[2].record_hash), records[3].timestamp, forged_event)
    records[3] = forged
    assert verify(records) == 5


def test_a_rewritten_last_record_is_caught_by_a_signed_checkpoint_only() -> None:
    records = build_chain(10)
    anchors = {10: records[-1].record_hash}
    forged = seal(ChainTip(9, records[8].record_hash), records[9].timestamp,
                  AuditEvent("doc.deleted"))
    records[-1] = forged
    assert verify(records) is None
    assert verify(records, anchors) == 10


@pytest.mark.parametrize("position", [0, 4, 8])
def test_a_deleted_record_is_named(position: int) -> None:
    records = build_chain(10)
    del records[position]
    assert verify(records) == position + 1


def test_a_deleted_tail_is_caught_by_a_later_checkpoint() -> None:
    records = build_chain(10)
    anchors = {10: records[-1].record_hash}
    del records[7:]
    assert verify(records) is None
    assert verify(records, anchors) == 8


@pytest.mark.parametrize(("first", "second"), [(0, 1), (3, 7), (8, 9)])
def test_swapped_records_are_named_at_the_earlier_position(first: int, second: int) -> None:
    records = build_chain(10)
    records[first], records[second] = records[second], records[first]
    assert verify(records) == first + 1


def test_swapped_and_renumbered_records_break_their_links() -> None:
    records = build_chain(10)
    a, b = records[3], records[4]
    records[3] = attrs.evolve(b, seq=4)
    records[4] = attrs.evolve(a, seq=5)
    assert verify(records) == 4


def test_an_inserted_forged_record_with_a_valid_hash_is_named() -> None:
    records = build_chain(10)
    forged = seal(ChainTip(4, records[3].record_hash), records[3].timestamp,
                  AuditEvent("doc.deleted"))
    records.insert(4, forged)
    assert verify(records) == 6


def test_an_inserted_and_renumbered_tail_is_caught_by_a_checkpoint() -> None:
    records = build_chain(10)
    anchors = {6: records[5].record_hash}
    forged_tail = build_chain(1, ChainTip(4, records[3].record_hash))
    rest = build_chain(6, ChainTip(5, forged_tail[0].record_hash))
    tampered = records[:4] + forged_tail + rest
    assert verify(tampered) is None
    assert verify(tampered, anchors) == 6


def test_an_unreadable_record_is_named() -> None:
    records: list[AuditRecord | MalformedRecord] = list(build_chain(5))
    records[2] = MalformedRecord(3, "bad json")
    verifier = ChainVerifier(ChainTip.genesis())
    verifier.feed_all(records)
    report = verifier.report()
    assert report.first_bad_seq == 3
    assert "bad json" in report.reason


def test_a_chain_can_be_verified_from_a_mid_chain_starting_point() -> None:
    records = build_chain(10)
    verifier = ChainVerifier(ChainTip(4, records[3].record_hash))
    verifier.feed_all(records[4:])
    assert verifier.report().ok


def test_a_mid_chain_start_with_the_wrong_hash_fails_at_the_first_record() -> None:
    records = build_chain(10)
    verifier = ChainVerifier(ChainTip(4, b"\x09" * 32))
    verifier.feed_all(records[4:])
    assert verifier.report().first_bad_seq == 5


def test_records_round_trip_through_their_wire_form() -> None:
    for record in build_chain(3):
        assert AuditRecord.from_json(record.to_json()) == record
