"""PostgreSQL backend of `TenancyStore` (psycopg 3 async, one connection pool).

Connections run in autocommit: every operation is a single statement, so each
is its own transaction and a state change is one conditional
`UPDATE ... WHERE state = %s RETURNING`, atomic under any number of servers.
The schema is created under a transaction-scoped advisory lock, so several
processes opening the same database at once do not race on `CREATE TABLE`.
Ids sort with `COLLATE "C"` to match the memory and SQLite backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from platform_core.errors import StorageError
from platform_core.storage.postgres import OPEN_FAILURES, open_pool
from platform_core.tenancy.errors import DuplicateNamespace, DuplicateTenant
from platform_core.tenancy.model import LifecycleState, Membership, Namespace, Tenant

__all__ = ["PostgresTenancyStore"]

_SCHEMA_LOCK = 0x7465_6E61_6E63  # "tenanc": one advisory lock id per schema owner

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tenancy_tenants (
        tenant_id     TEXT PRIMARY KEY,
        state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'deleted')),
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tenancy_namespaces (
        tenant_id     TEXT NOT NULL REFERENCES tenancy_tenants (tenant_id),
        namespace_id  TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'deleted')),
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, namespace_id))""",
    """CREATE TABLE IF NOT EXISTS tenancy_memberships (
        tenant_id  TEXT NOT NULL REFERENCES tenancy_tenants (tenant_id),
        subject_id TEXT NOT NULL,
        roles      TEXT[] NOT NULL,
        PRIMARY KEY (tenant_id, subject_id))""",
    "CREATE INDEX IF NOT EXISTS tenancy_memberships_subject ON tenancy_memberships (subject_id)",
)


def _tenant(row: TupleRow) -> Tenant:
    return Tenant(row[0], LifecycleState(row[1]), row[2], row[3])


def _namespace(row: TupleRow) -> Namespace:
    return Namespace(row[0], row[1], LifecycleState(row[2]), row[3], row[4])


def _membership(row: TupleRow) -> Membership:
    return Membership(row[0], row[1], frozenset(row[2]))


class PostgresTenancyStore:
    """The catalog in PostgreSQL tables `tenancy_*`. Build it with `open`."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0
    ) -> Self:
        """Connect a pool to `dsn` and create the tables if they are missing.

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
            raise StorageError(f"tenancy store (postgres): {type(error).__name__}") from error
        return cls(pool)

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[TupleRow]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query, params)
                return await cursor.fetchall() if cursor.description is not None else []
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.Error as error:
            raise StorageError(f"tenancy store (postgres): {type(error).__name__}") from error

    async def insert_tenant(self, tenant: Tenant) -> None:
        try:
            await self._fetch(
                "INSERT INTO tenancy_tenants (tenant_id, state, created_at_ms, updated_at_ms) "
                "VALUES (%s, %s, %s, %s)",
                (tenant.tenant_id, tenant.state.value, tenant.created_at_ms, tenant.updated_at_ms),
            )
        except psycopg.errors.UniqueViolation as error:
            raise DuplicateTenant(f"tenant {tenant.tenant_id} already exists") from error

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = await self._fetch(
            "SELECT tenant_id, state, created_at_ms, updated_at_ms "
            "FROM tenancy_tenants "
            "WHERE tenant_id = %s",
            (tenant_id,),
        )
        return _tenant(rows[0]) if rows else None

    async def list_tenants(self) -> list[Tenant]:
        rows = await self._fetch(
            "SELECT tenant_id, state, created_at_ms, updated_at_ms "
            "FROM tenancy_tenants "
            'ORDER BY tenant_id COLLATE "C"',
            (),
        )
        return [_tenant(row) for row in rows]

    async def replace_tenant_state(
        self, tenant_id: str, expected: LifecycleState, new: LifecycleState, at_ms: int
    ) -> Tenant | None:
        rows = await self._fetch(
            "UPDATE tenancy_tenants SET state = %s, updated_at_ms = %s "
            "WHERE tenant_id = %s AND state = %s "
            "RETURNING tenant_id, state, created_at_ms, updated_at_ms",
            (new.value, at_ms, tenant_id, expected.value),
        )
        return _tenant(rows[0]) if rows else None

    async def insert_namespace(self, namespace: Namespace) -> None:
        try:
            await self._fetch(
                "INSERT INTO tenancy_namespaces "
                "(tenant_id, namespace_id, state, created_at_ms, updated_at_ms) "
                "VALUES (%s, %s, %s, %s, %s)",
                (
                    namespace.tenant_id,
                    namespace.namespace_id,
                    namespace.state.value,
                    namespace.created_at_ms,
                    namespace.updated_at_ms,
                ),
            )
        except psycopg.errors.UniqueViolation as error:
            raise DuplicateNamespace(
                f"tenant {namespace.tenant_id} already has namespace {namespace.namespace_id}"
            ) from error

    async def get_namespace(self, tenant_id: str, namespace_id: str) -> Namespace | None:
        rows = await self._fetch(
            "SELECT tenant_id, namespace_id, state, created_at_ms, updated_at_ms "
            "FROM tenancy_namespaces "
            "WHERE tenant_id = %s AND namespace_id = %s",
            (tenant_id, namespace_id),
        )
        return _namespace(rows[0]) if rows else None

    async def list_namespaces(self, tenant_id: str) -> list[Namespace]:
        rows = await self._fetch(
            "SELECT tenant_id, namespace_id, state, created_at_ms, updated_at_ms "
            "FROM tenancy_namespaces "
            "WHERE tenant_id = %s "
            'ORDER BY namespace_id COLLATE "C"',
            (tenant_id,),
        )
        return [_namespace(row) for row in rows]

    async def replace_namespace_state(
        self,
        tenant_id: str,
        namespace_id: str,
        expected: LifecycleState,
        new: LifecycleState,
        at_ms: int,
    ) -> Namespace | None:
        rows = await self._fetch(
            "UPDATE tenancy_namespaces SET state = %s, updated_at_ms = %s "
            "WHERE tenant_id = %s AND namespace_id = %s AND state = %s "
            "RETURNING tenant_id, namespace_id, state, created_at_ms, updated_at_ms",
            (new.value, at_ms, tenant_id, namespace_id, expected.value),
        )
        return _namespace(rows[0]) if rows else None

    async def put_membership(self, membership: Membership) -> None:
        await self._fetch(
            "INSERT INTO tenancy_memberships (tenant_id, subject_id, roles) VALUES (%s, %s, %s) "
            "ON CONFLICT (tenant_id, subject_id) DO UPDATE SET roles = EXCLUDED.roles",
            (membership.tenant_id, membership.subject_id, sorted(membership.roles)),
        )

    async def get_membership(self, tenant_id: str, subject_id: str) -> Membership | None:
        rows = await self._fetch(
            "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
            "WHERE tenant_id = %s AND subject_id = %s",
            (tenant_id, subject_id),
        )
        return _membership(rows[0]) if rows else None

    async def delete_membership(self, tenant_id: str, subject_id: str) -> bool:
        rows = await self._fetch(
            "DELETE FROM tenancy_memberships WHERE tenant_id = %s AND subject_id = %s "
            "RETURNING subject_id",
            (tenant_id, subject_id),
        )
        return bool(rows)

    async def list_members(self, tenant_id: str) -> list[Membership]:
        rows = await self._fetch(
            "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
            'WHERE tenant_id = %s ORDER BY subject_id COLLATE "C"',
            (tenant_id,),
        )
        return [_membership(row) for row in rows]

    async def memberships_of(self, subject_id: str) -> list[Membership]:
        rows = await self._fetch(
            "SELECT tenant_id, subject_id, roles FROM tenancy_memberships "
            'WHERE subject_id = %s ORDER BY tenant_id COLLATE "C"',
            (subject_id,),
        )
        return [_membership(row) for row in rows]

    async def close(self) -> None:
        await self._pool.close()
