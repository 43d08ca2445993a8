"""One SQLite file behind a store: the connection plumbing both SQLite seams share.

A store holds one connection, opened on first use by the store's own opener
(pragmas, schema, migrations), and runs every piece of work under a lock in a
worker thread, so the event loop never blocks. One connection rather than one
per thread because SQLite admits one writer per file anyway, the hot-path reads
are single index lookups, and a single connection closes cleanly, where
per-thread connections would outlive `close()` in the executor's threads.
Driver errors are translated by the store, whose message names the store and
never a stored value. After `close()` every call raises.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from decision_gate.core.errors import DecisionGateError, StoreError

_T = TypeVar("_T")


class SqliteFile:
    def __init__(
        self,
        *,
        open_connection: Callable[[], sqlite3.Connection],
        translate: Callable[[sqlite3.Error], DecisionGateError],
        closed_message: str,
    ) -> None:
        self._open_connection = open_connection
        self._translate = translate
        self._closed_message = closed_message
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def call(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the connection, in a worker thread, one call at a time."""
        return await asyncio.to_thread(self._locked, work)

    def _locked(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._closed:
                raise StoreError(self._closed_message)
            try:
                if self._connection is None:
                    self._connection = self._open_connection()
                return work(self._connection)
            except sqlite3.Error as error:
                raise self._translate(error) from None

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None


@contextmanager
def transaction(connection: sqlite3.Connection, *, immediate: bool) -> Iterator[None]:
    """`BEGIN [IMMEDIATE]` … `COMMIT`, rolled back on any exception (the connection
    must be in autocommit mode, `isolation_level=None`)."""
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    connection.execute("COMMIT")
