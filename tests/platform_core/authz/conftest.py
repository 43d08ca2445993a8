"""Fixtures of the authz tests: a `RoleBindingStore` per backend and a recording auditor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from platform_core.authz.bindings import (
    MemoryRoleBindingStore,
    PostgresRoleBindingStore,
    RoleBindingStore,
    SqliteRoleBindingStore,
)
from platform_core.authz.engine import DecisionRecord


class RecordingAuditor:
    """Keeps every decision record in memory, in order."""

    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []

    async def record_decision(self, record: DecisionRecord) -> None:
        self.records.append(record)


@pytest.fixture
def auditor() -> RecordingAuditor:
    return RecordingAuditor()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def binding_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[RoleBindingStore]:
    store: RoleBindingStore
    if request.param == "memory":
        store = MemoryRoleBindingStore()
    elif request.param == "sqlite":
        store = await SqliteRoleBindingStore.open(tmp_path / "bindings.sqlite3")
    else:
        store = await PostgresRoleBindingStore.open(request.getfixturevalue("postgres_dsn"))
    try:
        yield store
    finally:
        await store.close()
