"""The authoritative tenant and namespace catalog: lifecycle rules and fail-closed lookups.

Invariants: a lifecycle change is checked against the current state and applied
by compare-and-set, so two admins racing can never move a record through an
illegal edge (a lost race re-reads and re-checks); a namespace is usable only
while it and its tenant are both active; every `active_*`/`membership` lookup
either returns a usable record or raises a typed error, never a default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from platform_core.errors import Conflict
from platform_core.tenancy.errors import (
    InactiveNamespace,
    InactiveTenant,
    NotAMember,
    UnknownNamespace,
    UnknownTenant,
)
from platform_core.tenancy.model import (
    LifecycleState,
    Membership,
    Namespace,
    Tenant,
    check_transition,
    validate_identifier,
    validate_subject_id,
)
from platform_core.tenancy.store import TenancyStore

__all__ = ["TenantCatalog"]

_MAX_STATE_RACES = 8


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class TenantCatalog:
    """Tenants, their namespaces and members, over any `TenancyStore`."""

    def __init__(self, store: TenancyStore, *, clock_ms: Callable[[], int] = _wall_clock_ms):
        self._store = store
        self._clock_ms = clock_ms

    # -- tenants -----------------------------------------------------------------------

    async def create_tenant(self, tenant_id: str) -> Tenant:
        """Register a new, active tenant. `DuplicateTenant` if the id was ever used."""
        now = self._clock_ms()
        tenant = Tenant(tenant_id, LifecycleState.ACTIVE, now, now)
        await self._store.insert_tenant(tenant)
        return tenant

    async def tenant(self, tenant_id: str) -> Tenant:
        """The tenant in whatever state it is in (for administration)."""
        validate_identifier("tenant id", tenant_id)
        tenant = await self._store.get_tenant(tenant_id)
        if tenant is None:
            raise UnknownTenant(f"unknown tenant {tenant_id}")
        return tenant

    async def active_tenant(self, tenant_id: str) -> Tenant:
        """The tenant if it is active; `UnknownTenant` or `InactiveTenant` otherwise."""
        tenant = await self.tenant(tenant_id)
        if tenant.state is not LifecycleState.ACTIVE:
            raise InactiveTenant(f"tenant {tenant_id} is {tenant.state.value}")
        return tenant

    async def tenants(self) -> list[Tenant]:
        """Every tenant in any state, sorted by id."""
        return await self._store.list_tenants()

    async def suspend_tenant(self, tenant_id: str) -> Tenant:
        return await self.transition_tenant(tenant_id, LifecycleState.SUSPENDED)

    async def reactivate_tenant(self, tenant_id: str) -> Tenant:
        return await self.transition_tenant(tenant_id, LifecycleState.ACTIVE)

    async def delete_tenant(self, tenant_id: str) -> Tenant:
        """Mark the tenant deleted, for good: its id stays reserved and it never returns."""
        return await self.transition_tenant(tenant_id, LifecycleState.DELETED)

    async def transition_tenant(self, tenant_id: str, target: LifecycleState) -> Tenant:
        """Move the tenant to `target` if the lifecycle allows it (a no-op if already there)."""
        for _ in range(_MAX_STATE_RACES):
            current = await self.tenant(tenant_id)
            check_transition(f"tenant {tenant_id}", current.state, target)
            if current.state is target:
                return current
            updated = await self._store.replace_tenant_state(
                tenant_id, current.state, target, self._clock_ms()
            )
            if updated is not None:
                return updated
        raise Conflict(f"tenant {tenant_id} kept changing state; retry")

    # -- namespaces --------------------------------------------------------------------

    async def create_namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        """Add an active namespace to an active tenant."""
        await self.active_tenant(tenant_id)
        now = self._clock_ms()
        namespace = Namespace(tenant_id, namespace_id, LifecycleState.ACTIVE, now, now)
        await self._store.insert_namespace(namespace)
        return namespace

    async def namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        """The namespace in whatever state it is in (for administration)."""
        await self.tenant(tenant_id)
        validate_identifier("namespace id", namespace_id)
        namespace = await self._store.get_namespace(tenant_id, namespace_id)
        if namespace is None:
            raise UnknownNamespace(f"tenant {tenant_id} has no namespace {namespace_id}")
        return namespace

    async def active_namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        """The namespace if both it and its tenant are active; a typed error otherwise."""
        tenant = await self.tenant(tenant_id)
        namespace = await self.namespace(tenant_id, namespace_id)
        if tenant.state is not LifecycleState.ACTIVE:
            raise InactiveNamespace(
                f"namespace {namespace_id} is unavailable: tenant {tenant_id} is "
                f"{tenant.state.value}"
            )
        if namespace.state is not LifecycleState.ACTIVE:
            raise InactiveNamespace(f"namespace {namespace_id} is {namespace.state.value}")
        return namespace

    async def namespaces(self, tenant_id: str) -> list[Namespace]:
        """Every namespace of the tenant in any state, sorted by id."""
        await self.tenant(tenant_id)
        return await self._store.list_namespaces(tenant_id)

    async def suspend_namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        return await self.transition_namespace(tenant_id, namespace_id, LifecycleState.SUSPENDED)

    async def reactivate_namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        return await self.transition_namespace(tenant_id, namespace_id, LifecycleState.ACTIVE)

    async def delete_namespace(self, tenant_id: str, namespace_id: str) -> Namespace:
        return await self.transition_namespace(tenant_id, namespace_id, LifecycleState.DELETED)

    async def transition_namespace(
        self, tenant_id: str, namespace_id: str, target: LifecycleState
    ) -> Namespace:
        """Move the namespace to `target` if the lifecycle allows it.

        A namespace of a deleted tenant can only be deleted itself: nothing of a
        deleted tenant comes back to life.
        """
        for _ in range(_MAX_STATE_RACES):
            tenant = await self.tenant(tenant_id)
            current = await self.namespace(tenant_id, namespace_id)
            check_transition(f"namespace {namespace_id}", current.state, target)
            if current.state is target:
                return current
            if tenant.state is LifecycleState.DELETED and target is not LifecycleState.DELETED:
                raise InactiveTenant(f"tenant {tenant_id} is deleted")
            updated = await self._store.replace_namespace_state(
                tenant_id, namespace_id, current.state, target, self._clock_ms()
            )
            if updated is not None:
                return updated
        raise Conflict(f"namespace {namespace_id} kept changing state; retry")

    # -- memberships -------------------------------------------------------------------

    async def set_membership(
        self, tenant_id: str, subject_id: str, roles: Iterable[str]
    ) -> Membership:
        """Grant the subject exactly `roles` in the tenant (replacing earlier roles).

        Allowed while the tenant is active or suspended; a deleted tenant takes no members.
        """
        membership = Membership(tenant_id, subject_id, roles)
        tenant = await self.tenant(tenant_id)
        if tenant.state is LifecycleState.DELETED:
            raise InactiveTenant(f"tenant {tenant_id} is deleted")
        await self._store.put_membership(membership)
        return membership

    async def remove_membership(self, tenant_id: str, subject_id: str) -> None:
        """Revoke the subject's membership; `NotAMember` if it had none."""
        await self.tenant(tenant_id)
        validate_subject_id(subject_id)
        if not await self._store.delete_membership(tenant_id, subject_id):
            raise NotAMember(f"subject is not a member of tenant {tenant_id}")

    async def membership(self, tenant_id: str, subject_id: str) -> Membership:
        """The subject's membership in an active tenant; a typed error otherwise."""
        await self.active_tenant(tenant_id)
        validate_subject_id(subject_id)
        membership = await self._store.get_membership(tenant_id, subject_id)
        if membership is None:
            raise NotAMember(f"subject is not a member of tenant {tenant_id}")
        return membership

    async def members(self, tenant_id: str) -> list[Membership]:
        """Every member of the tenant in any state, sorted by subject id (for administration)."""
        await self.tenant(tenant_id)
        return await self._store.list_members(tenant_id)

    async def active_memberships_of(self, subject_id: str) -> list[Membership]:
        """The subject's memberships in active tenants only, sorted by tenant id."""
        validate_subject_id(subject_id)
        usable: list[Membership] = []
        for membership in await self._store.memberships_of(subject_id):
            tenant = await self._store.get_tenant(membership.tenant_id)
            if tenant is not None and tenant.state is LifecycleState.ACTIVE:
                usable.append(membership)
        return usable
