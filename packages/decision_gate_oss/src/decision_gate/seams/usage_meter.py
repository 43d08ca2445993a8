"""The usage meter seam: quota checks before a call, usage records after it.

server.md §2.1 steps 5, 7 and 9, §3.8. Invariants:
- `check` happens before execution and fails closed: through
  `decision_gate.plugins.guards.FailClosedMeter` an exception, a timeout or a
  result that is not a `UsageDecision` denies, and every check is audited as a
  `usage_audit` event.
- `record` happens only after the call succeeded, once per metric checked. It
  is idempotent by `idempotency_key`: recording the same key twice counts the
  units once (a retried call must not be billed twice).
- Units are non-negative integers; `storage_bytes` counts the compact JSON
  bytes of a registered schema.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

import attrs

from decision_gate.seams.access import CallContext

__all__ = ["UsageDecision", "UsageMeter", "UsageMetric", "UsageRequest"]


class UsageMetric(enum.StrEnum):
    TOOL_CALLS = "tool_calls"
    RUNS_STARTED = "runs_started"
    EVIDENCE_QUERIES = "evidence_queries"
    RUNPACK_EXPORTS = "runpack_exports"
    SCHEMAS_WRITTEN = "schemas_written"
    REGISTRY_ENTRIES = "registry_entries"
    STORAGE_BYTES = "storage_bytes"


def _non_negative(_instance: object, _attribute: object, units: int) -> None:
    if units < 0:
        raise ValueError("usage units must not be negative")


@attrs.frozen
class UsageRequest:
    """`units` of `metric` for one call."""

    call: CallContext
    metric: UsageMetric
    units: int = attrs.field(default=1, validator=_non_negative)


@attrs.frozen
class UsageDecision:
    allowed: bool
    reason: str


@runtime_checkable
class UsageMeter(Protocol):
    async def check(self, request: UsageRequest) -> UsageDecision:
        """May the call consume `request.units`? Raising denies."""
        ...

    async def record(self, request: UsageRequest, idempotency_key: str) -> None:
        """Count `request.units` once per `idempotency_key`; a repeat is a no-op."""
        ...
