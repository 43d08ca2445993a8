"""SQLite backend of `UsageStore` (stdlib sqlite3, run in worker threads).

`apply` runs under `BEGIN IMMEDIATE`: the write lock is taken before the
idempotency lookup and the counter read, so processes sharing the file
serialize on it and none can admit against a counter another is changing.
Each operation opens its own connection, so no connection crosses threads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from platform_core.errors import StorageError
from platform_core.quota.metrics import UsageMetric
from platform_core.quota.model import LedgerEntry
from platform_core.quota.store import (
    LEDGER_ENTRY_SELECT,
    Applied,
    OverLimit,
    Replayed,
    StoreOutcome,
    UsageRequest,
    entry_from_row,
    written_entry,
)
from platform_core.storage.sqlite import SqliteFile, transaction

__all__ = ["SqliteUsageStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_ledger (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    metric          TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    fingerprint     TEXT NOT NULL,
    payload         TEXT NOT NULL,
    window_start    INTEGER NOT NULL,
    recorded_at_ms  INTEGER NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS quota_counters (
    tenant_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (tenant_id, metric, window_start)
);
"""

def _failure(error: sqlite3.Error) -> StorageError:
    return StorageError(f"usage store (sqlite): {error}")


class SqliteUsageStore:
    """The ledger and counters in one SQLite file, created on first use."""

    def __init__(self, path: str | Path) -> None:
        self._file = SqliteFile(path, schema=_SCHEMA, failure=_failure, timeout=60.0)

    async def apply(self, request: UsageRequest) -> StoreOutcome:
        def apply(connection: sqlite3.Connection) -> StoreOutcome:
            with transaction(connection):
                return _apply_locked(connection, request)

        return await self._file.run(apply)

    async def counter(self, tenant_id: str, metric: UsageMetric, window_start: int) -> int:
        def read(connection: sqlite3.Connection) -> int:
            return _counter(connection, tenant_id, metric, window_start)

        return await self._file.run(read)

    async def entry(self, tenant_id: str, idempotency_key: str) -> LedgerEntry | None:
        def read(connection: sqlite3.Connection) -> LedgerEntry | None:
            row = connection.execute(
                LEDGER_ENTRY_SELECT + "WHERE tenant_id = ? AND idempotency_key = ?",
                (tenant_id, idempotency_key),
            ).fetchone()
            return None if row is None else entry_from_row(row)

        return await self._file.run(read)

    async def entries(self, tenant_id: str) -> list[LedgerEntry]:
        def read(connection: sqlite3.Connection) -> list[LedgerEntry]:
            rows = connection.execute(
                LEDGER_ENTRY_SELECT + "WHERE tenant_id = ? ORDER BY sequence", (tenant_id,)
            ).fetchall()
            return [entry_from_row(row) for row in rows]

        return await self._file.run(read)

    async def close(self) -> None:
        return None


def _counter(
    connection: sqlite3.Connection, tenant_id: str, metric: UsageMetric, window_start: int
) -> int:
    row = connection.execute(
        "SELECT used FROM quota_counters WHERE tenant_id = ? AND metric = ? AND window_start = ?",
        (tenant_id, metric.value, window_start),
    ).fetchone()
    return 0 if row is None else int(row[0])


def _apply_locked(connection: sqlite3.Connection, request: UsageRequest) -> StoreOutcome:
    row = connection.execute(
        LEDGER_ENTRY_SELECT + "WHERE tenant_id = ? AND idempotency_key = ?",
        (request.tenant_id, request.idempotency_key),
    ).fetchone()
    if row is not None:
        return Replayed(entry_from_row(row))
    used = _counter(connection, request.tenant_id, request.metric, request.window_start)
    if request.limit is not None and used + request.amount > request.limit:
        return OverLimit(used)
    (sequence,) = connection.execute(
        "INSERT INTO quota_ledger (tenant_id, idempotency_key, metric, amount, fingerprint, "
        "payload, window_start, recorded_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING sequence",
        (
            request.tenant_id,
            request.idempotency_key,
            request.metric.value,
            request.amount,
            request.fingerprint,
            request.payload_json,
            request.window_start,
            request.recorded_at_ms,
        ),
    ).fetchone()
    connection.execute(
        "INSERT INTO quota_counters (tenant_id, metric, window_start, used) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (tenant_id, metric, window_start) DO UPDATE SET used = used + excluded.used",
        (request.tenant_id, request.metric.value, request.window_start, request.amount),
    )
    return Applied(written_entry(request, sequence), used + request.amount)
