"""Tenants, namespaces and memberships, and the one lifecycle both entities follow.

Invariants: identifiers are validated where a value is built, so no store ever
holds an id a lookup could not match; `deleted` is final (a deleted id is never
reused); a same-state request is a no-op so retried admin calls are safe; role
names are opaque strings the catalog stores but never interprets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

import attrs

from platform_core.errors import InvalidInput
from platform_core.tenancy.errors import IllegalTransition

__all__ = [
    "LifecycleState",
    "Membership",
    "Namespace",
    "Tenant",
    "check_transition",
    "validate_identifier",
    "validate_subject_id",
]

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_MAX_SUBJECT_CHARS = 255
_MAX_ROLE_CHARS = 128


class LifecycleState(StrEnum):
    """Where a tenant or namespace is in its life."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


_LEGAL_TARGETS: dict[LifecycleState, frozenset[LifecycleState]] = {
    LifecycleState.ACTIVE: frozenset({LifecycleState.SUSPENDED, LifecycleState.DELETED}),
    LifecycleState.SUSPENDED: frozenset({LifecycleState.ACTIVE, LifecycleState.DELETED}),
    LifecycleState.DELETED: frozenset(),
}


def check_transition(what: str, current: LifecycleState, target: LifecycleState) -> None:
    """Raise `IllegalTransition` unless `current -> target` is allowed or a no-op."""
    if target is not current and target not in _LEGAL_TARGETS[current]:
        raise IllegalTransition(f"{what} cannot go from {current.value} to {target.value}")


def validate_identifier(kind: str, value: object) -> str:
    """A tenant or namespace id: 1-128 chars of letters, digits and `._:@-`."""
    if not isinstance(value, str) or _IDENTIFIER.fullmatch(value) is None:
        raise InvalidInput(
            f"{kind} must be 1-128 characters of letters, digits and '._:@-', "
            "starting with a letter or digit"
        )
    return value


def _printable(kind: str, value: object, max_chars: int) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > max_chars
        or not value.isprintable()
    ):
        raise InvalidInput(f"{kind} must be a non-blank printable string of at most {max_chars}")
    return value


def validate_subject_id(value: object) -> str:
    """A principal subject id (e.g. an OIDC `sub`): printable, at most 255 characters."""
    return _printable("subject id", value, _MAX_SUBJECT_CHARS)


def _validate_roles(value: object) -> frozenset[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput("roles must be a collection of role names, not a single string")
    return frozenset(_printable("role name", role, _MAX_ROLE_CHARS) for role in value)


def _tenant_id(value: object) -> str:
    return validate_identifier("tenant id", value)


def _namespace_id(value: object) -> str:
    return validate_identifier("namespace id", value)


@attrs.frozen
class Tenant:
    """A tenant as the catalog records it. Times are epoch milliseconds."""

    tenant_id: str = attrs.field(converter=_tenant_id)
    state: LifecycleState
    created_at_ms: int
    updated_at_ms: int

    @property
    def is_active(self) -> bool:
        return self.state is LifecycleState.ACTIVE


@attrs.frozen
class Namespace:
    """A namespace owned by one tenant; its id is unique within that tenant."""

    tenant_id: str = attrs.field(converter=_tenant_id)
    namespace_id: str = attrs.field(converter=_namespace_id)
    state: LifecycleState
    created_at_ms: int
    updated_at_ms: int


@attrs.frozen
class Membership:
    """A principal's membership in a tenant, with the role names granted there."""

    tenant_id: str = attrs.field(converter=_tenant_id)
    subject_id: str = attrs.field(converter=validate_subject_id)
    roles: frozenset[str] = attrs.field(converter=_validate_roles)
