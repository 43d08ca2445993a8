"""Prometheus metrics of one server (`GET /metrics`): bounded labels, a registry of its own.

Every label value is taken from a closed set known before the first request:
the JSON-RPC method, the 18 tool names of the contract (plus `unknown` when a
request names no tool), the wire error kinds of server.md §1.5 (plus `ok`),
the transports `http`, `sse`, `stdio` and `mcp` (standard MCP, over `/mcp` or
newline-delimited stdio). Anything outside its set is counted as `other`, so
no client - however hostile its tool names - can create a series, and the
number of series a scrape returns is bounded by the product of these sets.
No label is ever an id (run, tenant, principal, correlation id) or a secret:
those are unbounded and are the audit log's business, not the scraper's.

Each server owns one `ServerMetrics` with its own `CollectorRegistry`, never
the process-global one, so two servers in one process never share a count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from decision_gate.server.catalogue import TOOL_NAMES
from decision_gate.server.errors import RpcError

OTHER: Final = "other"
NO_TOOL: Final = "unknown"
OK: Final = "ok"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

TRANSPORTS: Final = frozenset({"http", "sse", "stdio", "mcp"})
CONTRACT_TOOLS: Final = frozenset(TOOL_NAMES)
TOOLS: Final = CONTRACT_TOOLS | {NO_TOOL}
OUTCOMES: Final = frozenset(
    {
        OK,
        "invalid_request",
        "method_not_found",
        "invalid_params",
        "unauthenticated",
        "unauthorized",
        "not_found",
        "conflict",
        "evidence",
        "control_plane",
        "runpack",
        "internal",
        "serialization",
        "request_too_large",
        "rate_limited",
        "inflight_limit",
        "invalid_correlation_id",
        "unknown",
    }
)
# The audit event's method labels (rpc.py) and the JSON-RPC method each stands for.
METHODS: Final = {
    "ToolsList": "tools/list",
    "ToolsCall": "tools/call",
    "ResourcesList": "resources/list",
    "ResourcesRead": "resources/read",
    "Invalid": "invalid",
    "Other": OTHER,
}
# A refusal is an error sent with a refusing HTTP status: the same kinds sent
# with 200 (a tool's response cap, a provider's own rate limit) are answers.
REFUSALS: Final = {
    ("unauthenticated", 401): "unauthenticated",
    ("unauthorized", 403): "unauthorized",
    ("rate_limited", 429): "rate_limit",
    ("inflight_limit", 503): "inflight",
    ("request_too_large", 413): "size",
    ("invalid_correlation_id", 400): "correlation_id",
}
REASONS: Final = frozenset(REFUSALS.values())
LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def bounded(value: str | None, allowed: frozenset[str]) -> str:
    """`value` if it is in `allowed`, else `other`: the only way a label is chosen."""
    return value if value is not None and value in allowed else OTHER


def tool_label(tool: str | None) -> str:
    """`unknown` only when no tool was named: a client naming "unknown" gets `other`."""
    return NO_TOOL if tool is None else bounded(tool, CONTRACT_TOOLS)


class ServerMetrics:
    """The counters, histogram and gauge of one server, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "decision_gate_requests",
            "JSON-RPC requests answered, by method, tool, outcome (ok or error kind), transport.",
            ("method", "tool", "outcome", "transport"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "decision_gate_request_duration_seconds",
            "Time from a request reaching the service to its audited answer.",
            ("method", "tool", "transport"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._inflight = Gauge(
            "decision_gate_requests_inflight",
            "Requests being handled right now, by transport.",
            ("transport",),
            registry=self.registry,
        )
        self._rejected = Counter(
            "decision_gate_requests_rejected",
            "Requests refused by the server's guards (auth, limits, size, correlation id).",
            ("reason", "transport"),
            registry=self.registry,
        )
        for transport in sorted(TRANSPORTS):
            self._inflight.labels(transport)
            for reason in sorted(REASONS):
                self._rejected.labels(reason, transport)

    @contextlib.contextmanager
    def in_flight(self, transport: str) -> Iterator[None]:
        gauge = self._inflight.labels(bounded(transport, TRANSPORTS))
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def answered(
        self, method: str, tool: str | None, transport: str, error: RpcError | None
    ) -> None:
        """Count one answered request (and, if it was a refusal, its reason)."""
        transport_value = bounded(transport, TRANSPORTS)
        outcome = OK if error is None else bounded(error.kind, OUTCOMES)
        self._requests.labels(
            METHODS.get(method, OTHER), tool_label(tool), outcome, transport_value
        ).inc()
        if error is not None:
            reason = REFUSALS.get((error.kind, error.http_status))
            if reason is not None:
                self._rejected.labels(reason, transport_value).inc()

    def handled(self, method: str, tool: str | None, transport: str, seconds: float) -> None:
        """Record how long the service took to answer one request."""
        self._latency.labels(
            METHODS.get(method, OTHER), tool_label(tool), bounded(transport, TRANSPORTS)
        ).observe(seconds)

    def refused_unread(self, reason: str, transport: str) -> None:
        """A refusal before the body was read (an oversized body): no method, no audit event."""
        self._rejected.labels(bounded(reason, REASONS), bounded(transport, TRANSPORTS)).inc()

    def render(self) -> bytes:
        """The Prometheus text format of everything this server counted."""
        return generate_latest(self.registry)
