"""A usage store that cannot be reached fails closed with a typed StorageError."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.errors import StorageError
from platform_core.quota import (
    PostgresUsageStore,
    QuotaLimit,
    QuotaPolicy,
    SqliteUsageStore,
    UsageLedger,
    UsageMetric,
)


async def test_an_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as raised:
        await PostgresUsageStore.open(
            "postgresql://admin:hunter2@127.0.0.1:1/nowhere", max_size=1, timeout=0.5
        )
    assert "hunter2" not in str(raised.value)


async def test_consume_on_an_unopenable_sqlite_file_is_a_storage_error(tmp_path: Path) -> None:
    store = SqliteUsageStore(tmp_path / "missing-dir" / "usage.sqlite3")
    ledger = UsageLedger(store, QuotaPolicy({UsageMetric.TOOL_CALLS: QuotaLimit(5)}))
    with pytest.raises(StorageError):
        await ledger.consume("acme", UsageMetric.TOOL_CALLS, 1, "k")


async def test_a_postgres_store_closed_under_the_caller_is_a_storage_error(
    postgres_dsn: str,
) -> None:
    store = await PostgresUsageStore.open(postgres_dsn, max_size=1)
    ledger = UsageLedger(store, QuotaPolicy({UsageMetric.TOOL_CALLS: QuotaLimit(5)}))
    await store.close()
    with pytest.raises(StorageError):
        await ledger.consume("acme", UsageMetric.TOOL_CALLS, 1, "k")
