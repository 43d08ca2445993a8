"""SQLite files as the platform_core stores open them (stdlib sqlite3).

Invariants every store relies on:

- Connections run with `isolation_level=None`: nothing is ever implicitly
  begun, so a store's explicit `BEGIN IMMEDIATE` is what takes the write lock,
  before anything is read, and processes sharing a file serialize on it.
- A `SqliteFile` opens a connection per operation inside `asyncio.to_thread`,
  so no connection crosses threads and the event loop never blocks on disk.
- The first connection a `SqliteFile` makes switches the file to WAL (a
  setting the file keeps) and creates the schema; until that succeeds every
  connection tries again, so a file that appears later still gets its tables.
- Every `sqlite3.Error`, from connecting as much as from the operation, leaves
  as the store's own typed error; nothing else is translated.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from platform_core.errors import PlatformError

__all__ = ["SqliteFile", "connect", "transaction"]

_T = TypeVar("_T")


def connect(
    path: str | Path,
    *,
    timeout: float,
    pragmas: Sequence[str] = (),
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """An autocommit connection to `path` with `pragmas` (statements) applied.

    `timeout` is how long a statement waits for another connection's lock.
    The connection is closed again if a pragma fails.
    """
    connection = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        for pragma in pragmas:
            connection.execute(pragma)
    except BaseException:
        connection.close()
        raise
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    """Commit what the block does, or roll all of it back if the block raises.

    A write transaction begins `IMMEDIATE`, taking the file's write lock before
    the first read, so what the block reads cannot change before it writes.
    """
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SqliteFile:
    """One SQLite file, opened afresh for every operation in a worker thread.

    `pragmas` run on every connection (per-connection settings such as
    `foreign_keys` or `synchronous`); `schema` is a script run once, with the
    switch to WAL, by the first connection that succeeds. `failure` turns a
    `sqlite3.Error` into the store's typed error.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        schema: str,
        failure: Callable[[sqlite3.Error], PlatformError],
        timeout: float = 30.0,
        pragmas: Sequence[str] = (),
    ) -> None:
        self._path = str(path)
        self._schema = schema
        self._failure = failure
        self._timeout = timeout
        self._pragmas = tuple(pragmas)
        self._ready = False

    async def run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """`operation` on a fresh connection in a worker thread; closed afterwards."""

        def call() -> _T:
            try:
                connection = connect(self._path, timeout=self._timeout, pragmas=self._pragmas)
                try:
                    if not self._ready:
                        connection.execute("PRAGMA journal_mode = WAL")
                        connection.executescript(self._schema)
                        self._ready = True
                    return operation(connection)
                finally:
                    connection.close()
            except sqlite3.Error as error:
                raise self._failure(error) from error

        return await asyncio.to_thread(call)

    async def prepare(self) -> None:
        """Open the file and create the schema now, so a bad path fails here."""
        await self.run(_nothing)


def _nothing(connection: sqlite3.Connection) -> None:
    return None
