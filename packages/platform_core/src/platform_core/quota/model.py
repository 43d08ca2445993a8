"""Ledger entries and the outcomes of `record` and `consume`.

Invariants: an entry is immutable once written and is the first and only
outcome ever returned for its `(tenant_id, idempotency_key)`; its fingerprint
is the SHA-256 of the canonical JSON of (metric, amount, payload), so a replay
with anything different is detected without storing a second copy.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime

import attrs

from platform_core.errors import InvalidInput
from platform_core.quota.metrics import UsageMetric

__all__ = [
    "Admitted",
    "Denied",
    "LedgerEntry",
    "Recorded",
    "Usage",
    "canonical_json",
    "usage_fingerprint",
    "validate_amount",
    "validate_idempotency_key",
]

MAX_AMOUNT = 2**53
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
    """Sorted keys, no whitespace, UTF-8: equal payloads give equal text."""
    _check_json(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def usage_fingerprint(metric: UsageMetric, amount: int, payload_json: str) -> str:
    document = f'{{"amount":{amount},"metric":"{metric.value}","payload":{payload_json}}}'
    return hashlib.sha256(document.encode()).hexdigest()


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
