"""Audit log append and verify throughput against raw blake3 over the same bytes.

ours: `AuditLog.append` (one record per call), `AuditLog.append_many` (batches
of `BATCH`) and `AuditLog.verify` (re-reading, parsing and re-hashing every
record and checking every link) on the memory store and on a SQLite file
(WAL, synchronous=FULL: every append is one durable commit).
baseline: blake3 with the record derive-key context over exactly the frames
those records hash (seq ‖ prev ‖ timestamp ‖ canonical event JSON), computed
in a tight loop in the same process — the floor any hash chain pays.

Results are records per second; `ratio` is ours / baseline, so it says what
fraction of raw hashing speed the full log keeps (validation, canonical JSON,
storage, and for SQLite the fsync per commit).
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import blake3

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    AuditRecord,
    AuditStore,
    CheckpointSigner,
    MemoryAuditStore,
    SqliteAuditStore,
)
from platform_core.auditlog.chain import RECORD_CONTEXT

MEMORY_COUNT = 5_000
SQLITE_COUNT = 500
BATCH = 100


def _events(count: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            "tenant.updated", tenant=f"tenant-{n % 17}", actor="alice",
            correlation_id=f"req-{n}", details={"n": n, "field": "plan", "to": "enterprise"},
        )
        for n in range(count)
    ]


def _frames(records: list[AuditRecord]) -> list[bytes]:
    return [
        struct.pack(">Q32sq", r.seq, r.prev_hash, r.timestamp_us) + r.event.canonical_bytes()
        for r in records
    ]


def _raw_blake3_rate(frames: list[bytes]) -> float:
    """Records per second for blake3 alone over `frames` (best of seven)."""
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for frame in frames:
            blake3.blake3(frame, derive_key_context=RECORD_CONTEXT).digest()
        best = min(best, time.perf_counter() - start)
    return len(frames) / best


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


async def _measure(
    label: str, open_store: Callable[[], Awaitable[AuditStore]], count: int
) -> list[tuple[str, float, float]]:
    signer = CheckpointSigner.generate()
    events = _events(count)
    rows: list[tuple[str, float, float]] = []

    store = await open_store()
    log = await AuditLog.open(store, verifier=signer.verifier(), signer=signer)

    async def one_by_one() -> None:
        for event in events:
            await log.append(event)

    seconds = await _timed(one_by_one)
    records = [r async for r in log.records() if isinstance(r, AuditRecord)]
    baseline = _raw_blake3_rate(_frames(records))
    rows.append((f"audit append, {label}, 1 record per call", count / seconds, baseline))

    async def verify() -> None:
        report = await log.verify()
        assert report.ok
        assert report.tip.seq == count

    seconds = await _timed(verify)
    rows.append((f"audit verify, {label}", count / seconds, baseline))
    await store.close()

    store = await open_store()
    log = await AuditLog.open(store, verifier=signer.verifier(), signer=signer)

    async def batched() -> None:
        for start in range(0, count, BATCH):
            await log.append_many(events[start : start + BATCH])

    seconds = await _timed(batched)
    assert (await log.verify()).ok
    rows.append((f"audit append, {label}, batches of {BATCH}", count / seconds, baseline))
    await store.close()
    return rows


async def measure() -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as directory:
        files = iter(Path(directory) / f"audit-{n}.db" for n in range(10))

        async def memory() -> AuditStore:
            return MemoryAuditStore()

        async def sqlite() -> AuditStore:
            return await SqliteAuditStore.open(next(files))

        return [
            *await _measure("memory", memory, MEMORY_COUNT),
            *await _measure("SQLite file", sqlite, SQLITE_COUNT),
        ]


def run() -> list[dict[str, object]]:
    return [
        {
            "name": f"{name} (records/s) vs raw blake3",
            "ours": round(ours, 1),
            "baseline": round(baseline, 1),
            "ratio": round(ours / baseline, 4),
        }
        for name, ours, baseline in asyncio.run(measure())
    ]


def main() -> None:
    rows = run()
    width = max(len(str(row["name"])) for row in rows)
    print(f"{'benchmark':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}")
    for row in rows:
        print(
            f"{row['name']!s:<{width}}  {row['ours']:>12,.1f}  {row['baseline']:>12,.1f}"
            f"  {row['ratio']:>7.4f}"
        )


if __name__ == "__main__":
    main()
