"""Quota: the idempotent usage ledger, atomic check-and-consume, and rate limits.

`UsageLedger.consume` checks and counts in one atomic store operation (memory,
SQLite `BEGIN IMMEDIATE`, or one PostgreSQL statement); `RateLimiter` holds the
per-tenant and per-token token buckets. See docs/platform_core/quota.md.
"""

from platform_core.quota.errors import IdempotencyConflict, QuotaNotConfigured, UnknownLedgerEntry
from platform_core.quota.ledger import UsageLedger
from platform_core.quota.metrics import UsageMetric
from platform_core.quota.model import Admitted, Denied, LedgerEntry, Recorded, Usage
from platform_core.quota.periods import CalendarMonth, FixedWindow, Lifetime, Period
from platform_core.quota.policy import QuotaLimit, QuotaPolicy
from platform_core.quota.postgres import PostgresUsageStore
from platform_core.quota.ratelimit import (
    BucketPolicy,
    RateAdmitted,
    RateLimited,
    RateLimiter,
    RateScope,
)
from platform_core.quota.sqlite import SqliteUsageStore
from platform_core.quota.store import MemoryUsageStore, UsageStore

__all__ = [
    "Admitted",
    "BucketPolicy",
    "CalendarMonth",
    "Denied",
    "FixedWindow",
    "IdempotencyConflict",
    "LedgerEntry",
    "Lifetime",
    "MemoryUsageStore",
    "Period",
    "PostgresUsageStore",
    "QuotaLimit",
    "QuotaNotConfigured",
    "QuotaPolicy",
    "RateAdmitted",
    "RateLimited",
    "RateLimiter",
    "RateScope",
    "Recorded",
    "SqliteUsageStore",
    "UnknownLedgerEntry",
    "Usage",
    "UsageLedger",
    "UsageMetric",
    "UsageStore",
]
