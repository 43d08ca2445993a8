"""PostgreSQL backend of `UsageStore` (psycopg 3 async, one connection pool).

`apply` is one round trip to one PL/pgSQL function, run as a single autocommit
statement, hence one transaction. It first claims the idempotency key with
`INSERT ... ON CONFLICT DO NOTHING` (a concurrent request with the same key
waits on that row and then replays it), then bumps the counter with a
conditional upsert `... DO UPDATE SET used = used + n WHERE used + n <= limit`,
which takes the counter's row lock and re-checks the limit against the latest
committed value. If the counter refuses, the claimed ledger row is deleted in
the same transaction, so nothing of a denied request is ever visible. No
isolation level above READ COMMITTED is needed, so no serialization retries.
"""

from __future__ import annotations

from typing import Self

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

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
)
from platform_core.storage.postgres import OPEN_FAILURES, open_pool

__all__ = ["PostgresUsageStore"]

_SCHEMA_LOCK = 0x71_756F_7461  # "quota": one advisory lock id per schema owner

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS quota_ledger (
        sequence        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id       TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        metric          TEXT NOT NULL,
        amount          BIGINT NOT NULL CHECK (amount > 0),
        fingerprint     TEXT NOT NULL,
        payload         TEXT NOT NULL,
        window_start    BIGINT NOT NULL,
        recorded_at_ms  BIGINT NOT NULL,
        UNIQUE (tenant_id, idempotency_key))""",
    """CREATE TABLE IF NOT EXISTS quota_counters (
        tenant_id    TEXT NOT NULL,
        metric       TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        used         BIGINT NOT NULL CHECK (used >= 0),
        PRIMARY KEY (tenant_id, metric, window_start))""",
    """CREATE OR REPLACE FUNCTION quota_apply(
        p_tenant TEXT, p_key TEXT, p_metric TEXT, p_amount BIGINT, p_fingerprint TEXT,
        p_payload TEXT, p_window BIGINT, p_limit BIGINT, p_at BIGINT)
    RETURNS TABLE (o_outcome TEXT, o_used BIGINT, o_sequence BIGINT, o_metric TEXT,
                   o_amount BIGINT, o_fingerprint TEXT, o_payload TEXT, o_window BIGINT,
                   o_at BIGINT)
    LANGUAGE plpgsql AS $$
    DECLARE
        v_sequence BIGINT;
        v_used BIGINT;
    BEGIN
        INSERT INTO quota_ledger AS l (tenant_id, idempotency_key, metric, amount,
                                       fingerprint, payload, window_start, recorded_at_ms)
        VALUES (p_tenant, p_key, p_metric, p_amount, p_fingerprint, p_payload, p_window, p_at)
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
        RETURNING l.sequence INTO v_sequence;
        IF v_sequence IS NULL THEN
            RETURN QUERY
                SELECT 'replayed'::TEXT, NULL::BIGINT, l.sequence, l.metric, l.amount,
                       l.fingerprint, l.payload, l.window_start, l.recorded_at_ms
                FROM quota_ledger l WHERE l.tenant_id = p_tenant AND l.idempotency_key = p_key;
            RETURN;
        END IF;
        INSERT INTO quota_counters AS c (tenant_id, metric, window_start, used)
        SELECT p_tenant, p_metric, p_window, p_amount
        WHERE p_limit IS NULL OR p_amount <= p_limit
        ON CONFLICT (tenant_id, metric, window_start) DO UPDATE SET used = c.used + EXCLUDED.used
        WHERE p_limit IS NULL OR c.used + EXCLUDED.used <= p_limit
        RETURNING c.used INTO v_used;
        IF v_used IS NULL THEN
            DELETE FROM quota_ledger l WHERE l.sequence = v_sequence;
            RETURN QUERY
                SELECT 'over_limit'::TEXT,
                       COALESCE((SELECT c.used FROM quota_counters c
                                 WHERE c.tenant_id = p_tenant AND c.metric = p_metric
                                   AND c.window_start = p_window), 0::BIGINT),
                       NULL::BIGINT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT,
                       NULL::BIGINT, NULL::BIGINT;
            RETURN;
        END IF;
        RETURN QUERY SELECT 'applied'::TEXT, v_used, v_sequence, p_metric, p_amount,
                            p_fingerprint, p_payload, p_window, p_at;
    END
    $$""",
)

def _storage_error(error: Exception) -> StorageError:
    return StorageError(f"usage store (postgres): {type(error).__name__}")


class PostgresUsageStore:
    """The ledger and counters in PostgreSQL tables `quota_*`. Build it with `open`."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0
    ) -> Self:
        """Connect a pool to `dsn`; create the tables and function if they are missing.

        `timeout` bounds the wait for the first connections (`StorageError` after it).
        """
        try:
            pool = await open_pool(
                dsn,
                schema=_SCHEMA,
                schema_lock=_SCHEMA_LOCK,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout,
                autocommit=True,
            )
        except OPEN_FAILURES as error:
            raise _storage_error(error) from error
        return cls(pool)

    async def apply(self, request: UsageRequest) -> StoreOutcome:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT * FROM quota_apply(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        request.tenant_id,
                        request.idempotency_key,
                        request.metric.value,
                        request.amount,
                        request.fingerprint,
                        request.payload_json,
                        request.window_start,
                        request.limit,
                        request.recorded_at_ms,
                    ),
                )
                row = await cursor.fetchone()
        except psycopg.Error as error:
            raise _storage_error(error) from error
        if row is None:
            raise StorageError("usage store (postgres): quota_apply returned no row")
        outcome, used = row[0], row[1]
        if outcome == "over_limit":
            return OverLimit(used)
        # A quota_apply row is (outcome, used) and then the entry less tenant and key.
        entry = entry_from_row((row[2], request.tenant_id, request.idempotency_key, *row[3:]))
        return Replayed(entry) if outcome == "replayed" else Applied(entry, used)

    async def _rows(self, query: str, params: tuple[object, ...]) -> list[TupleRow]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query, params)
                return await cursor.fetchall()
        except psycopg.Error as error:
            raise _storage_error(error) from error

    async def counter(self, tenant_id: str, metric: UsageMetric, window_start: int) -> int:
        rows = await self._rows(
            "SELECT used FROM quota_counters "
            "WHERE tenant_id = %s AND metric = %s AND window_start = %s",
            (tenant_id, metric.value, window_start),
        )
        return int(rows[0][0]) if rows else 0

    async def entry(self, tenant_id: str, idempotency_key: str) -> LedgerEntry | None:
        rows = await self._rows(
            LEDGER_ENTRY_SELECT + "WHERE tenant_id = %s AND idempotency_key = %s",
            (tenant_id, idempotency_key),
        )
        return entry_from_row(rows[0]) if rows else None

    async def entries(self, tenant_id: str) -> list[LedgerEntry]:
        rows = await self._rows(
            LEDGER_ENTRY_SELECT + "WHERE tenant_id = %s ORDER BY sequence", (tenant_id,)
        )
        return [entry_from_row(row) for row in rows]

    async def close(self) -> None:
        await self._pool.close()
