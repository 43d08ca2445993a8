"""PostgreSQL backend of `ApiKeyStore` (psycopg 3, async connection pool).

Rotation locks the key's rows with `SELECT ... FOR UPDATE` inside one
transaction, so concurrent rotations and revocations of one key serialize and
a revocation can never be undone by a rotation racing it.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import AsyncConnectionPool

from platform_core.errors import Conflict, NotFound, StorageError
from platform_core.identity.api_key_store import (
    CREDENTIAL_COLUMNS,
    ApiKeyCredential,
    capped_expiry,
    credential_from_row,
    credential_to_row,
)
from platform_core.storage.postgres import OPEN_FAILURES, open_pool

__all__ = ["PostgresApiKeyStore"]

_SCHEMA_LOCK = 0x6170_696B_6579  # "apikey": one advisory lock id per schema owner

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_key_credentials (
    credential_id TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   BYTEA NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION,
    revoked_at    DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS api_key_credentials_tenant ON api_key_credentials (tenant_id);
CREATE INDEX IF NOT EXISTS api_key_credentials_key ON api_key_credentials (key_id);
"""

_INSERT = (
    f"INSERT INTO api_key_credentials ({CREDENTIAL_COLUMNS}) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


class PostgresApiKeyStore:
    """API key credentials in PostgreSQL."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresApiKeyStore:
        """Open a pool, create the schema if needed and return a ready store."""
        try:
            pool = await open_pool(
                dsn,
                schema=(_SCHEMA,),
                schema_lock=_SCHEMA_LOCK,
                min_size=min_size,
                max_size=max_size,
            )
        except OPEN_FAILURES as error:
            raise StorageError(f"cannot open the API key store: {error}") from error
        return cls(pool)

    async def insert(self, credential: ApiKeyCredential) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_INSERT, credential_to_row(credential))
        except psycopg.errors.UniqueViolation as error:
            raise Conflict(
                f"API key credential {credential.credential_id!r} already exists"
            ) from error
        except psycopg.Error as error:
            raise StorageError(f"API key store failed: {error}") from error

    async def get(self, credential_id: str) -> ApiKeyCredential | None:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    f"SELECT {CREDENTIAL_COLUMNS} FROM api_key_credentials "  # noqa: S608
                    "WHERE credential_id = %s",
                    (credential_id,),
                )
                row = await cursor.fetchone()
        except psycopg.Error as error:
            raise StorageError(f"API key store failed: {error}") from error
        return None if row is None else credential_from_row(row)

    async def _list(self, where: str, value: str) -> list[ApiKeyCredential]:
        query = (
            f"SELECT {CREDENTIAL_COLUMNS} FROM api_key_credentials WHERE {where} = %s "  # noqa: S608
            'ORDER BY created_at, credential_id COLLATE "C"'
        )
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(query, (value,))
                rows = await cursor.fetchall()
        except psycopg.Error as error:
            raise StorageError(f"API key store failed: {error}") from error
        return [credential_from_row(row) for row in rows]

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKeyCredential]:
        return await self._list("tenant_id", tenant_id)

    async def list_for_key(self, key_id: str) -> list[ApiKeyCredential]:
        return await self._list("key_id", key_id)

    async def rotate(self, key_id: str, new: ApiKeyCredential, old_expires_at: float) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(
                    "SELECT credential_id, expires_at, revoked_at FROM api_key_credentials "
                    "WHERE key_id = %s FOR UPDATE",
                    (key_id,),
                )
                rows = await cursor.fetchall()
                if not rows:
                    raise NotFound(f"API key {key_id!r} does not exist")
                live = [(cid, expires) for cid, expires, revoked in rows if revoked is None]
                if not live:
                    raise Conflict(f"API key {key_id!r} is revoked")
                for credential_id, expires_at in live:
                    await conn.execute(
                        "UPDATE api_key_credentials SET expires_at = %s WHERE credential_id = %s",
                        (capped_expiry(expires_at, old_expires_at), credential_id),
                    )
                await conn.execute(_INSERT, credential_to_row(new))
        except psycopg.errors.UniqueViolation as error:
            raise Conflict(f"API key credential {new.credential_id!r} already exists") from error
        except psycopg.Error as error:
            raise StorageError(f"API key store failed: {error}") from error

    async def revoke(self, key_id: str, revoked_at: float) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(
                    "SELECT credential_id FROM api_key_credentials WHERE key_id = %s FOR UPDATE",
                    (key_id,),
                )
                if not await cursor.fetchall():
                    raise NotFound(f"API key {key_id!r} does not exist")
                await conn.execute(
                    "UPDATE api_key_credentials SET revoked_at = %s "
                    "WHERE key_id = %s AND revoked_at IS NULL",
                    (revoked_at, key_id),
                )
        except psycopg.Error as error:
            raise StorageError(f"API key store failed: {error}") from error

    async def close(self) -> None:
        await self._pool.close()
