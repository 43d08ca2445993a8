"""Where the tenancy catalog lives: the `TenancyStore` interface and its memory backend.

A store is deliberately dumb: it persists rows, refuses duplicates and changes a
lifecycle state only by compare-and-set on the state it expects, so the lifecycle
rules live once, in `TenantCatalog`, and hold under concurrent admins on every
backend. Every backend passes tests/platform_core/tenancy/test_tenancy_catalog_contract.py.
"""

from __future__ import annotations

import threading
from typing import Protocol

import attrs

from platform_core.tenancy.errors import DuplicateNamespace, DuplicateTenant
from platform_core.tenancy.model import LifecycleState, Membership, Namespace, Tenant

__all__ = ["MemoryTenancyStore", "TenancyStore"]


class TenancyStore(Protocol):
    """Persistence of tenants, namespaces and memberships. Lists are sorted by id."""

    async def insert_tenant(self, tenant: Tenant) -> None:
        """Add a tenant; `DuplicateTenant` if the id exists in any state."""
        ...

    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]: ...

    async def replace_tenant_state(
        self, tenant_id: str, expected: LifecycleState, new: LifecycleState, at_ms: int
    ) -> Tenant | None:
        """Set the state if it is still `expected`; None when it is not (or no tenant)."""
        ...

    async def insert_namespace(self, namespace: Namespace) -> None:
        """Add a namespace; `DuplicateNamespace` if the tenant already has the id."""
        ...

    async def get_namespace(self, tenant_id: str, namespace_id: str) -> Namespace | None: ...

    async def list_namespaces(self, tenant_id: str) -> list[Namespace]: ...

    async def replace_namespace_state(
        self,
        tenant_id: str,
        namespace_id: str,
        expected: LifecycleState,
        new: LifecycleState,
        at_ms: int,
    ) -> Namespace | None:
        """Set the state if it is still `expected`; None when it is not (or no namespace)."""
        ...

    async def put_membership(self, membership: Membership) -> None:
        """Create or replace the membership of `(tenant_id, subject_id)`."""
        ...

    async def get_membership(self, tenant_id: str, subject_id: str) -> Membership | None: ...

    async def delete_membership(self, tenant_id: str, subject_id: str) -> bool:
        """Remove the membership; False when there was none."""
        ...

    async def list_members(self, tenant_id: str) -> list[Membership]: ...

    async def memberships_of(self, subject_id: str) -> list[Membership]:
        """Every membership of the subject, sorted by tenant id."""
        ...

    async def close(self) -> None: ...


class MemoryTenancyStore:
    """Process-local store for tests and single-process embedding.

    A threading lock (not an asyncio one) guards the maps, so one store may be
    shared by several event loops or threads; no await happens while it is held.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, Tenant] = {}
        self._namespaces: dict[tuple[str, str], Namespace] = {}
        self._members: dict[tuple[str, str], Membership] = {}

    async def insert_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.tenant_id in self._tenants:
                raise DuplicateTenant(f"tenant {tenant.tenant_id} already exists")
            self._tenants[tenant.tenant_id] = tenant

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self._tenants.get(tenant_id)

    async def list_tenants(self) -> list[Tenant]:
        with self._lock:
            return [self._tenants[key] for key in sorted(self._tenants)]

    async def replace_tenant_state(
        self, tenant_id: str, expected: LifecycleState, new: LifecycleState, at_ms: int
    ) -> Tenant | None:
        with self._lock:
            current = self._tenants.get(tenant_id)
            if current is None or current.state is not expected:
                return None
            updated = attrs.evolve(current, state=new, updated_at_ms=at_ms)
            self._tenants[tenant_id] = updated
            return updated

    async def insert_namespace(self, namespace: Namespace) -> None:
        key = (namespace.tenant_id, namespace.namespace_id)
        with self._lock:
            if key in self._namespaces:
                raise DuplicateNamespace(
                    f"tenant {namespace.tenant_id} already has namespace {namespace.namespace_id}"
                )
            self._namespaces[key] = namespace

    async def get_namespace(self, tenant_id: str, namespace_id: str) -> Namespace | None:
        with self._lock:
            return self._namespaces.get((tenant_id, namespace_id))

    async def list_namespaces(self, tenant_id: str) -> list[Namespace]:
        with self._lock:
            return [
                self._namespaces[key] for key in sorted(self._namespaces) if key[0] == tenant_id
            ]

    async def replace_namespace_state(
        self,
        tenant_id: str,
        namespace_id: str,
        expected: LifecycleState,
        new: LifecycleState,
        at_ms: int,
    ) -> Namespace | None:
        key = (tenant_id, namespace_id)
        with self._lock:
            current = self._namespaces.get(key)
            if current is None or current.state is not expected:
                return None
            updated = attrs.evolve(current, state=new, updated_at_ms=at_ms)
            self._namespaces[key] = updated
            return updated

    async def put_membership(self, membership: Membership) -> None:
        with self._lock:
            self._members[(membership.tenant_id, membership.subject_id)] = membership

    async def get_membership(self, tenant_id: str, subject_id: str) -> Membership | None:
        with self._lock:
            return self._members.get((tenant_id, subject_id))

    async def delete_membership(self, tenant_id: str, subject_id: str) -> bool:
        with self._lock:
            return self._members.pop((tenant_id, subject_id), None) is not None

    async def list_members(self, tenant_id: str) -> list[Membership]:
        with self._lock:
            return [self._members[key] for key in sorted(self._members) if key[0] == tenant_id]

    async def memberships_of(self, subject_id: str) -> list[Membership]:
        with self._lock:
            return [self._members[key] for key in sorted(self._members) if key[1] == subject_id]

    async def close(self) -> None:
        return None
