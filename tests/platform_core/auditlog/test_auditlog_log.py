"""The audit log over every backend: appends, concurrency, checkpoints and the
start-up verification that refuses a tampered chain."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    AuditRecord,
    AuditStore,
    ChainBroken,
    CheckpointSigner,
    MemoryAuditStore,
)
from platform_core.errors import InvalidInput, PlatformError

MakeLog = Callable[..., Awaitable[AuditLog]]


def event(number: int) -> AuditEvent:
    return AuditEvent("doc.read", tenant="acme", actor="alice", details={"n": number})


async def collect(log: AuditLog) -> list[AuditRecord]:
    records = []
    async for record in log.records():
        assert isinstance(record, AuditRecord)
        records.append(record)
    return records


async def test_appended_records_come_back_in_order_with_their_events(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await make_log(store)
    for number in range(5):
        await log.append(event(number))
    records = await collect(log)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [r.event for r in records] == [event(n) for n in range(5)]
    assert (await log.verify()).ok


async def test_a_batch_is_appended_as_consecutive_linked_records(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await make_log(store)
    await log.append(event(0))
    batch = await log.append_many([event(1), event(2), event(3)])
    assert [r.seq for r in batch] == [2, 3, 4]
    assert batch[1].prev_hash == batch[0].record_hash
    assert (await log.verify()).ok


async def test_concurrent_appenders_never_fork_the_chain(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await make_log(store)
    await asyncio.gather(*(log.append(event(n)) for n in range(40)))
    report = await log.verify()
    assert report.ok
    assert report.tip.seq == 40
    assert sorted(r.event.details["n"] for r in await collect(log)) == list(range(40))


async def test_the_log_reopens_from_its_store_and_continues_the_chain(
    store: AuditStore, make_log: MakeLog
) -> None:
    first = await make_log(store)
    await first.append(event(1))
    second = await make_log(store)
    record = await second.append(event(2))
    assert record.seq == 2
    assert (await second.verify()).ok


async def test_a_checkpoint_signs_the_current_head(
    store: AuditStore, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    log = await make_log(store)
    last = (await log.append_many([event(1), event(2)]))[-1]
    checkpoint = await log.checkpoint()
    assert (checkpoint.seq, checkpoint.head) == (2, last.record_hash)
    signer.verifier().verify(checkpoint, log_id="audit")
    assert checkpoint in await store.checkpoints()


async def test_verification_can_resume_from_a_trusted_checkpoint(
    store: AuditStore, make_log: MakeLog
) -> None:
    log = await make_log(store)
    await log.append_many([event(n) for n in range(5)])
    checkpoint = await log.checkpoint()
    await log.append_many([event(n) for n in range(5, 8)])
    reopened = await make_log(store, resume_from=checkpoint)
    report = await reopened.verify(resume_from=checkpoint)
    assert report.ok
    assert report.records_checked == 3


async def test_a_resume_checkpoint_that_disagrees_with_the_store_refuses_to_open(
    make_log: MakeLog, signer: CheckpointSigner, clock: Any
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    await log.append_many([event(n) for n in range(5)])
    checkpoint = await log.checkpoint()
    seq, ts, prev, digest, body = store.rows[4]
    store.rows[4] = (seq, ts, prev, digest, body.replace('"n":4', '"n":44'))
    with pytest.raises(ChainBroken) as caught:
        await make_log(store, resume_from=checkpoint)
    assert caught.value.report.first_bad_seq == 5


async def test_a_consistently_rewritten_tail_is_refused_when_an_external_checkpoint_is_given(
    make_log: MakeLog,
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    await log.append_many([event(n) for n in range(6)])
    published = await log.checkpoint()
    rewritten = MemoryAuditStore()
    forger = await make_log(rewritten)
    await forger.append_many([event(n) for n in range(3)])
    await forger.append_many([event(99), event(4), event(5)])
    assert (await forger.verify()).ok
    with pytest.raises(ChainBroken) as caught:
        await make_log(rewritten, anchors=(published,))
    assert caught.value.report.first_bad_seq == 6


async def test_a_stored_checkpoint_with_a_forged_signature_refuses_to_open(
    make_log: MakeLog,
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    await log.append(event(1))
    await log.checkpoint()
    other = CheckpointSigner.generate()
    forged = other.sign("audit", (await store.checkpoints())[0].kind,
                        (await log.verify()).tip, log.now())
    await store.add_checkpoint(forged)
    with pytest.raises(ChainBroken, match="unknown key"):
        await make_log(store)


async def test_checkpointing_without_a_signer_is_a_typed_error(signer: CheckpointSigner) -> None:
    log = await AuditLog.open(MemoryAuditStore(), verifier=signer.verifier())
    await log.append(event(1))
    with pytest.raises(PlatformError, match="without a checkpoint signer"):
        await log.checkpoint()


async def test_a_naive_clock_is_rejected_before_anything_is_written(
    signer: CheckpointSigner,
) -> None:
    from datetime import datetime

    store = MemoryAuditStore()
    log = await AuditLog.open(
        store, verifier=signer.verifier(), clock=lambda: datetime(2026, 1, 1)
    )
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await log.append(event(1))
    assert store.rows == []


async def test_appending_nothing_or_a_non_event_is_rejected(make_log: MakeLog) -> None:
    log = await make_log(MemoryAuditStore())
    with pytest.raises(InvalidInput):
        await log.append_many([])
    with pytest.raises(InvalidInput):
        await log.append({"kind": "doc.read"})  # type: ignore[arg-type]


async def test_records_keep_microsecond_timestamps_from_the_clock(
    store: AuditStore, make_log: MakeLog, clock: Any
) -> None:
    log = await make_log(store)
    clock.jump(timedelta(microseconds=123_457))
    appended = await log.append(event(1))
    (stored,) = await collect(log)
    assert stored.timestamp == appended.timestamp
    assert stored.timestamp.microsecond == 123_457
