"""Where role bindings live: the `RoleBindingStore` interface and its backends.

Granting is idempotent (granting an existing binding changes nothing);
revoking a binding that does not exist is `NotFound`, so a typo in an
offboarding script is loud. A tenant-wide binding is stored with an empty
namespace column; `Scope` forbids empty namespaces, so the two never collide.
Every backend passes tests/platform_core/authz/test_authz_binding_store_contract.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool

from platform_core.authz.roles import RoleBinding, Scope
from platform_core.errors import NotFound, StorageError
from platform_core.storage.postgres import OPEN_FAILURES, open_pool
from platform_core.storage.sqlite import SqliteFile

__all__ = [
    "MemoryRoleBindingStore",
    "PostgresRoleBindingStore",
    "RoleBindingSource",
    "RoleBindingStore",
    "SqliteRoleBindingStore",
]


class RoleBindingSource(Protocol):
    """What the policy engine reads: the bindings of one subject in one tenant."""

    async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
        """Every binding of `subject` whose scope is in `tenant_id`."""


class RoleBindingStore(RoleBindingSource, Protocol):
    """Durable role bindings."""

    async def grant(self, binding: RoleBinding) -> None:
        """Add the binding; granting it again changes nothing."""

    async def revoke(self, binding: RoleBinding) -> None:
        """Remove the binding; `NotFound` if it does not exist."""

    async def list_for_tenant(self, tenant_id: str) -> list[RoleBinding]:
        """Every binding in the tenant, ordered by subject, role, namespace."""

    async def close(self) -> None:
        """Release connections."""


def _order(binding: RoleBinding) -> tuple[str, str, str]:
    return (binding.subject, binding.role, binding.scope.namespace or "")


def _binding(subject: str, role: str, tenant_id: str, namespace: str) -> RoleBinding:
    return RoleBinding(subject, role, Scope(tenant_id, namespace or None))


def _columns(binding: RoleBinding) -> tuple[str, str, str, str]:
    return (binding.subject, binding.role, binding.scope.tenant_id, binding.scope.namespace or "")


class MemoryRoleBindingStore:
    """Process-local bindings for tests and single-process embedding."""

    def __init__(self, bindings: Sequence[RoleBinding] = ()) -> None:
        self._bindings: set[RoleBinding] = set(bindings)

    async def grant(self, binding: RoleBinding) -> None:
        self._bindings.add(binding)

    async def revoke(self, binding: RoleBinding) -> None:
        if binding not in self._bindings:
            raise NotFound(f"no such role binding: {binding.role} for {binding.subject}")
        self._bindings.remove(binding)

    async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
        found = [
            b for b in self._bindings if b.subject == subject and b.scope.tenant_id == tenant_id
        ]
        return sorted(found, key=_order)

    async def list_for_tenant(self, tenant_id: str) -> list[RoleBinding]:
        return sorted((b for b in self._bindings if b.scope.tenant_id == tenant_id), key=_order)

    async def close(self) -> None:
        self._bindings.clear()


_SCHEMA_LOCK = 0x726F_6C65_73  # "roles": one advisory lock id per schema owner
_SCHEMA = """
CREATE TABLE IF NOT EXISTS role_bindings (
    subject   TEXT NOT NULL,
    role      TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    PRIMARY KEY (subject, role, tenant_id, namespace)
);
CREATE INDEX IF NOT EXISTS role_bindings_tenant ON role_bindings (tenant_id, subject);
"""


def _sqlite_failure(error: sqlite3.Error) -> StorageError:
    return StorageError(f"role binding store failed: {error}")


class SqliteRoleBindingStore:
    """Role bindings in one SQLite file; one connection per operation, in a worker thread."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path, schema=_SCHEMA, failure=_sqlite_failure)

    @classmethod
    async def open(cls, path: Path) -> SqliteRoleBindingStore:
        store = cls(path)
        await store._file.prepare()
        return store

    async def grant(self, binding: RoleBinding) -> None:
        await self._file.run(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO role_bindings VALUES (?, ?, ?, ?)", _columns(binding)
            )
        )

    async def revoke(self, binding: RoleBinding) -> None:
        def revoke(db: sqlite3.Connection) -> int:
            return db.execute(
                "DELETE FROM role_bindings "
                "WHERE subject = ? AND role = ? AND tenant_id = ? AND namespace = ?",
                _columns(binding),
            ).rowcount

        if await self._file.run(revoke) == 0:
            raise NotFound(f"no such role binding: {binding.role} for {binding.subject}")

    async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
        rows = await self._file.run(
            lambda db: db.execute(
                "SELECT subject, role, tenant_id, namespace FROM role_bindings "
                "WHERE subject = ? AND tenant_id = ? ORDER BY subject, role, namespace",
                (subject, tenant_id),
            ).fetchall()
        )
        return [_binding(*row) for row in rows]

    async def list_for_tenant(self, tenant_id: str) -> list[RoleBinding]:
        rows = await self._file.run(
            lambda db: db.execute(
                "SELECT subject, role, tenant_id, namespace FROM role_bindings "
                "WHERE tenant_id = ? ORDER BY subject, role, namespace",
                (tenant_id,),
            ).fetchall()
        )
        return [_binding(*row) for row in rows]

    async def close(self) -> None:
        """Nothing to release: connections live only for one operation."""


class PostgresRoleBindingStore:
    """Role bindings in PostgreSQL."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10
    ) -> PostgresRoleBindingStore:
        try:
            pool = await open_pool(
                dsn,
                schema=(_SCHEMA,),
                schema_lock=_SCHEMA_LOCK,
                min_size=min_size,
                max_size=max_size,
            )
        except OPEN_FAILURES as error:
            raise StorageError(f"cannot open the role binding store: {error}") from error
        return cls(pool)

    async def _rows(self, query: str, params: tuple[str, ...]) -> list[RoleBinding]:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(query, params)
                rows = await cursor.fetchall()
        except psycopg.Error as error:
            raise StorageError(f"role binding store failed: {error}") from error
        return [_binding(*row) for row in rows]

    async def grant(self, binding: RoleBinding) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO role_bindings VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    _columns(binding),
                )
        except psycopg.Error as error:
            raise StorageError(f"role binding store failed: {error}") from error

    async def revoke(self, binding: RoleBinding) -> None:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    "DELETE FROM role_bindings "
                    "WHERE subject = %s AND role = %s AND tenant_id = %s AND namespace = %s",
                    _columns(binding),
                )
                deleted = cursor.rowcount
        except psycopg.Error as error:
            raise StorageError(f"role binding store failed: {error}") from error
        if deleted == 0:
            raise NotFound(f"no such role binding: {binding.role} for {binding.subject}")

    async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
        return await self._rows(
            "SELECT subject, role, tenant_id, namespace FROM role_bindings "
            "WHERE subject = %s AND tenant_id = %s "
            'ORDER BY subject COLLATE "C", role COLLATE "C", namespace COLLATE "C"',
            (subject, tenant_id),
        )

    async def list_for_tenant(self, tenant_id: str) -> list[RoleBinding]:
        return await self._rows(
            "SELECT subject, role, tenant_id, namespace FROM role_bindings "
            "WHERE tenant_id = %s "
            'ORDER BY subject COLLATE "C", role COLLATE "C", namespace COLLATE "C"',
            (tenant_id,),
        )

    async def close(self) -> None:
        await self._pool.close()
