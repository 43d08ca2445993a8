"""SQLite backend of `ApiKeyStore` (stdlib sqlite3, run in worker threads).

Each operation opens its own connection inside `asyncio.to_thread`, so no
connection is ever shared between threads; WAL mode lets readers proceed while
a rotation or revocation commits. Rotation runs under `BEGIN IMMEDIATE`, so
two concurrent rotations of one key serialize instead of interleaving.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from platform_core.errors import Conflict, NotFound, PlatformError, StorageError
from platform_core.identity.api_key_store import (
    CREDENTIAL_COLUMNS,
    ApiKeyCredential,
    capped_expiry,
    credential_from_row,
    credential_to_row,
)
from platform_core.storage.sqlite import SqliteFile, transaction

__all__ = ["SqliteApiKeyStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_key_credentials (
    credential_id TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    created_at    REAL NOT NULL,
    expires_at    REAL,
    revoked_at    REAL
);
CREATE INDEX IF NOT EXISTS api_key_credentials_tenant ON api_key_credentials (tenant_id);
CREATE INDEX IF NOT EXISTS api_key_credentials_key ON api_key_credentials (key_id);
"""

_INSERT = (
    f"INSERT INTO api_key_credentials ({CREDENTIAL_COLUMNS}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _failure(error: sqlite3.Error) -> PlatformError:
    if isinstance(error, sqlite3.IntegrityError):
        return Conflict("API key credential already exists")
    return StorageError(f"API key store failed: {error}")


class SqliteApiKeyStore:
    """API key credentials in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(
            path, schema=_SCHEMA, failure=_failure, pragmas=("PRAGMA synchronous=FULL",)
        )

    @classmethod
    async def open(cls, path: Path) -> SqliteApiKeyStore:
        """Create the schema if needed and return a ready store."""
        store = cls(path)
        await store._file.prepare()
        return store

    async def insert(self, credential: ApiKeyCredential) -> None:
        def insert(db: sqlite3.Connection) -> None:
            db.execute(_INSERT, credential_to_row(credential))

        await self._file.run(insert)

    async def get(self, credential_id: str) -> ApiKeyCredential | None:
        def get(db: sqlite3.Connection) -> ApiKeyCredential | None:
            row = db.execute(
                f"SELECT {CREDENTIAL_COLUMNS} FROM api_key_credentials WHERE credential_id = ?",  # noqa: S608
                (credential_id,),
            ).fetchone()
            return None if row is None else credential_from_row(row)

        return await self._file.run(get)

    async def _list(self, column: str, value: str) -> list[ApiKeyCredential]:
        def select(db: sqlite3.Connection) -> list[ApiKeyCredential]:
            rows = db.execute(
                f"SELECT {CREDENTIAL_COLUMNS} FROM api_key_credentials WHERE {column} = ? "  # noqa: S608
                "ORDER BY created_at, credential_id",
                (value,),
            ).fetchall()
            return [credential_from_row(row) for row in rows]

        return await self._file.run(select)

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKeyCredential]:
        return await self._list("tenant_id", tenant_id)

    async def list_for_key(self, key_id: str) -> list[ApiKeyCredential]:
        return await self._list("key_id", key_id)

    async def rotate(self, key_id: str, new: ApiKeyCredential, old_expires_at: float) -> None:
        def rotate(db: sqlite3.Connection) -> None:
            with transaction(db):
                rows = db.execute(
                    "SELECT credential_id, expires_at, revoked_at FROM api_key_credentials "
                    "WHERE key_id = ?",
                    (key_id,),
                ).fetchall()
                if not rows:
                    raise NotFound(f"API key {key_id!r} does not exist")
                live = [(cid, expires) for cid, expires, revoked in rows if revoked is None]
                if not live:
                    raise Conflict(f"API key {key_id!r} is revoked")
                for credential_id, expires_at in live:
                    db.execute(
                        "UPDATE api_key_credentials SET expires_at = ? WHERE credential_id = ?",
                        (capped_expiry(expires_at, old_expires_at), credential_id),
                    )
                db.execute(_INSERT, credential_to_row(new))

        await self._file.run(rotate)

    async def revoke(self, key_id: str, revoked_at: float) -> None:
        def revoke(db: sqlite3.Connection) -> None:
            with transaction(db):
                found = db.execute(
                    "SELECT 1 FROM api_key_credentials WHERE key_id = ? LIMIT 1", (key_id,)
                ).fetchone()
                if found is None:
                    raise NotFound(f"API key {key_id!r} does not exist")
                db.execute(
                    "UPDATE api_key_credentials SET revoked_at = ? "
                    "WHERE key_id = ? AND revoked_at IS NULL",
                    (revoked_at, key_id),
                )

        await self._file.run(revoke)

    async def close(self) -> None:
        """Nothing to release: connections live only for one operation."""
