"""Check-and-consume from several processes at once, on real PostgreSQL and a SQLite file.

N far above the quota fire together from 4 processes with their own connections:
exactly the quota is admitted, and the ledger and the counter hold exactly that;
the same idempotency keys sent by every process are counted once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import quota_concurrency_workers as workers

from platform_core.quota import LedgerEntry, Lifetime

PROCESSES = 4
ATTEMPTS = 50


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_dsn")
    return "sqlite", str(tmp_path / "usage.sqlite3")


def run_processes(
    backend: tuple[str, str], shares: list[list[str]], limit: int
) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares))
    results = context.Queue()
    processes = [
        context.Process(
            target=workers.consume_burst, args=(*backend, share, limit, barrier, results)
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    outcomes: list[tuple[str, str]] = []
    for _ in processes:
        outcomes.extend(results.get(timeout=120))
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return outcomes


def stored(backend: tuple[str, str]) -> tuple[list[LedgerEntry], int]:
    async def read() -> tuple[list[LedgerEntry], int]:
        store = await workers.open_store(*backend)
        try:
            entries = await store.entries(workers.TENANT)
            used = await store.counter(
                workers.TENANT, workers.RUNS, Lifetime().window_start(datetime.now(UTC))
            )
            return entries, used
        finally:
            await store.close()

    return asyncio.run(read())


def test_processes_racing_far_past_the_quota_admit_exactly_the_quota(
    backend: tuple[str, str],
) -> None:
    quota = 37
    shares = [[f"p{p}-k{i}" for i in range(ATTEMPTS)] for p in range(PROCESSES)]
    outcomes = run_processes(backend, shares, quota)
    kinds = Counter(kind for _, kind in outcomes)
    assert kinds == {"admitted": quota, "denied": PROCESSES * ATTEMPTS - quota}
    entries, used = stored(backend)
    assert used == quota
    assert sum(entry.amount for entry in entries) == quota
    assert {e.idempotency_key for e in entries} == {k for k, kind in outcomes if kind == "admitted"}


def test_the_same_keys_from_every_process_are_counted_once(backend: tuple[str, str]) -> None:
    keys = [f"request-{i}" for i in range(ATTEMPTS)]
    outcomes = run_processes(
        backend, [list(reversed(keys)) if p % 2 else keys for p in range(PROCESSES)], 1000
    )
    kinds = Counter(kind for _, kind in outcomes)
    assert kinds == {"admitted": ATTEMPTS, "replayed": (PROCESSES - 1) * ATTEMPTS}
    assert Counter(k for k, kind in outcomes if kind == "admitted") == Counter(keys)
    entries, used = stored(backend)
    assert used == ATTEMPTS
    assert sorted(e.idempotency_key for e in entries) == sorted(keys)


def test_repeated_keys_under_a_tight_quota_admit_exactly_the_quota_once_each(
    backend: tuple[str, str],
) -> None:
    quota = 20
    keys = [f"request-{i}" for i in range(ATTEMPTS)]
    outcomes = run_processes(backend, [keys] * PROCESSES, quota)
    entries, used = stored(backend)
    counted = {e.idempotency_key for e in entries}
    assert used == quota
    assert len(entries) == quota
    assert {k for k, kind in outcomes if kind == "admitted"} == counted
    assert sum(kind == "admitted" for _, kind in outcomes) == quota
    assert {k for k, kind in outcomes if kind == "replayed"} <= counted
