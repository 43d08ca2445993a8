"""The usage store under test, parametrized over every backend, and a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from quota_testing import ManualClock

from platform_core.quota import (
    MemoryUsageStore,
    PostgresUsageStore,
    SqliteUsageStore,
    UsageStore,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def usage_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UsageStore]:
    store: UsageStore
    if request.param == "memory":
        store = MemoryUsageStore()
    elif request.param == "sqlite":
        store = SqliteUsageStore(tmp_path / "usage.sqlite3")
    else:
        store = await PostgresUsageStore.open(request.getfixturevalue("postgres_dsn"))
    try:
        yield store
    finally:
        await store.close()
