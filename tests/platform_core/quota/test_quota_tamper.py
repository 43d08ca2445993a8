"""An entry altered in the database is refused when read: reads fail closed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from platform_core.errors import IntegrityError
from platform_core.quota import (
    PostgresUsageStore,
    QuotaLimit,
    QuotaPolicy,
    SqliteUsageStore,
    UsageLedger,
    UsageMetric,
    UsageStore,
)

RUNS = UsageMetric.RUNS_STARTED


class Database:
    """The store under test and a back door to its tables."""

    def __init__(self, store: UsageStore, target: str, kind: str) -> None:
        self.store, self.target, self.kind = store, target, kind

    def execute(self, statement: str) -> None:
        if self.kind == "sqlite":
            with sqlite3.connect(self.target) as connection:
                connection.execute(statement)
        else:
            with psycopg.connect(self.target, autocommit=True) as connection:
                connection.execute(statement)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        target = str(tmp_path / "usage.sqlite3")
        store: UsageStore = SqliteUsageStore(target)
    else:
        target = request.getfixturevalue("postgres_dsn")
        store = await PostgresUsageStore.open(target)
    try:
        yield Database(store, target, request.param)
    finally:
        await store.close()


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE quota_ledger SET amount = 1",
        'UPDATE quota_ledger SET payload = \'{"run":"other"}\'',
        "UPDATE quota_ledger SET tenant_id = 'globex'",
        "UPDATE quota_ledger SET idempotency_key = 'forged'",
        "UPDATE quota_ledger SET metric = 'tool_calls'",
        "UPDATE quota_ledger SET metric = 'free_lunches'",
    ],
)
async def test_an_altered_entry_fails_verification_on_read(
    database: Database, tampering: str
) -> None:
    ledger = UsageLedger(database.store, QuotaPolicy({RUNS: QuotaLimit(10)}))
    await ledger.consume("acme", RUNS, 3, "run-1", {"run": "r1"})
    database.execute(tampering)
    tenant = "globex" if "tenant_id" in tampering else "acme"
    with pytest.raises(IntegrityError):
        await ledger.entries(tenant)


async def test_a_replay_of_an_altered_entry_fails_closed(database: Database) -> None:
    ledger = UsageLedger(database.store, QuotaPolicy({RUNS: QuotaLimit(10)}))
    await ledger.consume("acme", RUNS, 3, "run-1")
    database.execute("UPDATE quota_ledger SET amount = 1")
    with pytest.raises(IntegrityError):
        await ledger.consume("acme", RUNS, 3, "run-1")
    with pytest.raises(IntegrityError):
        await ledger.entry("acme", "run-1")
