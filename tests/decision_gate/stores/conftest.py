"""The run-state store under test: one fixture, parametrized over both built-in stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from decision_gate.seams.run_state import RunStateStore
from decision_gate.stores import MemoryRunStateStore, SqliteRunStateStore


@pytest.fixture(params=["memory", "sqlite"])
async def run_state_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[RunStateStore]:
    store: RunStateStore
    if request.param == "memory":
        store = MemoryRunStateStore()
    else:
        store = SqliteRunStateStore(tmp_path / "runs.sqlite3")
    try:
        yield store
    finally:
        await store.close()
