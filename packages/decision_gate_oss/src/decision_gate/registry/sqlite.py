"""The SQLite schema registry: one table of data shapes in its own file.

Each row holds a record's canonical JSON and its SHA-256; every read re-hashes
the bytes and raises `StoreCorrupt` on a mismatch, naming the key only. The
primary key (tenant, namespace, schema_id, version) makes a duplicate register
a `Conflict` atomically; the max-entries check and the insert run in one
`BEGIN IMMEDIATE` transaction, so concurrent writers cannot overshoot it.
Listing is keyset pagination in SQLite's BINARY order, which is the plain
string order the seam requires. The connection plumbing is
`decision_gate.sqlite_file`, shared with the run-state store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from decision_gate.core.canonical import canonical_json_bytes, sha256_hex
from decision_gate.core.errors import Conflict, InvalidInput, StoreCorrupt, StoreError
from decision_gate.core.jsonvalue import loads
from decision_gate.seams.schema_registry import (
    DEFAULT_MAX_SCHEMA_BYTES,
    DataShapePage,
    DataShapeRecord,
    check_limit,
    decode_cursor,
    encode_cursor,
    schema_size,
)
from decision_gate.sqlite_file import SqliteFile, transaction

__all__ = ["SqliteSchemaRegistry"]

SCHEMA_VERSION: Final = 1
_T = TypeVar("_T")
_JOURNAL_MODES: Final = frozenset({"wal", "delete"})
_SYNC_MODES: Final = frozenset({"full", "normal"})
_DDL: Final = """
CREATE TABLE IF NOT EXISTS registry_meta (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS data_shapes (
    tenant_id INTEGER NOT NULL,
    namespace_id INTEGER NOT NULL,
    schema_id TEXT NOT NULL,
    version TEXT NOT NULL,
    record_json BLOB NOT NULL,
    record_hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, namespace_id, schema_id, version)
);
"""


class SqliteSchemaRegistry:
    def __init__(
        self,
        path: str | Path,
        *,
        journal_mode: str = "wal",
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES,
        max_entries: int | None = None,
    ) -> None:
        if journal_mode not in _JOURNAL_MODES:
            raise InvalidInput(f"journal_mode must be one of {sorted(_JOURNAL_MODES)}")
        if synchronous not in _SYNC_MODES:
            raise InvalidInput(f"sync_mode must be one of {sorted(_SYNC_MODES)}")
        if busy_timeout_ms < 0:
            raise InvalidInput("busy_timeout_ms must not be negative")
        if not 1 <= max_schema_bytes <= DEFAULT_MAX_SCHEMA_BYTES:
            raise InvalidInput("max_schema_bytes must be between 1 and 1048576 for SQLite")
        if max_entries is not None and max_entries < 1:
            raise InvalidInput("max_entries must be positive")
        self._path = Path(path)
        self._journal_mode = journal_mode
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._max_bytes = max_schema_bytes
        self._max_entries = max_entries
        self._file = SqliteFile(
            open_connection=self._connect,
            translate=lambda error: StoreError(
                f"schema registry {self._path} failed: {type(error).__name__}"
            ),
            closed_message="schema registry is closed",
        )

    async def _call(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._file.call(work)

    def _connect(self) -> sqlite3.Connection:
        if self._path.is_dir():
            raise StoreError(f"schema registry path is a directory: {self._path}")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            connection.execute(f"PRAGMA journal_mode={self._journal_mode}")
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.executescript(_DDL)
            row = connection.execute("SELECT version FROM registry_meta").fetchone()
            if row is None:
                connection.execute(
                    "INSERT INTO registry_meta(version) VALUES (?)", (SCHEMA_VERSION,)
                )
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(f"schema registry {self._path}: unsupported schema version")
        except BaseException:
            connection.close()
            raise
        return connection

    async def register(self, record: DataShapeRecord) -> None:
        if schema_size(record.schema) > self._max_bytes:
            raise InvalidInput("schema exceeds size limit")
        data = canonical_json_bytes(record.to_json())
        digest = sha256_hex(data)

        def insert(connection: sqlite3.Connection) -> None:
            try:
                with transaction(connection, immediate=True):
                    if self._max_entries is not None:
                        (held,) = connection.execute(
                            "SELECT COUNT(*) FROM data_shapes WHERE tenant_id=? AND namespace_id=?",
                            (record.tenant_id, record.namespace_id),
                        ).fetchone()
                        if held >= self._max_entries:
                            raise Conflict("schema registry max entries exceeded")
                    connection.execute(
                        "INSERT INTO data_shapes VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            record.tenant_id,
                            record.namespace_id,
                            record.schema_id,
                            record.version,
                            data,
                            digest,
                        ),
                    )
            except sqlite3.IntegrityError:
                raise Conflict("schema already registered") from None

        await self._call(insert)

    def _decode(self, key: str, data: object, digest: object) -> DataShapeRecord:
        if not isinstance(data, bytes) or sha256_hex(data) != digest:
            raise StoreCorrupt(f"schema {key} failed its hash check")
        try:
            value = loads(data)
            if not isinstance(value, dict):
                raise InvalidInput("not an object")
            return DataShapeRecord.from_json(value)
        except (InvalidInput, KeyError, TypeError):
            raise StoreCorrupt(f"schema {key} does not parse") from None

    async def get(
        self, tenant_id: int, namespace_id: int, schema_id: str, version: str
    ) -> DataShapeRecord | None:
        row = await self._call(
            lambda c: c.execute(
                "SELECT record_json, record_hash FROM data_shapes "
                "WHERE tenant_id=? AND namespace_id=? AND schema_id=? AND version=?",
                (tenant_id, namespace_id, schema_id, version),
            ).fetchone()
        )
        if row is None:
            return None
        return self._decode(f"{tenant_id}/{namespace_id}/{schema_id}/{version}", *row)

    async def list(
        self, tenant_id: int, namespace_id: int, cursor: str | None, limit: int
    ) -> DataShapePage:
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        query = (
            "SELECT schema_id, version, record_json, record_hash FROM data_shapes "
            "WHERE tenant_id=? AND namespace_id=?"
        )
        params: tuple[object, ...] = (tenant_id, namespace_id)
        if after is not None:
            query += " AND (schema_id > ? OR (schema_id = ? AND version > ?))"
            params += (after[0], after[0], after[1])
        query += " ORDER BY schema_id, version LIMIT ?"
        params += (limit + 1,)
        rows = await self._call(lambda c: c.execute(query, params).fetchall())
        items = tuple(
            self._decode(f"{tenant_id}/{namespace_id}/{s}/{v}", data, digest)
            for s, v, data, digest in rows[:limit]
        )
        next_token = encode_cursor(items[-1]) if len(rows) > limit else None
        return DataShapePage(items=items, next_token=next_token)

    async def readiness(self) -> None:
        await self._call(lambda c: c.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await self._file.close()
