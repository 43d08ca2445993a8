"""Built-in audit sinks (JSON lines to a file or stderr)."""

from decision_gate.audit.jsonl import JsonlAuditSink

__all__ = ["JsonlAuditSink"]
