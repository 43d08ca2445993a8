"""Permission patterns, built-in roles and scopes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_core.authz.permissions import (
    REGISTRY_READ,
    REGISTRY_WRITE,
    check_action,
    check_permission,
    permission_grants,
    tool_action,
)
from platform_core.authz.roles import (
    AUDITOR,
    ORG_ADMIN,
    PROJECT_ADMIN,
    SERVICE,
    Role,
    RoleCatalog,
    Scope,
)
from platform_core.errors import Conflict, InvalidInput

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
actions = st.builds(lambda d, n: f"{d}:{n}", identifiers, identifiers)


def test_tool_action_names_the_tool() -> None:
    assert tool_action("scenario_start") == "tool:scenario_start"


@pytest.mark.parametrize("action", ["", "tool", "tool:", ":x", "Tool:x", "tool:*", "*", "a:b c"])
def test_malformed_actions_are_invalid_input(action: str) -> None:
    with pytest.raises(InvalidInput):
        check_action(action)


@pytest.mark.parametrize("permission", ["", "tool*", "*:read", "tool:scen*", "**"])
def test_malformed_permissions_are_invalid_input(permission: str) -> None:
    with pytest.raises(InvalidInput):
        check_permission(permission)


def test_domain_wildcard_grants_only_its_domain() -> None:
    assert permission_grants("tool:*", "tool:scenario_start")
    assert not permission_grants("tool:*", "toolbox:open")
    assert not permission_grants("tool:*", REGISTRY_READ)


@given(actions, actions)
@settings(max_examples=150)
def test_an_exact_permission_grants_only_itself(granted: str, asked: str) -> None:
    assert permission_grants(granted, asked) == (granted == asked)


@given(actions)
@settings(max_examples=100)
def test_star_grants_every_action(action: str) -> None:
    assert permission_grants("*", action)


@pytest.mark.parametrize(
    ("role", "action", "granted"),
    [
        (ORG_ADMIN, "audit:export", True),
        (ORG_ADMIN, REGISTRY_WRITE, True),
        (PROJECT_ADMIN, "tool:scenario_start", True),
        (PROJECT_ADMIN, REGISTRY_WRITE, True),
        (PROJECT_ADMIN, "audit:read", False),
        (AUDITOR, REGISTRY_READ, True),
        (AUDITOR, "audit:read", True),
        (AUDITOR, REGISTRY_WRITE, False),
        (AUDITOR, "tool:scenario_start", False),
        (SERVICE, "tool:scenario_next", True),
        (SERVICE, REGISTRY_READ, True),
        (SERVICE, REGISTRY_WRITE, False),
    ],
)
def test_builtin_roles_grant_exactly_what_they_promise(
    role: Role, action: str, granted: bool
) -> None:
    assert role.grants(action) is granted


def test_custom_roles_join_the_catalog() -> None:
    catalog = RoleCatalog([Role("runner", {"tool:scenario_start", "tool:scenario_next"})])
    runner = catalog.get("runner")
    assert runner is not None
    assert runner.grants("tool:scenario_next")
    assert "org_admin" in catalog.names()


def test_a_custom_role_cannot_replace_a_builtin() -> None:
    with pytest.raises(Conflict):
        RoleCatalog([Role("auditor", {"*"})])


@pytest.mark.parametrize(
    ("name", "permissions"),
    [("Runner", {"tool:x"}), ("runner", {"tool"}), ("runner", "tool:x")],
)
def test_malformed_roles_are_invalid_input(name: str, permissions: object) -> None:
    with pytest.raises(InvalidInput):
        Role(name, permissions)  # type: ignore[arg-type]


def test_tenant_scope_covers_its_namespaces_but_not_other_tenants() -> None:
    tenant = Scope("acme")
    assert tenant.covers(Scope("acme", "payments"))
    assert tenant.covers(Scope("acme"))
    assert not tenant.covers(Scope("globex", "payments"))


def test_namespace_scope_covers_only_itself() -> None:
    namespace = Scope("acme", "payments")
    assert namespace.covers(Scope("acme", "payments"))
    assert not namespace.covers(Scope("acme"))
    assert not namespace.covers(Scope("acme", "billing"))
    assert not namespace.covers(Scope("globex", "payments"))


@pytest.mark.parametrize(("tenant", "namespace"), [("", None), ("acme", ""), ("a\nb", None)])
def test_malformed_scopes_are_invalid_input(tenant: str, namespace: str | None) -> None:
    with pytest.raises(InvalidInput):
        Scope(tenant, namespace)
