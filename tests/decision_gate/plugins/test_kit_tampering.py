"""Both built-in stores and registries pass the kit's tamper suite.

The `tamper` fixture is the part an integrator writes for their own storage:
here it edits SQLite rows through a second connection, or the in-memory
stores' byte maps, leaving the recorded hashes as they were.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from decision_gate.core.runlog import LogKind, RunKey
from decision_gate.registry import MemorySchemaRegistry, SqliteSchemaRegistry
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.schema_registry import SchemaRegistryStore
from decision_gate.stores import MemoryRunStateStore, SqliteRunStateStore
from decision_gate.testing.tampering import *  # noqa: F403


def _sql(path: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(path) as connection:
        assert connection.execute(statement, args).rowcount >= 1


class BuiltinTamper:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def run_record(self, store: RunStateStore, key: RunKey, kind: LogKind) -> None:
        if isinstance(store, SqliteRunStateStore):
            _sql(
                self.folder / "runs.sqlite3",
                "UPDATE run_records SET record_json = CAST(replace(record_json, '\"hold\"', "
                "'\"pass\"') AS BLOB) WHERE run_id = ? AND kind = ? AND seq = 1",
                key.run_id,
                kind.value,
            )
            return
        assert isinstance(store, MemoryRunStateStore)
        run = store._runs[key]  # tampering reaches behind the seam
        index = next(i for i, r in enumerate(run.records) if r.kind is kind)
        record = run.records[index]
        forged = record.canonical.replace(b'"hold"', b'"pass"')
        assert forged != record.canonical
        run.records[index] = attrs.evolve(record, canonical=forged)

    async def schema_record(
        self,
        registry: SchemaRegistryStore,
        tenant_id: int,
        namespace_id: int,
        schema_id: str,
        version: str,
    ) -> None:
        if isinstance(registry, SqliteSchemaRegistry):
            _sql(
                self.folder / "registry.sqlite3",
                "UPDATE data_shapes SET record_json = CAST(replace(record_json, 'confidential', "
                "'public') AS BLOB) WHERE schema_id = ? AND version = ?",
                schema_id,
                version,
            )
            return
        assert isinstance(registry, MemorySchemaRegistry)
        records = registry._records  # tampering reaches behind the seam
        key = (tenant_id, namespace_id, schema_id, version)
        data, digest = records[key]
        forged = data.replace(b"confidential", b"public")
        assert forged != data
        records[key] = (forged, digest)


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tamper(tmp_path: Path) -> BuiltinTamper:
    return BuiltinTamper(tmp_path)


@pytest.fixture
async def run_state_store(backend: str, tmp_path: Path) -> AsyncIterator[RunStateStore]:
    store: RunStateStore = (
        MemoryRunStateStore()
        if backend == "memory"
        else SqliteRunStateStore(tmp_path / "runs.sqlite3")
    )
    yield store
    await store.close()


@pytest.fixture
def schema_registry_factory(backend: str, tmp_path: Path) -> Any:
    def build(max_schema_bytes: int, max_entries: int | None) -> SchemaRegistryStore:
        if backend == "memory":
            return MemorySchemaRegistry(max_schema_bytes=max_schema_bytes, max_entries=max_entries)
        return SqliteSchemaRegistry(
            tmp_path / "registry.sqlite3",
            max_schema_bytes=max_schema_bytes,
            max_entries=max_entries,
        )

    return build
