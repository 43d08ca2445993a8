"""What the SQLite schema registry adds to the kit's contract: durability, one file shared
by several connections, and failing closed on a damaged or foreign file."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from decision_gate.core.errors import Conflict, InvalidInput, StoreCorrupt, StoreError
from decision_gate.registry import SqliteSchemaRegistry
from decision_gate.testing.schema_registry import schema_record


async def test_records_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    first = SqliteSchemaRegistry(tmp_path / "registry.sqlite3")
    await first.register(schema_record())
    await first.close()
    reopened = SqliteSchemaRegistry(tmp_path / "registry.sqlite3")
    assert await reopened.get(1, 2, "shape", "v1") == schema_record()
    await reopened.close()


async def test_of_two_connections_registering_one_key_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registries = [SqliteSchemaRegistry(path) for _ in range(4)]
    await registries[0].readiness()
    outcomes = await asyncio.gather(
        *(r.register(schema_record(schema={"const": n})) for n, r in enumerate(registries)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)
    for registry in registries:
        await registry.close()


async def test_concurrent_connections_cannot_overshoot_max_entries(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registries = [SqliteSchemaRegistry(path, max_entries=3) for _ in range(6)]
    await registries[0].readiness()
    outcomes = await asyncio.gather(
        *(r.register(schema_record(f"s{n}")) for n, r in enumerate(registries)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 3
    page = await registries[0].list(1, 2, None, 100)
    assert len(page.items) == 3
    for registry in registries:
        await registry.close()


async def test_a_file_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registry = SqliteSchemaRegistry(path)
    await registry.readiness()
    await registry.close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE registry_meta SET version = 99")
    reopened = SqliteSchemaRegistry(path)
    with pytest.raises(StoreError, match="unsupported schema version"):
        await reopened.readiness()
    await reopened.close()


async def test_a_directory_as_the_path_is_a_store_error(tmp_path: Path) -> None:
    registry = SqliteSchemaRegistry(tmp_path)
    with pytest.raises(StoreError, match="is a directory"):
        await registry.readiness()


async def test_a_row_rewritten_with_a_matching_hash_but_not_a_record_is_corrupt(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.sqlite3"
    registry = SqliteSchemaRegistry(path)
    await registry.register(schema_record())
    forged = b"[1, 2, 3]"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE data_shapes SET record_json = ?, record_hash = ?",
            (forged, hashlib.sha256(forged).hexdigest()),
        )
    with pytest.raises(StoreCorrupt, match=r"^schema 1/2/shape/v1 does not parse$"):
        await registry.get(1, 2, "shape", "v1")
    await registry.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_schema_bytes": 1024 * 1024 + 1}, "max_schema_bytes must be between"),
        ({"max_schema_bytes": 0}, "max_schema_bytes must be between"),
        ({"max_entries": 0}, "max_entries must be positive"),
        ({"journal_mode": "memory"}, "journal_mode must be one of"),
        ({"synchronous": "off"}, "sync_mode must be one of"),
        ({"busy_timeout_ms": -1}, "busy_timeout_ms must not be negative"),
    ],
)
def test_bad_settings_are_refused_when_the_registry_is_made(
    tmp_path: Path, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        SqliteSchemaRegistry(tmp_path / "registry.sqlite3", **settings)  # type: ignore[arg-type]
