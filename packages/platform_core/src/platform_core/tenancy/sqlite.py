"""SQLite backend of `TenancyStore` (stdlib sqlite3, run in worker threads).

Each operation opens its own connection inside `asyncio.to_thread`, so no
connection is shared between threads and several processes may open one file;
WAL mode lets readers proceed while an admin change commits. A state change is
one conditional `UPDATE ... WHERE state = ?`, which SQLite applies atomically.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from platform_core.errors import StorageError
from platform_core.storage.sqlite import SqliteFile
from platform_core.tenancy.errors import DuplicateNamespace, DuplicateTenant
from platform_core.tenancy.model import LifecycleState, Membership, Namespace, Tenant

__all__ = ["SqliteTenancyStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenancy_tenants (
    tenant_id     TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'deleted')),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tenancy_namespaces (
    tenant_id     TEXT NOT NULL REFERENCES tenancy_tenants (tenant_id),
    namespace_id  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'deleted')),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, namespace_id)
);
CREATE TABLE IF NOT EXISTS tenancy_memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenancy_tenants (tenant_id),
    subject_id TEXT NOT NULL,
    roles      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject_id)
);
CREATE INDEX IF NOT EXISTS tenancy_memberships_subject ON tenancy_memberships (subject_id);
"""


def _tenant(row: tuple[str, str, int, int]) -> Tenant:
    return Tenant(row[0], LifecycleState(row[1]), row[2], row[3])


def _namespace(row: tuple[str, str, str, int, int]) -> Namespace:
    return Namespace(row[0], row[1], LifecycleState(row[2]), row[3], row[4])


def _membership(row: tuple[str, str, str]) -> Membership:
    return Membership(row[0], row[1], frozenset(json.loads(row[2])))


def _failure(error: sqlite3.Error) -> StorageError:
    return StorageError(f"tenancy store (sqlite): {error}")


class SqliteTenancyStore:
    """The catalog in one SQLite file, created on first use."""

    def __init__(self, path: str | Path) -> None:
        self._file = SqliteFile(
            path, schema=_SCHEMA, failure=_failure, pragmas=("PRAGMA foreign_keys = ON",)
        )

    async def insert_tenant(self, tenant: Tenant) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO tenancy_tenants (tenant_id, state, created_at_ms, updated_at_ms) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        tenant.tenant_id,
                        tenant.state.value,
                        tenant.created_at_ms,
                        tenant.updated_at_ms,
                    ),
                )
            except sqlite3.IntegrityError as error:
                if error.sqlite_errorname != "SQLITE_CONSTRAINT_PRIMARYKEY":
                    raise
                raise DuplicateTenant(f"tenant {tenant.tenant_id} already exists") from error

        await self._file.run(insert)

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        def get(connection: sqlite3.Connection) -> Tenant | None:
            row = connection.execute(
                "SELECT tenant_id, state, created_at_ms, updated_at_ms "
                "FROM tenancy_tenants "
                "WHERE tenant_id = ?",
                (tenant_id,),
            ).fetchone()
            return None if row is None else _tenant(row)

        return await self._file.run(get)

    async def list_tenants(self) -> list[Tenant]:
        def select(connection: sqlite3.Connection) -> list[Tenant]:
            rows = connection.execute(
                "SELECT tenant_id, state, created_at_ms, updated_at_ms "
                "FROM tenancy_tenants "
                "ORDER BY tenant_id"
            ).fetchall()
            return [_tenant(row) for row in rows]

        return await self._file.run(select)

    async def replace_tenant_state(
        self, tenant_id: str, expected: LifecycleState, new: LifecycleState, at_ms: int
    ) -> Tenant | None:
        def update(connection: sqlite3.Connection) -> Tenant | None:
            row = connection.execute(
                "UPDATE tenancy_tenants SET state = ?, updated_at_ms = ? "
                "WHERE tenant_id = ? AND state = ? "
                "RETURNING tenant_id, state, created_at_ms, updated_at_ms",
                (new.value, at_ms, tenant_id, expected.value),
            ).fetchone()
            return None if row is None else _tenant(row)

        return await self._file.run(update)

    async def insert_namespace(self, namespace: Namespace) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO tenancy_namespaces "
                    "(tenant_id, namespace_id, state, created_at_ms, updated_at_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        namespace.tenant_id,
                        namespace.namespace_id,
                        namespace.state.value,
                        namespace.created_at_ms,
                        namespace.updated_at_ms,
                    ),
                )
            except sqlite3.IntegrityError as error:
                if error.sqlite_errorname != "SQLITE_CONSTRAINT_PRIMARYKEY":
                    raise
                raise DuplicateNamespace(
                    f"tenant {namespace.tenant_id} already has namespace {namespace.namespace_id}"
                ) from error

        await self._file.run(insert)

    async def get_namespace(self, tenant_id: str, namespace_id: str) -> Namespace | None:
        def get(connection: sqlite3.Connection) -> Namespace | None:
            row = connection.execute(
                "SELECT tenant_id, namespace_id, state, created_at_ms, updated_at_ms "
                "FROM tenancy_namespaces "
                "WHERE tenant_id = ? AND namespace_id = ?",
                (tenant_id, namespace_id),
            ).fetchone()
            return None if row is None else _namespace(row)

        return await self._file.run(get)

    async def list_namespaces(self, tenant_id: str) -> list[Namespace]:
        def select(connection: sqlite3.Connection) -> list[Namespace]:
            rows = connection.execute(
                "SELECT tenant_id, namespace_id, state, created_at_ms, updated_at_ms "
                "FROM tenancy_namespaces "
                "WHERE tenant_id = ? "
                "ORDER BY namespace_id",
                (tenant_id,),
            ).fetchall()
            return [_namespace(row) for row in rows]

        return await self._file.run(select)

    async def replace_namespace_state(
        self,
        tenant_id: str,
        namespace_id: str,
        expected: LifecycleState,
        new: LifecycleState,
        at_ms: int,
    ) -> Namespace | None:
        def update(connection: sqlite3.Connection) -> Namespace | None:
            row = connection.execute(
                "UPDATE tenancy_namespaces SET state = ?, updated_at_ms = ? "
                "WHERE tenant_id = ? AND namespace_id = ? AND state = ? "
                "RETURNING tenant_id, namespace_id, state, created_at_ms, updated_at_ms",
                (new.value, at_ms, tenant_id, namespace_id, expected.value),
            ).fetchone()
            return None if row is None else _namespace(row)

        return await self._file.run(update)

    async def put_membership(self, membership: Membership) -> None:
        roles = json.dumps(sorted(membership.roles))

        def upsert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO tenancy_memberships (tenant_id, subject_id, roles) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant_id, subject_id) DO UPDATE SET roles = excluded.roles",
                (membership.tenant_id, membership.subject_id, roles),
            )

        await self._file.run(upsert)

    async def get_membership(self, tenant_id: str, subject_id: str) -> Membership | None:
        def get(connection: sqlite3.Connection) -> Membership | None:
            row = connection.execute(
                "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
                "WHERE tenant_id = ? AND subject_id = ?",
                (tenant_id, subject_id),
            ).fetchone()
            return None if row is None else _membership(row)

        return await self._file.run(get)

    async def delete_membership(self, tenant_id: str, subject_id: str) -> bool:
        def delete(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "DELETE FROM tenancy_memberships WHERE tenant_id = ? AND subject_id = ?",
                (tenant_id, subject_id),
            )
            return cursor.rowcount > 0

        return await self._file.run(delete)

    async def list_members(self, tenant_id: str) -> list[Membership]:
        def select(connection: sqlite3.Connection) -> list[Membership]:
            rows = connection.execute(
                "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
                "WHERE tenant_id = ? ORDER BY subject_id",
                (tenant_id,),
            ).fetchall()
            return [_membership(row) for row in rows]

        return await self._file.run(select)

    async def memberships_of(self, subject_id: str) -> list[Membership]:
        def select(connection: sqlite3.Connection) -> list[Membership]:
            rows = connection.execute(
                "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
                "WHERE subject_id = ? ORDER BY tenant_id",
                (subject_id,),
            ).fetchall()
            return [_membership(row) for row in rows]

        return await self._file.run(select)

    async def close(self) -> None:
        return None
