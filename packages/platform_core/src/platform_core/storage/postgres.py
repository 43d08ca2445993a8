"""PostgreSQL connection pools as the platform_core stores open them (psycopg 3).

Invariants every store relies on:

- `open_pool` waits at most `timeout` seconds for the pool's first
  connections; an unreachable server or a refused login fails the call then,
  instead of leaving a pool that retries in the background forever.
- The schema is created in one transaction holding a transaction-scoped
  advisory lock, one id per schema owner, so processes opening one database at
  once queue instead of racing on `CREATE TABLE IF NOT EXISTS` (which can fail
  with a unique violation in the catalog when two run together).
- On any failure the pool is closed before the error leaves, so nothing
  lingers. The error is the driver's own (`OPEN_FAILURES`): the store turns it
  into its typed error and decides what of it to say (libpq's messages can
  quote parts of the connection string; the error's type name never does).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool

__all__ = ["OPEN_FAILURES", "open_pool"]

OPEN_FAILURES: tuple[type[Exception], ...] = (psycopg.Error, OSError)
"""What `open_pool` raises when the server cannot be reached or the schema not created."""


async def open_pool(
    dsn: str,
    *,
    schema: Sequence[str],
    schema_lock: int,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,
    autocommit: bool = False,
) -> AsyncConnectionPool:
    """An open pool on `dsn` whose schema exists.

    `schema` is the statements to run (each may hold several when it takes no
    parameters); `schema_lock` the advisory lock id of their owner;
    `autocommit` applies to every connection the pool hands out.
    """
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True} if autocommit else None,
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=timeout)
        async with pool.connection() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (schema_lock,))
            for statement in schema:
                await connection.execute(statement)
    except BaseException:
        await pool.close()
        raise
    return pool
