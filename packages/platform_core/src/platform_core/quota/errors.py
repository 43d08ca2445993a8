"""The typed failures of the usage ledger and quota checks."""

from __future__ import annotations

from platform_core.errors import Conflict, NotFound

__all__ = ["IdempotencyConflict", "QuotaNotConfigured", "UnknownLedgerEntry"]


class IdempotencyConflict(Conflict):
    """The idempotency key was already used for a different metric, amount or payload."""


class QuotaNotConfigured(NotFound):
    """No limit is configured for this tenant and metric, so nothing can be admitted."""


class UnknownLedgerEntry(NotFound):
    """The tenant has no ledger entry under this idempotency key."""
