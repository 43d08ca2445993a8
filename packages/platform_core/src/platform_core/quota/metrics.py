"""The canonical usage counters every service meters and every quota names.

The values are the wire and storage labels; renaming one orphans its ledger rows.
"""

from __future__ import annotations

from enum import StrEnum

from platform_core.errors import InvalidInput

__all__ = ["UsageMetric", "parse_metric"]


class UsageMetric(StrEnum):
    TOOL_CALLS = "tool_calls"
    RUNS_STARTED = "runs_started"
    EVIDENCE_QUERIES = "evidence_queries"
    RUNPACK_EXPORTS = "runpack_exports"
    SCHEMAS_WRITTEN = "schemas_written"
    REGISTRY_ENTRIES = "registry_entries"
    STORAGE_BYTES = "storage_bytes"


def parse_metric(value: object) -> UsageMetric:
    """The metric named by `value`; `InvalidInput` for anything not in the catalogue."""
    if isinstance(value, UsageMetric):
        return value
    if isinstance(value, str):
        try:
            return UsageMetric(value)
        except ValueError:
            pass
    known = ", ".join(metric.value for metric in UsageMetric)
    raise InvalidInput(f"unknown usage metric {value!r}; expected one of {known}")
