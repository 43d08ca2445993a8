"""The error base of platform_core.

Every failure a caller can act on surfaces as a subclass of `PlatformError`, so
a service can map the whole family to a response without catching bare
exceptions. Messages never carry secrets (tokens, key material, passwords):
they are safe to log and to return to a client.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "PlatformError",
    "StorageError",
    "Unauthenticated",
    "Unauthorized",
]


class PlatformError(Exception):
    """Base of every typed platform_core failure."""


class InvalidInput(PlatformError):
    """A caller-supplied value is malformed or out of range."""


class NotFound(PlatformError):
    """The named record does not exist."""


class Conflict(PlatformError):
    """The operation contradicts existing state (duplicate id, stale version)."""


class Unauthenticated(PlatformError):
    """The credential is missing, malformed, expired or cannot be verified."""


class Unauthorized(PlatformError):
    """The principal is known but the policy denies the action."""


class StorageError(PlatformError):
    """A backing store failed or is unreachable."""


class IntegrityError(PlatformError):
    """Stored data failed a tamper or consistency check."""
