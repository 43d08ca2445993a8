"""Tenancy: the authoritative catalog of tenants, their namespaces and members.

`TenantCatalog` holds the lifecycle rules (active, suspended, deleted; deleted
is final) and answers fail-closed lookups; a `TenancyStore` (memory, SQLite or
PostgreSQL) only persists. See docs/platform_core/tenancy.md.
"""

from platform_core.tenancy.catalog import TenantCatalog
from platform_core.tenancy.errors import (
    DuplicateNamespace,
    DuplicateTenant,
    IllegalTransition,
    InactiveNamespace,
    InactiveTenant,
    NotAMember,
    UnknownNamespace,
    UnknownTenant,
)
from platform_core.tenancy.model import LifecycleState, Membership, Namespace, Tenant
from platform_core.tenancy.postgres import PostgresTenancyStore
from platform_core.tenancy.sqlite import SqliteTenancyStore
from platform_core.tenancy.store import MemoryTenancyStore, TenancyStore

__all__ = [
    "DuplicateNamespace",
    "DuplicateTenant",
    "IllegalTransition",
    "InactiveNamespace",
    "InactiveTenant",
    "LifecycleState",
    "Membership",
    "MemoryTenancyStore",
    "Namespace",
    "NotAMember",
    "PostgresTenancyStore",
    "SqliteTenancyStore",
    "TenancyStore",
    "Tenant",
    "TenantCatalog",
    "UnknownNamespace",
    "UnknownTenant",
]
