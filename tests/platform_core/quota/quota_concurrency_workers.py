"""Worker processes for the cross-process quota tests (importable by spawned children).

Each worker opens its own store (its own connections), waits at a barrier so
all workers fire together, then runs every consume of its share concurrently.
"""

from __future__ import annotations

import asyncio
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from platform_core.quota import (
    Admitted,
    PostgresUsageStore,
    QuotaLimit,
    QuotaPolicy,
    SqliteUsageStore,
    UsageLedger,
    UsageMetric,
    UsageStore,
)

RUNS = UsageMetric.RUNS_STARTED
TENANT = "acme"


async def open_store(backend: str, target: str) -> UsageStore:
    if backend == "postgres":
        return await PostgresUsageStore.open(target, min_size=1, max_size=5)
    return SqliteUsageStore(target)


def consume_burst(
    backend: str,
    target: str,
    keys: list[str],
    limit: int,
    barrier: Barrier,
    results: Queue[list[tuple[str, str]]],
) -> None:
    """Consume one unit per key; report (key, "admitted" | "replayed" | "denied") per attempt."""

    async def main() -> list[tuple[str, str]]:
        store = await open_store(backend, target)
        try:
            ledger = UsageLedger(store, QuotaPolicy({RUNS: QuotaLimit(limit)}))
            await ledger.usage(TENANT, RUNS)
            barrier.wait(timeout=60)
            outcomes = await asyncio.gather(*(ledger.consume(TENANT, RUNS, 1, k) for k in keys))
        finally:
            await store.close()
        return [
            (
                key,
                "denied"
                if not isinstance(o, Admitted)
                else "replayed"
                if o.replayed
                else "admitted",
            )
            for key, o in zip(keys, outcomes, strict=True)
        ]

    results.put(asyncio.run(main()))
