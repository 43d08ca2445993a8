"""The tenancy store under test: one fixture, parametrized over every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from platform_core.tenancy import (
    MemoryTenancyStore,
    PostgresTenancyStore,
    SqliteTenancyStore,
    TenancyStore,
    TenantCatalog,
)


class SteppingClock:
    """Epoch milliseconds that advance by one on every reading."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        self.now_ms += 1
        return self.now_ms


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def tenancy_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[TenancyStore]:
    store: TenancyStore
    if request.param == "memory":
        store = MemoryTenancyStore()
    elif request.param == "sqlite":
        store = SqliteTenancyStore(tmp_path / "tenancy.sqlite3")
    else:
        store = await PostgresTenancyStore.open(request.getfixturevalue("postgres_dsn"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def catalog(tenancy_store: TenancyStore) -> TenantCatalog:
    return TenantCatalog(tenancy_store, clock_ms=SteppingClock())
