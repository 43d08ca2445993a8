"""Ledger entries and the outcomes of `record` and `consume`.

Invariants: an entry is immutable once written and is the first and only
outcome ever returned for its `(tenant_id, idempotency_key)`; its fingerprint
is the SHA-256 of the canonical JSON of (tenant, key, metric, amount, payload),
so a replay with anything different is detected without storing a second copy,
and an entry altered in the database fails verification when it is read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime

import attrs

from platform_core.errors import IntegrityError, InvalidInput
from platform_core.quota.metrics import UsageMetric

__all__ = [
    "Admitted",
    "Denied",
    "LedgerEntry",
    "Recorded",
    "Usage",
    "canonical_json",
    "stored_metric",
    "usage_fingerprint",
    "validate_amount",
    "validate_idempotency_key",
    "verified",
]

MAX_AMOUNT = 2**53
MAX_PAYLOAD_CHARS = 65_536
_KEY = re.compile(r"[\x21-\x7e]{1,255}")

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def validate_idempotency_key(value: object) -> str:
    """A client idempotency key: 1-255 visible ASCII characters (Stripe's bound)."""
    if not isinstance(value, str) or _KEY.fullmatch(value) is None:
        raise InvalidInput("an idempotency key must be 1-255 visible ASCII characters")
    return value


def validate_amount(value: object) -> int:
    """Units to count: a whole number from 1 to 2**53."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_AMOUNT:
        raise InvalidInput(f"a usage amount must be an integer from 1 to {MAX_AMOUNT}")
    return value


def _check_json(value: object, depth: int = 0) -> None:
    if depth > 64:
        raise InvalidInput("usage payload nests deeper than 64 levels")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("usage payload numbers must be finite")
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_json(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput("usage payload object keys must be strings")
            _check_json(item, depth + 1)
        return
    raise InvalidInput(f"usage payload holds a {type(value).__name__}, which is not JSON")


def canonical_json(value: object) -> str:
    """Sorted keys, no whitespace, UTF-8: equal payloads give equal text (at most 64 KiB)."""
    _check_json(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_PAYLOAD_CHARS:
        raise InvalidInput(f"usage payload is larger than {MAX_PAYLOAD_CHARS} characters as JSON")
    return text


def usage_fingerprint(
    tenant_id: str, idempotency_key: str, metric: UsageMetric, amount: int, payload_json: str
) -> str:
    """SHA-256 of the canonical JSON object of one use (keys sorted, `payload_json` inlined)."""
    document = (
        f'{{"amount":{amount},"key":{json.dumps(idempotency_key)},'
        f'"metric":{json.dumps(metric.value)},"payload":{payload_json},'
        f'"tenant":{json.dumps(tenant_id)}}}'
    )
    return hashlib.sha256(document.encode()).hexdigest()


def stored_metric(label: str) -> UsageMetric:
    """The metric a stored row names; a label outside the catalogue means tampering."""
    try:
        return UsageMetric(label)
    except ValueError:
        raise IntegrityError(f"stored usage names an unknown metric {label!r}") from None


def verified(entry: LedgerEntry) -> LedgerEntry:
    """The entry, if its fingerprint still matches what it says; `IntegrityError` if not."""
    expected = usage_fingerprint(
        entry.tenant_id, entry.idempotency_key, entry.metric, entry.amount, entry.payload_json
    )
    if entry.fingerprint != expected:
        raise IntegrityError(
            f"ledger entry {entry.sequence} of tenant {entry.tenant_id} does not match "
            "its fingerprint (altered after it was written)"
        )
    return entry


@attrs.frozen
class LedgerEntry:
    """One counted use. `sequence` orders entries within a store; times are epoch ms."""

    sequence: int
    tenant_id: str
    idempotency_key: str
    metric: UsageMetric
    amount: int
    fingerprint: str
    payload_json: str = attrs.field(repr=False)
    window_start: int
    recorded_at_ms: int

    @property
    def payload(self) -> JsonValue:
        decoded: JsonValue = json.loads(self.payload_json)
        return decoded


@attrs.frozen
class Recorded:
    """`record` counted `entry`, or (`replayed`) found it counted already."""

    entry: LedgerEntry
    replayed: bool


@attrs.frozen
class Admitted:
    """`consume` admitted the use; `replayed` when this key was admitted before."""

    entry: LedgerEntry
    replayed: bool


@attrs.frozen
class Denied:
    """`consume` refused: the amount does not fit in what is left of the window.

    Nothing was written; a retry with the same key is judged afresh.
    """

    metric: UsageMetric
    limit: int
    remaining: int
    resets_at: datetime | None


@attrs.frozen
class Usage:
    """A tenant's standing on one metric in the current window."""

    metric: UsageMetric
    used: int
    limit: int | None
    remaining: int | None
    window_start: int
    resets_at: datetime | None
