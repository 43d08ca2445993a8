"""Fixtures of the identity tests: an `ApiKeyStore` per backend and a movable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from platform_core.identity.api_key_postgres import PostgresApiKeyStore
from platform_core.identity.api_key_sqlite import SqliteApiKeyStore
from platform_core.identity.api_key_store import ApiKeyStore, MemoryApiKeyStore


class MovableClock:
    """Epoch seconds that only the test advances."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def api_key_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ApiKeyStore]:
    store: ApiKeyStore
    if request.param == "memory":
        store = MemoryApiKeyStore()
    elif request.param == "sqlite":
        store = await SqliteApiKeyStore.open(tmp_path / "keys.sqlite3")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        store = await PostgresApiKeyStore.open(dsn, max_size=4)
    try:
        yield store
    finally:
        await store.close()
