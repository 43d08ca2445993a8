"""Roles: named sets of permissions, and where they are bound.

Built-in roles (custom roles sit beside them, never replace them):
- `org_admin`: everything in its scope.
- `project_admin`: every tool and every registry action.
- `auditor`: read-only: `registry:read` and `audit:read`.
- `service`: a workload: every tool, `registry:read`.

A `RoleBinding` gives one subject one role in one `Scope`. A tenant-wide
scope (no namespace) covers every namespace of that tenant; a namespace scope
covers only that namespace, never the tenant as a whole and never another
tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from platform_core.authz.permissions import (
    REGISTRY_READ,
    check_permission,
    permission_grants,
)
from platform_core.errors import Conflict, InvalidInput

__all__ = [
    "AUDITOR",
    "BUILTIN_ROLES",
    "ORG_ADMIN",
    "PROJECT_ADMIN",
    "SERVICE",
    "Role",
    "RoleBinding",
    "RoleCatalog",
    "Scope",
]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_MAX_ID = 200


def _identifier(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID or not value.isprintable():
        raise InvalidInput(f"{attribute.name} must be 1-{_MAX_ID} printable characters")


def _optional_identifier(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _identifier(_, attribute, value)


def _role_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(f"role name {value!r} must be lowercase letters, digits and '_'")


def _permissions(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise InvalidInput("permissions are a collection of strings, not one string")
    return frozenset(check_permission(p) for p in value)


@attrs.frozen
class Scope:
    """Where a binding applies or an action happens: a tenant, optionally one namespace."""

    tenant_id: str = attrs.field(validator=_identifier)
    namespace: str | None = attrs.field(default=None, validator=_optional_identifier)

    def covers(self, other: Scope) -> bool:
        """Whether a binding at this scope applies to an action at `other`."""
        if self.tenant_id != other.tenant_id:
            return False
        return self.namespace is None or self.namespace == other.namespace

    def __str__(self) -> str:
        if self.namespace is None:
            return f"tenant {self.tenant_id}"
        return f"tenant {self.tenant_id} namespace {self.namespace}"


@attrs.frozen
class Role:
    """A named set of permission patterns."""

    name: str = attrs.field(validator=_role_name)
    permissions: frozenset[str] = attrs.field(converter=_permissions)
    description: str = ""

    def grants(self, action: str) -> bool:
        return any(permission_grants(p, action) for p in self.permissions)


@attrs.frozen
class RoleBinding:
    """One subject holds one role in one scope."""

    subject: str = attrs.field(validator=_identifier)
    role: str = attrs.field(validator=_role_name)
    scope: Scope


ORG_ADMIN = Role("org_admin", {"*"}, "everything in its scope")
PROJECT_ADMIN = Role(
    "project_admin", {"tool:*", "registry:*"}, "every tool and every registry action"
)
AUDITOR = Role("auditor", {REGISTRY_READ, "audit:read"}, "read-only access for review")
SERVICE = Role("service", {"tool:*", REGISTRY_READ}, "a workload: runs tools, reads the registry")
BUILTIN_ROLES = (ORG_ADMIN, PROJECT_ADMIN, AUDITOR, SERVICE)


class RoleCatalog:
    """The roles a policy engine knows: the built-ins plus custom roles."""

    def __init__(self, custom: Iterable[Role] = ()) -> None:
        self._roles = {role.name: role for role in BUILTIN_ROLES}
        for role in custom:
            if role.name in self._roles:
                raise Conflict(f"role {role.name!r} is already defined")
            self._roles[role.name] = role

    def get(self, name: str) -> Role | None:
        return self._roles.get(name)

    def names(self) -> list[str]:
        return sorted(self._roles)
