"""The `time` provider: comparisons against the trigger's own timestamp.

Time enters a run only through triggers, so this provider never reads a clock:
`now` returns the trigger time, `after`/`before` compare it (strictly) with a
threshold from the params. Replaying the same triggers gives the same evidence.
Messages are the reference's, since they are recorded in runs.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from decision_gate.core.comparators import parse_rfc3339_instant
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import (
    I64_MAX,
    I64_MIN,
    U64_MAX,
    EvidenceAnchor,
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    Logical,
    Timestamp,
    UnixMillis,
)
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

CHECKS: Final = ("now", "after", "before")


class TimeProvider:
    provider_id: Final = "time"

    def __init__(self, *, allow_logical: bool = True) -> None:
        self.allow_logical = allow_logical

    @property
    def checks(self) -> Collection[str]:
        return CHECKS

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        return self.answer(query, context.trigger_time)

    def answer(self, query: EvidenceQuery, now: Timestamp) -> EvidenceResult:
        """The evidence for `query` at trigger time `now` (pure; `query` is its async face)."""
        if query.check_id == "now":
            value: Any = self._now_value(now)
        elif query.check_id in ("after", "before"):
            threshold = self._threshold(query.params, now)
            value = _compare(now, threshold, query.check_id)
        else:
            raise EvidenceProviderFailure("unsupported time check")
        return EvidenceResult(
            value=JsonEvidence(value),
            evidence_anchor=_anchor(now),
            content_type="application/json",
        )

    def _now_value(self, now: Timestamp) -> int:
        if isinstance(now, Logical) and not self.allow_logical:
            raise EvidenceProviderFailure("logical timestamps are not permitted")
        return now.value

    def _threshold(self, params: Any, now: Timestamp) -> Timestamp:
        if params is None:
            raise EvidenceProviderFailure("time check requires params")
        if not isinstance(params, dict):
            raise EvidenceProviderFailure("time params must be an object")
        if "timestamp" not in params:
            raise EvidenceProviderFailure("missing timestamp param")
        raw = params["timestamp"]
        if isinstance(now, UnixMillis):
            return _unix_millis(raw)
        if not self.allow_logical:
            raise EvidenceProviderFailure("logical timestamps are not permitted")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise EvidenceProviderFailure("logical timestamp must be numeric")
        if not isinstance(raw, int) or not 0 <= raw <= U64_MAX:
            raise EvidenceProviderFailure("logical timestamp must be unsigned")
        return Logical(raw)  # type: ignore[arg-type]


def _unix_millis(raw: Any) -> UnixMillis:
    if isinstance(raw, str):
        instant = parse_rfc3339_instant(raw)
        if instant is None:
            raise EvidenceProviderFailure("invalid rfc3339 timestamp")
        seconds, nanos = instant
        total = seconds * 1_000_000_000 + nanos
        millis = abs(total) // 1_000_000 * (1 if total >= 0 else -1)  # Rust truncates toward zero
        if not I64_MIN <= millis <= I64_MAX:
            raise EvidenceProviderFailure("timestamp exceeds i64 range")
        return UnixMillis(millis)  # type: ignore[arg-type]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise EvidenceProviderFailure("timestamp must be number or string")
    if isinstance(raw, float):
        raise EvidenceProviderFailure("invalid numeric timestamp")
    if raw > I64_MAX:
        raise EvidenceProviderFailure("timestamp exceeds i64 range")
    if raw < I64_MIN:
        raise EvidenceProviderFailure("invalid numeric timestamp")
    return UnixMillis(raw)  # type: ignore[arg-type]


def _compare(now: Timestamp, threshold: Timestamp, check_id: str) -> bool:
    if type(now) is not type(threshold):
        return False
    return now.value > threshold.value if check_id == "after" else now.value < threshold.value


def _anchor(now: Timestamp) -> EvidenceAnchor:
    kind = "trigger_time_unix_millis" if isinstance(now, UnixMillis) else "trigger_time_logical"
    return EvidenceAnchor(anchor_type=kind, anchor_value=str(now.value))
