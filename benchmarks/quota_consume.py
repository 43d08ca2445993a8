"""Quota check-and-consume throughput on PostgreSQL against a bare single-row UPDATE.

ours: `UsageLedger.consume` over `PostgresUsageStore` — validation, the payload
fingerprint, and one `quota_apply` call that claims the idempotency key,
checks the limit and bumps the counter in a single transaction.
baseline: the least any counter can cost on the same server — an autocommit
`UPDATE bench_counter SET used = used + 1 WHERE id = 1` through psycopg, no
ledger, no limit, no idempotency.

Three cases:
* sequential: one client, one connection, every consume admitted;
* contended: 8 concurrent clients (8 connections) on one tenant's counter
  against 8 concurrent bare UPDATEs of one row — both serialize on a row lock;
* denied: one client whose quota is exhausted (a denial claims and releases
  the key in its transaction) against the same bare UPDATE loop.

Both sides pay a commit (a WAL flush) per operation, so the disk dominates and
drifts; ours and the baseline therefore run in alternating slices (`ROUNDS`
of each, after a warm-up) and each rate is total operations over total time.
The run creates its own database (on `DG_BENCH_POSTGRES_DSN`, default the local
server) and drops it afterwards. Correctness is asserted before a number is
reported: the counter and the ledger hold exactly the admitted units.
Results are operations per second; `ratio` is ours / baseline.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import psycopg

from platform_core.quota import (
    Admitted,
    Denied,
    PostgresUsageStore,
    QuotaLimit,
    QuotaPolicy,
    UsageLedger,
    UsageMetric,
)

ADMIN_DSN = os.environ.get("DG_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
COUNT = 1_500
ROUNDS = 5
WARMUP = 100
CLIENTS = 8
RUNS = UsageMetric.RUNS_STARTED
EXPORTS = UsageMetric.RUNPACK_EXPORTS

Operation = Callable[[int], Awaitable[None]]


def _database_dsn(name: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


async def _timed(operation: Operation, indices: range, clients: int) -> float:
    """Seconds to run `operation(i)` for every index, shared by `clients` tasks."""

    async def client(offset: int) -> None:
        for i in indices[offset::clients]:
            await operation(i)

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return time.perf_counter() - start


async def _interleaved(
    ours: Operation, baseline: Operation, count: int, clients: int
) -> tuple[float, float]:
    """(ours, baseline) operations per second, measured in alternating slices."""
    await _timed(ours, range(-WARMUP, 0), clients)
    await _timed(baseline, range(-WARMUP, 0), clients)
    spent = {"ours": 0.0, "baseline": 0.0}
    step = count // ROUNDS
    for start in range(0, step * ROUNDS, step):
        spent["ours"] += await _timed(ours, range(start, start + step), clients)
        spent["baseline"] += await _timed(baseline, range(start, start + step), clients)
    done = step * ROUNDS
    return done / spent["ours"], done / spent["baseline"]


class BareCounter:
    """One row bumped by plain autocommit UPDATEs, one connection per client."""

    def __init__(self, connections: list[psycopg.AsyncConnection]) -> None:
        self._connections = connections
        self.updates = 0

    @classmethod
    async def open(cls, dsn: str, clients: int) -> BareCounter:
        connections = [
            await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(clients)
        ]
        await connections[0].execute(
            "CREATE TABLE IF NOT EXISTS bench_counter (id INT PRIMARY KEY, used BIGINT NOT NULL)"
        )
        await connections[0].execute(
            "INSERT INTO bench_counter VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET used = 0"
        )
        return cls(connections)

    async def bump(self, i: int) -> None:
        connection = self._connections[i % len(self._connections)]
        await connection.execute("UPDATE bench_counter SET used = used + 1 WHERE id = 1")
        self.updates += 1

    async def used(self) -> int:
        cursor = await self._connections[0].execute("SELECT used FROM bench_counter WHERE id = 1")
        row = await cursor.fetchone()
        return -1 if row is None else int(row[0])

    async def close(self) -> None:
        for connection in self._connections:
            await connection.close()


async def _admitted_case(
    store: PostgresUsageStore, dsn: str, tenant: str, count: int, clients: int
) -> tuple[float, float]:
    ledger = UsageLedger(store, QuotaPolicy({RUNS: QuotaLimit(10**12)}))

    async def consume(i: int) -> None:
        outcome = await ledger.consume(tenant, RUNS, 1, f"req-{i}", {"tool": "scenario_start"})
        assert isinstance(outcome, Admitted)

    bare = await BareCounter.open(dsn, clients)
    try:
        rates = await _interleaved(consume, bare.bump, count, clients)
        assert await bare.used() == bare.updates
    finally:
        await bare.close()
    admitted = WARMUP + count // ROUNDS * ROUNDS
    assert (await ledger.usage(tenant, RUNS)).used == admitted
    assert len(await ledger.entries(tenant)) == admitted
    return rates


async def _denied_case(store: PostgresUsageStore, dsn: str, count: int) -> tuple[float, float]:
    now = datetime.now(UTC)
    ledger = UsageLedger(store, QuotaPolicy({EXPORTS: QuotaLimit(1)}), clock=lambda: now)
    assert isinstance(await ledger.consume("exhausted", EXPORTS, 1, "the-one"), Admitted)

    async def consume(i: int) -> None:
        assert isinstance(await ledger.consume("exhausted", EXPORTS, 1, f"req-{i}"), Denied)

    bare = await BareCounter.open(dsn, 1)
    try:
        rates = await _interleaved(consume, bare.bump, count, 1)
    finally:
        await bare.close()
    assert len(await ledger.entries("exhausted")) == 1
    return rates


async def measure(count: int) -> dict[str, tuple[float, float]]:
    name = f"bench_quota_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _database_dsn(name)
        store = await PostgresUsageStore.open(dsn, min_size=CLIENTS, max_size=CLIENTS)
        try:
            return {
                "sequential": await _admitted_case(store, dsn, "solo", count, 1),
                f"{CLIENTS} concurrent clients on one counter": await _admitted_case(
                    store, dsn, "crowd", count, CLIENTS
                ),
                "denied (quota exhausted)": await _denied_case(store, dsn, count),
            }
        finally:
            await store.close()
    finally:
        async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(count: int = COUNT) -> list[dict[str, object]]:
    return [
        {
            "name": f"quota consumes/s on PostgreSQL, {case}, vs bare UPDATE",
            "ours": round(ours, 1),
            "baseline": round(baseline, 1),
            "ratio": round(ours / baseline, 3),
        }
        for case, (ours, baseline) in asyncio.run(measure(count)).items()
    ]


def main() -> None:
    rows = run()
    width = max(len(str(row["name"])) for row in rows)
    print(f"{'benchmark':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}")
    for row in rows:
        print(
            f"{row['name']!s:<{width}}  {row['ours']:>12,.1f}  {row['baseline']:>12,.1f}"
            f"  {row['ratio']:>7.3f}"
        )


if __name__ == "__main__":
    main()
