"""The audit log in one SQLite file (stdlib sqlite3, run off the event loop).

Appends run as `BEGIN IMMEDIATE` transactions: the tip is read after the write
lock is taken, so appenders in other threads or processes sharing the file
queue up instead of forking the chain, and `prev_hash` is UNIQUE as a second
line of defence. WAL journalling with `synchronous=FULL` means an append is
durable once it returns and a process killed mid-append leaves the file at the
previous record, never half of one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from platform_core.auditlog.chain import AuditRecord, ChainTip, MalformedRecord
from platform_core.auditlog.checkpoints import Checkpoint
from platform_core.auditlog.holds import LegalHold
from platform_core.auditlog.store import (
    PlaceHold,
    PrunePlan,
    ReleaseHold,
    Row,
    Sealer,
    latest_truncation,
    record_from_row,
    record_to_row,
    stored_checkpoint,
)
from platform_core.errors import Conflict, NotFound, StorageError
from platform_core.storage.sqlite import connect, transaction

__all__ = ["SqliteAuditStore"]

_T = TypeVar("_T")
_PAGE = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    ts_us INTEGER NOT NULL,
    prev_hash BLOB NOT NULL UNIQUE,
    record_hash BLOB NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_holds (
    hold_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""


class SqliteAuditStore:
    """Open with `await SqliteAuditStore.open(path)`; one connection, serialised."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteAuditStore:
        def opened() -> sqlite3.Connection:
            db = connect(
                path,
                timeout=30.0,
                pragmas=("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"),
                check_same_thread=False,
            )
            db.executescript(_SCHEMA)
            return db

        try:
            return cls(await asyncio.to_thread(opened))
        except sqlite3.Error as error:
            raise StorageError(f"cannot open audit database: {error}") from None

    async def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        def serialised() -> _T:
            with self._lock, transaction(self._db, write=write):
                return work(self._db)

        try:
            return await asyncio.to_thread(serialised)
        except sqlite3.IntegrityError as error:
            raise Conflict(f"audit append conflicted with another writer: {error}") from None
        except sqlite3.Error as error:
            raise StorageError(f"audit database failed: {error}") from None

    @staticmethod
    def _checkpoints(db: sqlite3.Connection) -> list[Checkpoint]:
        rows = db.execute("SELECT body FROM audit_checkpoints ORDER BY id").fetchall()
        return [stored_checkpoint(body) for (body,) in rows]

    def _tip(self, db: sqlite3.Connection) -> ChainTip:
        row = db.execute(
            "SELECT seq, record_hash FROM audit_records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            return ChainTip(int(row[0]), bytes(row[1]))
        truncation = latest_truncation(self._checkpoints(db))
        return truncation.tip if truncation is not None else ChainTip.genesis()

    async def append(
        self, sealer: Sealer, hold_change: PlaceHold | ReleaseHold | None = None
    ) -> Sequence[AuditRecord]:
        def work(db: sqlite3.Connection) -> Sequence[AuditRecord]:
            records = sealer(self._tip(db))
            db.executemany(
                "INSERT INTO audit_records (seq, ts_us, prev_hash, record_hash, event)"
                " VALUES (?, ?, ?, ?, ?)",
                [record_to_row(record) for record in records],
            )
            if isinstance(hold_change, PlaceHold):
                hold = hold_change.build(records[-1])
                exists = db.execute(
                    "SELECT 1 FROM audit_holds WHERE hold_id = ?", (hold.hold_id,)
                ).fetchone()
                if exists:
                    raise Conflict(f"legal hold {hold.hold_id!r} already exists")
                db.execute(
                    "INSERT INTO audit_holds (hold_id, body) VALUES (?, ?)",
                    (hold.hold_id, hold.to_text()),
                )
            elif isinstance(hold_change, ReleaseHold):
                gone = db.execute(
                    "DELETE FROM audit_holds WHERE hold_id = ?", (hold_change.hold_id,)
                )
                if gone.rowcount != 1:
                    raise NotFound(f"legal hold {hold_change.hold_id!r} does not exist")
            return records

        return await self._run(work, write=True)

    async def scan(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        cursor = after_seq
        while True:
            def page(db: sqlite3.Connection, start: int = cursor) -> list[Row]:
                return db.execute(
                    "SELECT seq, ts_us, prev_hash, record_hash, event FROM audit_records"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    (start, _PAGE),
                ).fetchall()

            rows = await self._run(page, write=False)
            for row in rows:
                yield record_from_row(*row)
            if len(rows) < _PAGE:
                return
            cursor = rows[-1][0]

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO audit_checkpoints (body) VALUES (?)",
                (json.dumps(checkpoint.to_json()),),
            )

        await self._run(work, write=True)

    async def checkpoints(self) -> Sequence[Checkpoint]:
        return await self._run(self._checkpoints, write=False)

    async def holds(self) -> Sequence[LegalHold]:
        def work(db: sqlite3.Connection) -> list[LegalHold]:
            rows = db.execute("SELECT body FROM audit_holds ORDER BY hold_id").fetchall()
            return [LegalHold.from_text(body) for (body,) in rows]

        return await self._run(work, write=False)

    async def prune(self, cutoff_us: int, plan: PrunePlan) -> Checkpoint | None:
        def work(db: sqlite3.Connection) -> Checkpoint | None:
            truncation = latest_truncation(self._checkpoints(db))
            start = truncation.tip if truncation is not None else ChainTip.genesis()
            holds = [
                LegalHold.from_text(body)
                for (body,) in db.execute("SELECT body FROM audit_holds").fetchall()
            ]
            candidates = [
                record_from_row(*row)
                for row in db.execute(
                    "SELECT seq, ts_us, prev_hash, record_hash, event FROM audit_records"
                    " WHERE ts_us < ? ORDER BY seq",
                    (cutoff_us,),
                ).fetchall()
            ]
            checkpoint = plan(start, holds, candidates)
            if checkpoint is None:
                return None
            db.execute("DELETE FROM audit_records WHERE seq <= ?", (checkpoint.seq,))
            db.execute(
                "INSERT INTO audit_checkpoints (body) VALUES (?)",
                (json.dumps(checkpoint.to_json()),),
            )
            return checkpoint

        return await self._run(work, write=True)

    async def close(self) -> None:
        def shut() -> None:
            with self._lock:
                self._db.close()

        await asyncio.to_thread(shut)
