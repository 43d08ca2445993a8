"""The behaviour every `RoleBindingStore` backend promises (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

from platform_core.authz.bindings import RoleBindingStore
from platform_core.authz.roles import RoleBinding, Scope
from platform_core.errors import NotFound

TENANT_WIDE = RoleBinding("oidc:idp#alice", "org_admin", Scope("acme"))
IN_NAMESPACE = RoleBinding("oidc:idp#alice", "project_admin", Scope("acme", "payments"))
OTHER_TENANT = RoleBinding("oidc:idp#alice", "auditor", Scope("globex"))
OTHER_SUBJECT = RoleBinding("apikey:K1", "service", Scope("acme", "payments"))


async def test_granted_bindings_are_read_back_for_their_subject_and_tenant(
    binding_store: RoleBindingStore,
) -> None:
    for binding in (IN_NAMESPACE, TENANT_WIDE, OTHER_TENANT, OTHER_SUBJECT):
        await binding_store.grant(binding)
    found = await binding_store.bindings_for("oidc:idp#alice", "acme")
    assert list(found) == [TENANT_WIDE, IN_NAMESPACE]


async def test_tenant_wide_and_namespace_scopes_stay_distinct(
    binding_store: RoleBindingStore,
) -> None:
    await binding_store.grant(RoleBinding("s", "auditor", Scope("acme")))
    await binding_store.grant(RoleBinding("s", "auditor", Scope("acme", "ns")))
    scopes = [b.scope for b in await binding_store.bindings_for("s", "acme")]
    assert scopes == [Scope("acme"), Scope("acme", "ns")]


async def test_granting_twice_is_idempotent(binding_store: RoleBindingStore) -> None:
    await binding_store.grant(TENANT_WIDE)
    await binding_store.grant(TENANT_WIDE)
    assert await binding_store.list_for_tenant("acme") == [TENANT_WIDE]


async def test_revoked_binding_is_gone(binding_store: RoleBindingStore) -> None:
    await binding_store.grant(TENANT_WIDE)
    await binding_store.grant(IN_NAMESPACE)
    await binding_store.revoke(TENANT_WIDE)
    assert list(await binding_store.bindings_for("oidc:idp#alice", "acme")) == [IN_NAMESPACE]


async def test_revoking_a_missing_binding_is_not_found(binding_store: RoleBindingStore) -> None:
    with pytest.raises(NotFound):
        await binding_store.revoke(TENANT_WIDE)


async def test_tenant_listing_is_ordered_and_confined_to_the_tenant(
    binding_store: RoleBindingStore,
) -> None:
    for binding in (OTHER_SUBJECT, IN_NAMESPACE, OTHER_TENANT, TENANT_WIDE):
        await binding_store.grant(binding)
    assert await binding_store.list_for_tenant("acme") == [
        OTHER_SUBJECT,
        TENANT_WIDE,
        IN_NAMESPACE,
    ]


async def test_listing_orders_by_subject_bytes(binding_store: RoleBindingStore) -> None:
    for subject in ("b", "B", "a", "A"):
        await binding_store.grant(RoleBinding(subject, "auditor", Scope("acme")))
    assert [b.subject for b in await binding_store.list_for_tenant("acme")] == ["A", "B", "a", "b"]
