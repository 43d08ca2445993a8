"""Telemetry: a bounded metric catalogue on Prometheus, and correlation ids.

Owns the RED metrics (requests, errors, duration) every operation reports and
the correlation id that ties one request's logs and audit records together.
Invariant: no metric label can take a value outside a list fixed at
construction, so an id, an IP or a user name can never become a series.
"""

from platform_core.telemetry.correlation import (
    CORRELATION_HEADER,
    CorrelationIdLogFilter,
    InvalidCorrelationId,
    correlation_id_from_header,
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    validate_correlation_id,
)
from platform_core.telemetry.metrics import OTHER, BoundedLabel, MetricSpec, RedMetrics

__all__ = [
    "CORRELATION_HEADER",
    "OTHER",
    "BoundedLabel",
    "CorrelationIdLogFilter",
    "InvalidCorrelationId",
    "MetricSpec",
    "RedMetrics",
    "correlation_id_from_header",
    "correlation_scope",
    "current_correlation_id",
    "new_correlation_id",
    "validate_correlation_id",
]
