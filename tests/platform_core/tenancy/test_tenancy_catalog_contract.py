"""The catalog's promises, on every backend: lifecycle, fail-closed lookups, membership."""

from __future__ import annotations

import asyncio

import pytest

from platform_core.errors import InvalidInput, NotFound, Unauthorized
from platform_core.tenancy import (
    DuplicateNamespace,
    DuplicateTenant,
    IllegalTransition,
    InactiveNamespace,
    InactiveTenant,
    LifecycleState,
    NotAMember,
    TenancyStore,
    TenantCatalog,
    UnknownNamespace,
    UnknownTenant,
)

ACTIVE, SUSPENDED, DELETED = LifecycleState.ACTIVE, LifecycleState.SUSPENDED, LifecycleState.DELETED


async def test_a_created_tenant_is_active_and_found(catalog: TenantCatalog) -> None:
    created = await catalog.create_tenant("acme")
    assert created.state is ACTIVE
    assert await catalog.active_tenant("acme") == created
    assert await catalog.tenants() == [created]


async def test_a_tenant_id_can_be_created_only_once(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    with pytest.raises(DuplicateTenant):
        await catalog.create_tenant("acme")


async def test_a_deleted_tenant_id_is_never_reused(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.delete_tenant("acme")
    with pytest.raises(DuplicateTenant):
        await catalog.create_tenant("acme")


async def test_an_unknown_tenant_fails_closed(catalog: TenantCatalog) -> None:
    with pytest.raises(UnknownTenant):
        await catalog.active_tenant("nobody")
    with pytest.raises(NotFound):
        await catalog.tenant("nobody")


@pytest.mark.parametrize("bad_id", ["", " acme", "a/b", "-lead", "x" * 129, "ten\nant"])
async def test_a_malformed_tenant_id_is_invalid_input(catalog: TenantCatalog, bad_id: str) -> None:
    with pytest.raises(InvalidInput):
        await catalog.create_tenant(bad_id)
    with pytest.raises(InvalidInput):
        await catalog.active_tenant(bad_id)


async def test_a_suspended_tenant_is_not_active(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    suspended = await catalog.suspend_tenant("acme")
    assert suspended.state is SUSPENDED
    with pytest.raises(InactiveTenant):
        await catalog.active_tenant("acme")
    assert (await catalog.tenant("acme")).state is SUSPENDED


async def test_a_suspended_tenant_can_be_reactivated(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.suspend_tenant("acme")
    assert (await catalog.reactivate_tenant("acme")).state is ACTIVE
    assert (await catalog.active_tenant("acme")).state is ACTIVE


@pytest.mark.parametrize("before", [ACTIVE, SUSPENDED])
async def test_deleted_is_final(catalog: TenantCatalog, before: LifecycleState) -> None:
    await catalog.create_tenant("acme")
    await catalog.transition_tenant("acme", before)
    await catalog.delete_tenant("acme")
    for target in (ACTIVE, SUSPENDED):
        with pytest.raises(IllegalTransition):
            await catalog.transition_tenant("acme", target)
    assert (await catalog.tenant("acme")).state is DELETED
    with pytest.raises(InactiveTenant):
        await catalog.active_tenant("acme")


async def test_a_same_state_transition_is_a_no_op(catalog: TenantCatalog) -> None:
    created = await catalog.create_tenant("acme")
    assert await catalog.reactivate_tenant("acme") == created
    await catalog.delete_tenant("acme")
    assert (await catalog.delete_tenant("acme")).state is DELETED


async def test_a_transition_records_when_it_happened(catalog: TenantCatalog) -> None:
    created = await catalog.create_tenant("acme")
    suspended = await catalog.suspend_tenant("acme")
    assert suspended.created_at_ms == created.created_at_ms
    assert suspended.updated_at_ms > created.updated_at_ms


async def test_racing_admins_never_resurrect_a_deleted_tenant(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.suspend_tenant("acme")
    outcomes = await asyncio.gather(
        catalog.delete_tenant("acme"),
        *(catalog.reactivate_tenant("acme") for _ in range(5)),
        return_exceptions=True,
    )
    assert all(
        not isinstance(o, BaseException) or isinstance(o, IllegalTransition) for o in outcomes
    )
    final = await catalog.tenant("acme")
    assert final.state is DELETED


async def test_tenants_are_listed_in_id_order(catalog: TenantCatalog) -> None:
    for tenant_id in ("b", "C", "a", "A"):
        await catalog.create_tenant(tenant_id)
    assert [t.tenant_id for t in await catalog.tenants()] == ["A", "C", "a", "b"]


async def test_a_namespace_of_an_active_tenant_is_active(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    created = await catalog.create_namespace("acme", "prod")
    assert created.state is ACTIVE
    assert await catalog.active_namespace("acme", "prod") == created
    assert await catalog.namespaces("acme") == [created]


async def test_namespace_ids_are_scoped_to_their_tenant(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_tenant("globex")
    await catalog.create_namespace("acme", "prod")
    await catalog.create_namespace("globex", "prod")
    with pytest.raises(DuplicateNamespace):
        await catalog.create_namespace("acme", "prod")
    with pytest.raises(UnknownNamespace):
        await catalog.active_namespace("globex", "staging")


async def test_an_unknown_namespace_fails_closed(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    with pytest.raises(UnknownNamespace):
        await catalog.active_namespace("acme", "prod")
    with pytest.raises(UnknownTenant):
        await catalog.active_namespace("nobody", "prod")


@pytest.mark.parametrize("tenant_state", [SUSPENDED, DELETED])
async def test_a_namespace_of_an_inactive_tenant_is_not_active(
    catalog: TenantCatalog, tenant_state: LifecycleState
) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.transition_tenant("acme", tenant_state)
    with pytest.raises(InactiveNamespace):
        await catalog.active_namespace("acme", "prod")
    assert (await catalog.namespace("acme", "prod")).state is ACTIVE


async def test_a_namespace_comes_back_when_its_tenant_is_reactivated(
    catalog: TenantCatalog,
) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.suspend_tenant("acme")
    await catalog.reactivate_tenant("acme")
    assert (await catalog.active_namespace("acme", "prod")).namespace_id == "prod"


@pytest.mark.parametrize("namespace_state", [SUSPENDED, DELETED])
async def test_an_inactive_namespace_fails_closed(
    catalog: TenantCatalog, namespace_state: LifecycleState
) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.transition_namespace("acme", "prod", namespace_state)
    with pytest.raises(InactiveNamespace):
        await catalog.active_namespace("acme", "prod")


async def test_a_deleted_namespace_is_final(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.delete_namespace("acme", "prod")
    with pytest.raises(IllegalTransition):
        await catalog.reactivate_namespace("acme", "prod")
    with pytest.raises(DuplicateNamespace):
        await catalog.create_namespace("acme", "prod")


async def test_a_suspended_namespace_can_be_reactivated(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.suspend_namespace("acme", "prod")
    await catalog.reactivate_namespace("acme", "prod")
    assert (await catalog.active_namespace("acme", "prod")).state is ACTIVE


@pytest.mark.parametrize("tenant_state", [SUSPENDED, DELETED])
async def test_an_inactive_tenant_takes_no_new_namespace(
    catalog: TenantCatalog, tenant_state: LifecycleState
) -> None:
    await catalog.create_tenant("acme")
    await catalog.transition_tenant("acme", tenant_state)
    with pytest.raises(InactiveTenant):
        await catalog.create_namespace("acme", "prod")
    assert await catalog.namespaces("acme") == []


async def test_a_namespace_of_a_deleted_tenant_cannot_be_reactivated(
    catalog: TenantCatalog,
) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_namespace("acme", "prod")
    await catalog.suspend_namespace("acme", "prod")
    await catalog.delete_tenant("acme")
    with pytest.raises(InactiveTenant):
        await catalog.reactivate_namespace("acme", "prod")
    assert (await catalog.delete_namespace("acme", "prod")).state is DELETED


async def test_a_member_has_the_roles_granted(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.set_membership("acme", "user|42", ["TenantAdmin", "NamespaceReader"])
    membership = await catalog.membership("acme", "user|42")
    assert membership.roles == {"TenantAdmin", "NamespaceReader"}


async def test_setting_a_membership_replaces_its_roles(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.set_membership("acme", "user|42", ["TenantAdmin"])
    await catalog.set_membership("acme", "user|42", ["NamespaceReader"])
    assert (await catalog.membership("acme", "user|42")).roles == {"NamespaceReader"}
    assert len(await catalog.members("acme")) == 1


async def test_a_non_member_fails_closed(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.create_tenant("globex")
    await catalog.set_membership("globex", "user|42", ["TenantAdmin"])
    with pytest.raises(NotAMember):
        await catalog.membership("acme", "user|42")


async def test_a_removed_member_is_no_longer_found(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.set_membership("acme", "user|42", ["TenantAdmin"])
    await catalog.remove_membership("acme", "user|42")
    with pytest.raises(NotAMember):
        await catalog.membership("acme", "user|42")
    with pytest.raises(NotAMember):
        await catalog.remove_membership("acme", "user|42")


async def test_membership_of_a_suspended_tenant_is_refused(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    await catalog.set_membership("acme", "user|42", ["TenantAdmin"])
    await catalog.suspend_tenant("acme")
    with pytest.raises(Unauthorized):
        await catalog.membership("acme", "user|42")


async def test_a_suspended_tenant_still_takes_members_but_a_deleted_one_does_not(
    catalog: TenantCatalog,
) -> None:
    await catalog.create_tenant("acme")
    await catalog.suspend_tenant("acme")
    await catalog.set_membership("acme", "user|42", ["TenantAdmin"])
    await catalog.delete_tenant("acme")
    with pytest.raises(InactiveTenant):
        await catalog.set_membership("acme", "user|7", ["TenantAdmin"])
    assert [m.subject_id for m in await catalog.members("acme")] == ["user|42"]


async def test_membership_in_an_unknown_tenant_is_refused(catalog: TenantCatalog) -> None:
    with pytest.raises(UnknownTenant):
        await catalog.set_membership("nobody", "user|42", ["TenantAdmin"])
    with pytest.raises(UnknownTenant):
        await catalog.membership("nobody", "user|42")


async def test_active_memberships_skip_inactive_tenants(catalog: TenantCatalog) -> None:
    for tenant_id in ("acme", "globex", "initech"):
        await catalog.create_tenant(tenant_id)
        await catalog.set_membership(tenant_id, "user|42", [f"{tenant_id}-admin"])
    await catalog.suspend_tenant("globex")
    memberships = await catalog.active_memberships_of("user|42")
    assert [m.tenant_id for m in memberships] == ["acme", "initech"]


async def test_roles_are_opaque_strings_kept_verbatim(catalog: TenantCatalog) -> None:
    await catalog.create_tenant("acme")
    roles = {"Ünïcode role", "ns:prod/writer", "x" * 128}
    await catalog.set_membership("acme", "user@example.com", roles)
    assert (await catalog.membership("acme", "user@example.com")).roles == roles


@pytest.mark.parametrize(
    ("subject", "roles"),
    [
        ("", ["r"]),
        ("   ", ["r"]),
        ("user", [""]),
        ("user", ["x" * 129]),
        ("user", "TenantAdmin"),
        ("user\x00", ["r"]),
    ],
)
async def test_a_malformed_membership_is_invalid_input(
    catalog: TenantCatalog, subject: str, roles: list[str]
) -> None:
    await catalog.create_tenant("acme")
    with pytest.raises(InvalidInput):
        await catalog.set_membership("acme", subject, roles)
    assert await catalog.members("acme") == []


async def test_a_stale_state_change_is_refused_by_the_store(
    catalog: TenantCatalog, tenancy_store: TenancyStore
) -> None:
    await catalog.create_tenant("acme")
    await catalog.suspend_tenant("acme")
    assert await tenancy_store.replace_tenant_state("acme", ACTIVE, DELETED, 1) is None
    assert (await catalog.tenant("acme")).state is SUSPENDED
