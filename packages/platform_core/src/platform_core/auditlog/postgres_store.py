"""The audit log in PostgreSQL (psycopg 3, async, pooled).

Appends take `LOCK TABLE platform_audit_records IN EXCLUSIVE MODE` before
reading the tip: writers in every process queue on it while readers carry on,
so the chain never forks; `prev_hash` is UNIQUE as a second line of defence.
A hold change and a prune commit in the same transaction as their records.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool

from platform_core.auditlog.chain import AuditRecord, ChainTip, MalformedRecord
from platform_core.auditlog.checkpoints import Checkpoint
from platform_core.auditlog.holds import LegalHold
from platform_core.auditlog.store import (
    PlaceHold,
    PrunePlan,
    ReleaseHold,
    Sealer,
    latest_truncation,
    record_from_row,
    record_to_row,
    stored_checkpoint,
)
from platform_core.errors import Conflict, NotFound, StorageError
from platform_core.storage.postgres import OPEN_FAILURES, open_pool

__all__ = ["PostgresAuditStore"]

_PAGE = 1000
_SCHEMA_LOCK = 7460183  # one advisory lock id per schema owner
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS platform_audit_records (
        seq BIGINT PRIMARY KEY,
        ts_us BIGINT NOT NULL,
        prev_hash BYTEA NOT NULL UNIQUE,
        record_hash BYTEA NOT NULL,
        event TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS platform_audit_checkpoints (
        id BIGSERIAL PRIMARY KEY,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS platform_audit_holds (
        hold_id TEXT PRIMARY KEY,
        body TEXT NOT NULL
    )""",
)


async def _checkpoints(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> list[Checkpoint]:
    cursor = await conn.execute("SELECT body FROM platform_audit_checkpoints ORDER BY id")
    return [stored_checkpoint(str(body)) for (body,) in await cursor.fetchall()]


class PostgresAuditStore:
    """Open with `await PostgresAuditStore.open(dsn)`; close when done."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, max_size: int = 4, timeout: float = 10.0
    ) -> PostgresAuditStore:
        try:
            pool = await open_pool(
                dsn, schema=_SCHEMA, schema_lock=_SCHEMA_LOCK, max_size=max_size, timeout=timeout
            )
        except OPEN_FAILURES as error:
            raise StorageError(f"cannot open audit database: {type(error).__name__}") from None
        return cls(pool)

    async def append(
        self, sealer: Sealer, hold_change: PlaceHold | ReleaseHold | None = None
    ) -> Sequence[AuditRecord]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute(
                    "LOCK TABLE platform_audit_records IN EXCLUSIVE MODE"
                )
                cursor = await conn.execute(
                    "SELECT seq, record_hash FROM platform_audit_records"
                    " ORDER BY seq DESC LIMIT 1"
                )
                row = await cursor.fetchone()
                if row is not None:
                    tip = ChainTip(int(row[0]), bytes(row[1]))
                else:
                    truncation = latest_truncation(await _checkpoints(conn))
                    tip = truncation.tip if truncation is not None else ChainTip.genesis()
                records = sealer(tip)
                async with conn.cursor() as insert:
                    await insert.executemany(
                        "INSERT INTO platform_audit_records"
                        " (seq, ts_us, prev_hash, record_hash, event)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [record_to_row(record) for record in records],
                    )
                if isinstance(hold_change, PlaceHold):
                    hold = hold_change.build(records[-1])
                    placed = await conn.execute(
                        "INSERT INTO platform_audit_holds (hold_id, body) VALUES (%s, %s)"
                        " ON CONFLICT (hold_id) DO NOTHING",
                        (hold.hold_id, hold.to_text()),
                    )
                    if placed.rowcount != 1:
                        raise Conflict(f"legal hold {hold.hold_id!r} already exists")
                elif isinstance(hold_change, ReleaseHold):
                    gone = await conn.execute(
                        "DELETE FROM platform_audit_holds WHERE hold_id = %s",
                        (hold_change.hold_id,),
                    )
                    if gone.rowcount != 1:
                        raise NotFound(f"legal hold {hold_change.hold_id!r} does not exist")
                return records
        except psycopg.errors.UniqueViolation:
            raise Conflict("audit append conflicted with another writer") from None
        except psycopg.Error as error:
            raise StorageError(f"audit database failed: {type(error).__name__}") from None

    async def scan(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        cursor_seq = after_seq
        while True:
            try:
                async with self._pool.connection() as conn:
                    cursor = await conn.execute(
                        "SELECT seq, ts_us, prev_hash, record_hash, event"
                        " FROM platform_audit_records WHERE seq > %s ORDER BY seq LIMIT %s",
                        (cursor_seq, _PAGE),
                    )
                    rows = await cursor.fetchall()
            except psycopg.Error as error:
                raise StorageError(f"audit database failed: {type(error).__name__}") from None
            for seq, ts_us, prev_hash, record_hash, event in rows:
                yield record_from_row(
                    int(seq), int(ts_us), bytes(prev_hash), bytes(record_hash), str(event)
                )
            if len(rows) < _PAGE:
                return
            cursor_seq = int(rows[-1][0])

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO platform_audit_checkpoints (body) VALUES (%s)",
                    (json.dumps(checkpoint.to_json()),),
                )
        except psycopg.Error as error:
            raise StorageError(f"audit database failed: {type(error).__name__}") from None

    async def checkpoints(self) -> Sequence[Checkpoint]:
        try:
            async with self._pool.connection() as conn:
                return await _checkpoints(conn)
        except psycopg.Error as error:
            raise StorageError(f"audit database failed: {type(error).__name__}") from None

    async def holds(self) -> Sequence[LegalHold]:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT body FROM platform_audit_holds ORDER BY hold_id"
                )
                return [LegalHold.from_text(str(body)) for (body,) in await cursor.fetchall()]
        except psycopg.Error as error:
            raise StorageError(f"audit database failed: {type(error).__name__}") from None

    async def prune(self, cutoff_us: int, plan: PrunePlan) -> Checkpoint | None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("LOCK TABLE platform_audit_records IN EXCLUSIVE MODE")
                await conn.execute("LOCK TABLE platform_audit_holds IN EXCLUSIVE MODE")
                truncation = latest_truncation(await _checkpoints(conn))
                start = truncation.tip if truncation is not None else ChainTip.genesis()
                cursor = await conn.execute("SELECT body FROM platform_audit_holds")
                holds = [LegalHold.from_text(str(body)) for (body,) in await cursor.fetchall()]
                cursor = await conn.execute(
                    "SELECT seq, ts_us, prev_hash, record_hash, event"
                    " FROM platform_audit_records WHERE ts_us < %s ORDER BY seq",
                    (cutoff_us,),
                )
                candidates = [
                    record_from_row(int(s), int(t), bytes(p), bytes(h), str(e))
                    for s, t, p, h, e in await cursor.fetchall()
                ]
                checkpoint = plan(start, holds, candidates)
                if checkpoint is None:
                    return None
                await conn.execute(
                    "DELETE FROM platform_audit_records WHERE seq <= %s", (checkpoint.seq,)
                )
                await conn.execute(
                    "INSERT INTO platform_audit_checkpoints (body) VALUES (%s)",
                    (json.dumps(checkpoint.to_json()),),
                )
                return checkpoint
        except psycopg.Error as error:
            raise StorageError(f"audit database failed: {type(error).__name__}") from None

    async def close(self) -> None:
        await self._pool.close()
