"""The audit sink seam: where audit events go (a JSONL file, stderr, a hash-chained log).

Event kinds follow the reference server (server.md §3.9): `mcp_request`,
`precheck_audit`, `registry_audit`, `tenant_authz`, `usage_audit`,
`security_audit`. Invariants:
- An event is written whole or the sink raises. A sink that raises fails the
  mutating call it was recording (`decision_gate.plugins.guards.AuditFanout`
  turns the failure into `AuditFailure`); it is never swallowed.
- Every configured sink receives every event, in emission order per sink.
- Events carry ids and labels only, never request params, bearer tokens or
  evidence values; a sink may write an event as it is.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

from decision_gate.core.jsonvalue import JsonValue

__all__ = ["AuditEvent", "AuditEventKind", "AuditSink"]


class AuditEventKind(enum.StrEnum):
    MCP_REQUEST = "mcp_request"
    PRECHECK = "precheck_audit"
    REGISTRY = "registry_audit"
    TENANT_AUTHZ = "tenant_authz"
    USAGE = "usage_audit"
    SECURITY = "security_audit"


def _freeze(fields: Mapping[str, JsonValue]) -> Mapping[str, JsonValue]:
    if "event" in fields:
        raise ValueError("audit event fields must not contain 'event'; it is the kind")
    return dict(fields)


@attrs.frozen
class AuditEvent:
    """One audit event: its kind and its JSON fields (`timestamp_ms` included)."""

    kind: AuditEventKind
    fields: Mapping[str, JsonValue] = attrs.field(converter=_freeze, factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        """The wire form: `{"event": kind, **fields}`."""
        return {"event": self.kind.value, **self.fields}

    def to_json_line(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"


@runtime_checkable
class AuditSink(Protocol):
    async def emit(self, event: AuditEvent) -> None:
        """Store `event` durably or raise."""
        ...

    async def close(self) -> None:
        """Flush and release; idempotent."""
        ...
