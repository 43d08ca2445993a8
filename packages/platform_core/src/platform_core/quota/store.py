"""Where usage is counted: the `UsageStore` interface and its memory backend.

`apply` is the one write and is atomic on every backend: it either finds the
`(tenant_id, idempotency_key)` already written and changes nothing, or finds the
counter too full for a limit and changes nothing, or writes the ledger entry and
adds the amount to the window's counter together. So the counter of a window is
always the sum of its ledger entries, whatever runs concurrently. Every backend
passes tests/platform_core/quota/test_quota_ledger_contract.py. The SQL backends
read entries through one query, `LEDGER_ENTRY_SELECT`, and its row codec.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from platform_core.quota.metrics import UsageMetric
from platform_core.quota.model import LedgerEntry, stored_metric

__all__ = [
    "LEDGER_ENTRY_SELECT",
    "Applied",
    "MemoryUsageStore",
    "OverLimit",
    "Replayed",
    "StoreOutcome",
    "UsageRequest",
    "UsageStore",
    "entry_from_row",
    "written_entry",
]

LEDGER_ENTRY_SELECT = (
    "SELECT sequence, tenant_id, idempotency_key, metric, amount, fingerprint, payload, "
    "window_start, recorded_at_ms FROM quota_ledger "
)
"""The columns of a ledger entry in `entry_from_row` order; a WHERE clause follows."""


@attrs.frozen
class UsageRequest:
    """One use to count; `limit` None counts unconditionally (a plain `record`)."""

    tenant_id: str
    idempotency_key: str
    metric: UsageMetric
    amount: int
    fingerprint: str
    payload_json: str = attrs.field(repr=False)
    window_start: int
    limit: int | None
    recorded_at_ms: int


@attrs.frozen
class Applied:
    """The entry was written; `used` is the window's counter including it."""

    entry: LedgerEntry
    used: int


@attrs.frozen
class Replayed:
    """The key was already written: here is that first entry (it may differ from the request)."""

    entry: LedgerEntry


@attrs.frozen
class OverLimit:
    """The amount does not fit; nothing was written. `used` is the counter as found."""

    used: int


StoreOutcome = Applied | Replayed | OverLimit


def entry_from_row(row: Sequence[Any]) -> LedgerEntry:
    """The entry a `LEDGER_ENTRY_SELECT` row holds; an unknown metric is an `IntegrityError`."""
    return LedgerEntry(
        sequence=row[0],
        tenant_id=row[1],
        idempotency_key=row[2],
        metric=stored_metric(row[3]),
        amount=row[4],
        fingerprint=row[5],
        payload_json=row[6],
        window_start=row[7],
        recorded_at_ms=row[8],
    )


def written_entry(request: UsageRequest, sequence: int) -> LedgerEntry:
    """The entry `apply` writes for the request under the store's next `sequence`."""
    return LedgerEntry(
        sequence=sequence,
        tenant_id=request.tenant_id,
        idempotency_key=request.idempotency_key,
        metric=request.metric,
        amount=request.amount,
        fingerprint=request.fingerprint,
        payload_json=request.payload_json,
        window_start=request.window_start,
        recorded_at_ms=request.recorded_at_ms,
    )


class UsageStore(Protocol):
    async def apply(self, request: UsageRequest) -> StoreOutcome:
        """Atomically replay, refuse, or write the entry and bump the counter."""
        ...

    async def counter(self, tenant_id: str, metric: UsageMetric, window_start: int) -> int:
        """Units counted for the tenant and metric in that window (0 if none)."""
        ...

    async def entry(self, tenant_id: str, idempotency_key: str) -> LedgerEntry | None: ...

    async def entries(self, tenant_id: str) -> list[LedgerEntry]:
        """The tenant's ledger in the order it was written."""
        ...

    async def close(self) -> None: ...


class MemoryUsageStore:
    """Process-local store; a threading lock makes `apply` atomic across loops and threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], LedgerEntry] = {}
        self._counters: dict[tuple[str, UsageMetric, int], int] = {}
        self._sequence = 0

    async def apply(self, request: UsageRequest) -> StoreOutcome:
        key = (request.tenant_id, request.idempotency_key)
        counter = (request.tenant_id, request.metric, request.window_start)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                return Replayed(existing)
            used = self._counters.get(counter, 0)
            if request.limit is not None and used + request.amount > request.limit:
                return OverLimit(used)
            self._sequence += 1
            entry = written_entry(request, self._sequence)
            self._entries[key] = entry
            self._counters[counter] = used + request.amount
            return Applied(entry, used + request.amount)

    async def counter(self, tenant_id: str, metric: UsageMetric, window_start: int) -> int:
        with self._lock:
            return self._counters.get((tenant_id, metric, window_start), 0)

    async def entry(self, tenant_id: str, idempotency_key: str) -> LedgerEntry | None:
        with self._lock:
            return self._entries.get((tenant_id, idempotency_key))

    async def entries(self, tenant_id: str) -> list[LedgerEntry]:
        with self._lock:
            found = [e for (tenant, _), e in self._entries.items() if tenant == tenant_id]
        return sorted(found, key=lambda entry: entry.sequence)

    async def close(self) -> None:
        return None
