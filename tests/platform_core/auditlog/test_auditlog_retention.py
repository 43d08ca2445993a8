"""Retention and legal holds: pruning removes only a verified, unheld prefix,
leaves a signed truncation checkpoint so the rest still verifies, and every
prune, hold and release is itself an audit record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    AuditRecord,
    AuditStore,
    ChainBroken,
    ChainTip,
    CheckpointKind,
    CheckpointSigner,
    MemoryAuditStore,
)
from platform_core.errors import Conflict, InvalidInput, NotFound, PlatformError

MakeLog = Callable[..., Awaitable[AuditLog]]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(number: int, tenant: str = "acme") -> AuditEvent:
    return AuditEvent("doc.read", tenant=tenant, details={"n": number})


async def kinds(log: AuditLog) -> list[str]:
    return [r.event.kind async for r in log.records() if isinstance(r, AuditRecord)]


async def seeded(make_log: MakeLog, store: AuditStore, count: int = 10) -> AuditLog:
    """`count` records, one per second from T0+1s."""
    log = await make_log(store)
    for number in range(count):
        await log.append(event(number, tenant="acme" if number % 2 else "globex"))
    return log


async def test_pruning_removes_old_records_and_the_rest_still_verifies(
    store: AuditStore, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    log = await seeded(make_log, store)
    outcome = await log.prune(T0 + timedelta(seconds=4, milliseconds=500), actor="retention")
    assert outcome.removed_through == 4
    assert outcome.truncation is not None
    assert outcome.truncation.kind is CheckpointKind.TRUNCATION
    signer.verifier().verify(outcome.truncation, log_id="audit")
    seqs = [r.seq async for r in log.records()]
    assert seqs[0] == 5
    reopened = await make_log(store)
    assert (await reopened.verify()).ok


async def test_a_prune_is_itself_an_audit_record(store: AuditStore, make_log: MakeLog) -> None:
    log = await seeded(make_log, store)
    await log.prune(T0 + timedelta(seconds=3, milliseconds=500), actor="retention")
    records = [r async for r in log.records() if isinstance(r, AuditRecord)]
    assert records[-1].event.kind == "audit.retention.pruned"
    assert records[-1].event.actor == "retention"
    assert records[-1].event.details["through_seq"] == 3


async def test_nothing_old_enough_means_nothing_is_pruned_or_recorded(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store, count=3)
    outcome = await log.prune(T0, actor="retention")
    assert outcome.truncation is None
    assert len(await kinds(log)) == 3


async def test_deleting_records_behind_the_truncation_checkpoint_is_detected(
    make_log: MakeLog,
) -> None:
    store = MemoryAuditStore()
    log = await seeded(make_log, store)
    await log.prune(T0 + timedelta(seconds=3, milliseconds=500), actor="retention")
    del store.rows[0]
    with pytest.raises(ChainBroken) as caught:
        await make_log(store)
    assert caught.value.report.first_bad_seq == 4


async def test_a_forged_truncation_checkpoint_is_rejected(make_log: MakeLog) -> None:
    store = MemoryAuditStore()
    log = await seeded(make_log, store)
    attacker = CheckpointSigner.generate()
    fifth = next(r for r in store.rows if r[0] == 5)

    forged = attacker.sign("audit", CheckpointKind.TRUNCATION, ChainTip(5, fifth[3]), log.now())
    store.rows = [row for row in store.rows if row[0] > 5]
    await store.add_checkpoint(forged)
    with pytest.raises(ChainBroken, match="unknown key"):
        await make_log(store)


async def test_a_tenant_hold_stops_pruning_before_the_first_covered_record(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store)
    await log.place_hold("case-7", reason="litigation", actor="legal", tenant="acme")
    outcome = await log.prune(T0 + timedelta(days=1), actor="retention")
    assert outcome.removed_through == 1
    assert outcome.held_back_by == ("case-7",)
    first = await anext(log.records())
    assert isinstance(first, AuditRecord)
    assert first.event.tenant == "acme"


async def test_a_time_range_hold_protects_only_its_range(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store)
    await log.place_hold(
        "window", reason="audit request", actor="legal",
        start=T0 + timedelta(seconds=6), end=T0 + timedelta(seconds=8),
    )
    outcome = await log.prune(T0 + timedelta(days=1), actor="retention")
    assert outcome.removed_through == 5
    assert outcome.held_back_by == ("window",)


async def test_a_hold_on_tenant_and_range_needs_both_to_cover(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store)
    await log.place_hold(
        "narrow", reason="subpoena", actor="legal", tenant="acme",
        start=T0 + timedelta(seconds=5), end=T0 + timedelta(seconds=7),
    )
    outcome = await log.prune(T0 + timedelta(days=1), actor="retention")
    assert outcome.removed_through == 5


async def test_a_hold_protects_its_own_placement_record_from_pruning(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store, count=3)
    hold = await log.place_hold(
        "future", reason="preserve", actor="legal", start=T0 + timedelta(days=30)
    )
    await log.append(event(99))
    outcome = await log.prune(T0 + timedelta(days=1), actor="retention")
    assert outcome.removed_through == hold.placed_seq - 1


async def test_placing_and_releasing_a_hold_are_audited(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store, count=2)
    hold = await log.place_hold("case-1", reason="litigation", actor="legal", tenant="acme")
    assert hold.placed_seq == 3
    assert [h.hold_id for h in await log.holds()] == ["case-1"]
    released = await log.release_hold("case-1", actor="legal", reason="case closed")
    assert await log.holds() == []
    records = [r async for r in log.records() if isinstance(r, AuditRecord)]
    placed, lifted = records[2], records[3]
    assert placed.event.kind == "audit.legal_hold.placed"
    assert placed.event.details == {"hold_id": "case-1", "reason": "litigation", "tenant": "acme"}
    assert lifted == released
    assert lifted.event.kind == "audit.legal_hold.released"
    assert lifted.event.actor == "legal"


async def test_after_release_the_records_can_be_pruned(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store)
    await log.place_hold("case-1", reason="litigation", actor="legal", tenant="acme")
    await log.release_hold("case-1", actor="legal", reason="closed")
    outcome = await log.prune(T0 + timedelta(seconds=10, milliseconds=500), actor="retention")
    assert outcome.removed_through == 10


async def test_a_duplicate_hold_id_is_a_conflict_and_appends_nothing(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store, count=1)
    await log.place_hold("case-1", reason="litigation", actor="legal", tenant="acme")
    with pytest.raises(Conflict):
        await log.place_hold("case-1", reason="again", actor="legal", tenant="globex")
    assert await kinds(log) == ["doc.read", "audit.legal_hold.placed"]


async def test_releasing_an_unknown_hold_is_not_found_and_appends_nothing(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store, count=1)
    with pytest.raises(NotFound):
        await log.release_hold("nope", actor="legal", reason="typo")
    assert await kinds(log) == ["doc.read"]


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"start": T0 + timedelta(days=2), "end": T0 + timedelta(days=1)},
        {"start": datetime(2026, 1, 1), "tenant": "acme"},
    ],
)
async def test_a_hold_without_a_valid_scope_is_rejected_before_anything_is_written(
    make_log: MakeLog, scope: dict[str, Any]
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    with pytest.raises(InvalidInput):
        await log.place_hold("bad", reason="x", actor="legal", **scope)
    assert store.rows == []


@pytest.mark.parametrize("hold_id", ["", "../x", "a b", "x" * 200, "é", "case-1\n"])
async def test_a_hold_id_outside_the_token_grammar_is_rejected(
    make_log: MakeLog, hold_id: str
) -> None:
    log = await make_log(MemoryAuditStore())
    with pytest.raises(InvalidInput):
        await log.place_hold(hold_id, reason="x", actor="legal", tenant="acme")


async def test_pruning_refuses_to_launder_a_tampered_prefix(make_log: MakeLog) -> None:
    store = MemoryAuditStore()
    log = await seeded(make_log, store)
    seq, ts, prev, digest, body = store.rows[1]
    store.rows[1] = (seq, ts, prev, digest, body.replace('"n":1', '"n":11'))
    with pytest.raises(ChainBroken) as caught:
        await log.prune(T0 + timedelta(days=1), actor="retention")
    assert caught.value.report.first_bad_seq == 2
    assert len(store.rows) == 10


async def test_pruning_needs_a_signer(signer: CheckpointSigner) -> None:
    log = await AuditLog.open(MemoryAuditStore(), verifier=signer.verifier())
    with pytest.raises(PlatformError, match="signer"):
        await log.prune(T0, actor="retention")


async def test_pruning_twice_verifies_from_the_latest_truncation(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await seeded(make_log, store)
    await log.prune(T0 + timedelta(seconds=3, milliseconds=500), actor="retention")
    await log.prune(T0 + timedelta(seconds=7, milliseconds=500), actor="retention")
    assert (await anext(log.records())).seq == 8
    assert (await (await make_log(store)).verify()).ok
