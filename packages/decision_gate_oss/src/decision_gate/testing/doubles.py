"""Small real implementations the suites use around the seam under test.

`RecordingAuditSink` keeps events in memory (to see what the guards audit);
`Faulty` wraps any seam object and makes one method raise, hang or return
garbage, to check that the fail-closed guards deny whatever the plugin does.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from decision_gate.seams.audit_sink import AuditEvent

__all__ = ["Fault", "Faulty", "RecordingAuditSink"]


class RecordingAuditSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.closed = False

    async def emit(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def close(self) -> None:
        self.closed = True

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.events if e.kind.value == kind]


class Fault(enum.Enum):
    RAISES = "raises"
    HANGS = "hangs"
    RETURNS_GARBAGE = "returns_garbage"


class Faulty:
    """`inner` with `method` broken by `fault` (the call still reaches `inner`
    first, so a stateful implementation sees it)."""

    def __init__(self, inner: object, method: str, fault: Fault) -> None:
        self._inner = inner
        self._method = method
        self._fault = fault

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        async def broken(*args: Any, **kwargs: Any) -> Any:
            await attribute(*args, **kwargs)
            if self._fault is Fault.RAISES:
                raise RuntimeError("injected failure")
            if self._fault is Fault.HANGS:
                await asyncio.Event().wait()
            return "not a decision"

        return broken
