"""The idempotent usage ledger and atomic quota check-and-consume.

Call `consume` *before* the mutation it guards: the check and the counting are
one atomic store operation, so concurrent callers on any number of processes
can never be admitted past the limit (no check-then-record window). `record`
counts without a limit (usage measured after the fact, e.g. stored bytes).

Idempotency: the first outcome under a `(tenant_id, idempotency_key)` is the
only one; a retry with the same metric, amount and payload gets that entry
back marked `replayed` and is never counted twice; the same key with anything
different is an `IdempotencyConflict`. A `Denied` writes nothing, so a retry
after the window resets or the limit rises is judged afresh. Keys are scoped
to the tenant; a caller metering several metrics for one request derives one
key per metric (e.g. `f"{request_id}:{metric}"`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from platform_core.errors import StorageError
from platform_core.quota.errors import IdempotencyConflict, QuotaNotConfigured, UnknownLedgerEntry
from platform_core.quota.metrics import UsageMetric, parse_metric
from platform_core.quota.model import (
    Admitted,
    Denied,
    LedgerEntry,
    Recorded,
    Usage,
    canonical_json,
    usage_fingerprint,
    validate_amount,
    validate_idempotency_key,
    verified,
)
from platform_core.quota.periods import Lifetime
from platform_core.quota.policy import MAX_UNITS, QuotaLimit, QuotaPolicy
from platform_core.quota.store import OverLimit, Replayed, UsageRequest, UsageStore
from platform_core.tenancy.model import validate_identifier

__all__ = ["UsageLedger"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _resets_at(end: int | None) -> datetime | None:
    return None if end is None else datetime.fromtimestamp(end, UTC)


class UsageLedger:
    """Usage counting and quota enforcement for many tenants over one `UsageStore`."""

    def __init__(
        self,
        store: UsageStore,
        policy: QuotaPolicy,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    async def record(
        self,
        tenant_id: str,
        metric: UsageMetric | str,
        amount: int,
        idempotency_key: str,
        payload: object = None,
    ) -> Recorded:
        """Count `amount` units whatever the limit; a repeated key is counted once."""
        request, _ = self._request(
            tenant_id, metric, amount, idempotency_key, payload, enforce=False
        )
        outcome = await self._store.apply(request)
        if isinstance(outcome, OverLimit):
            raise StorageError("usage store refused an unconditional record")
        entry = verified(outcome.entry)
        _check_same_use(entry, request)
        return Recorded(entry, replayed=isinstance(outcome, Replayed))

    async def consume(
        self,
        tenant_id: str,
        metric: UsageMetric | str,
        amount: int,
        idempotency_key: str,
        payload: object = None,
    ) -> Admitted | Denied:
        """Admit and count `amount` units if they fit in the tenant's limit, atomically."""
        request, limit = self._request(
            tenant_id, metric, amount, idempotency_key, payload, enforce=True
        )
        outcome = await self._store.apply(request)
        if isinstance(outcome, OverLimit):
            return Denied(
                metric=request.metric,
                limit=limit.limit,
                remaining=max(0, limit.limit - outcome.used),
                resets_at=_resets_at(limit.period.window_end(request.window_start)),
            )
        entry = verified(outcome.entry)
        _check_same_use(entry, request)
        return Admitted(entry, replayed=isinstance(outcome, Replayed))

    async def usage(self, tenant_id: str, metric: UsageMetric | str) -> Usage:
        """The tenant's count, limit and what is left of it in the current window."""
        tenant_id = validate_identifier("tenant id", tenant_id)
        metric = parse_metric(metric)
        limit = self._policy.limit_for(tenant_id, metric)
        period = Lifetime() if limit is None else limit.period
        window_start = period.window_start(self._clock())
        used = await self._store.counter(tenant_id, metric, window_start)
        return Usage(
            metric=metric,
            used=used,
            limit=None if limit is None else limit.limit,
            remaining=None if limit is None else max(0, limit.limit - used),
            window_start=window_start,
            resets_at=_resets_at(period.window_end(window_start)),
        )

    async def entry(self, tenant_id: str, idempotency_key: str) -> LedgerEntry:
        """The entry written under the key; `UnknownLedgerEntry` if there is none."""
        tenant_id = validate_identifier("tenant id", tenant_id)
        idempotency_key = validate_idempotency_key(idempotency_key)
        entry = await self._store.entry(tenant_id, idempotency_key)
        if entry is None:
            raise UnknownLedgerEntry(f"tenant {tenant_id} has no entry under that key")
        return verified(entry)

    async def entries(self, tenant_id: str) -> list[LedgerEntry]:
        """The tenant's ledger in the order it was written, every entry verified."""
        entries = await self._store.entries(validate_identifier("tenant id", tenant_id))
        return [verified(entry) for entry in entries]

    def _request(
        self,
        tenant_id: str,
        metric: UsageMetric | str,
        amount: int,
        idempotency_key: str,
        payload: object,
        *,
        enforce: bool,
    ) -> tuple[UsageRequest, QuotaLimit]:
        """The store request, and the limit it is judged by (a lifetime one when absent)."""
        tenant_id = validate_identifier("tenant id", tenant_id)
        parsed = parse_metric(metric)
        amount = validate_amount(amount)
        idempotency_key = validate_idempotency_key(idempotency_key)
        payload_json = canonical_json(payload)
        limit = self._policy.limit_for(tenant_id, parsed)
        if limit is None:
            if enforce:
                raise QuotaNotConfigured(f"no {parsed.value} quota is configured for {tenant_id}")
            limit = QuotaLimit(MAX_UNITS, Lifetime())
        now = self._clock()
        request = UsageRequest(
            tenant_id=tenant_id,
            idempotency_key=idempotency_key,
            metric=parsed,
            amount=amount,
            fingerprint=usage_fingerprint(tenant_id, idempotency_key, parsed, amount, payload_json),
            payload_json=payload_json,
            window_start=limit.period.window_start(now),
            limit=limit.limit if enforce else None,
            recorded_at_ms=int(now.timestamp() * 1000),
        )
        return request, limit


def _check_same_use(entry: LedgerEntry, request: UsageRequest) -> None:
    if entry.fingerprint != request.fingerprint:
        raise IdempotencyConflict(
            f"idempotency key already used by tenant {request.tenant_id} for a different "
            "metric, amount or payload"
        )
