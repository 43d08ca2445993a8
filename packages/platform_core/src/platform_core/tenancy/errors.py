"""The typed failures of the tenancy catalog.

Lookups fail closed: an unknown tenant, namespace or member is a `NotFound`,
an existing but suspended or deleted one an `Unauthorized` (the caller is known,
the catalog denies the use), so no caller can mistake a refusal for a default.
"""

from __future__ import annotations

from platform_core.errors import Conflict, NotFound, Unauthorized

__all__ = [
    "DuplicateNamespace",
    "DuplicateTenant",
    "IllegalTransition",
    "InactiveNamespace",
    "InactiveTenant",
    "NotAMember",
    "UnknownNamespace",
    "UnknownTenant",
]


class UnknownTenant(NotFound):
    """No tenant with this id was ever created."""


class UnknownNamespace(NotFound):
    """The tenant has no namespace with this id."""


class NotAMember(NotFound):
    """The subject holds no membership in the tenant."""


class InactiveTenant(Unauthorized):
    """The tenant exists but is suspended or deleted."""


class InactiveNamespace(Unauthorized):
    """The namespace, or the tenant that owns it, is suspended or deleted."""


class DuplicateTenant(Conflict):
    """A tenant with this id already exists (in any state: ids are never reused)."""


class DuplicateNamespace(Conflict):
    """The tenant already has a namespace with this id (in any state)."""


class IllegalTransition(Conflict):
    """The lifecycle does not allow this state change (deleted is final)."""
