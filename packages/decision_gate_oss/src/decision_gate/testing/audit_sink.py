"""Conformance suite: every `AuditSink` receives every event, whole and in order.

Activate it with `from decision_gate.testing.audit_sink import *` next to an
`audit_sink` fixture and a `read_audit_events` fixture: a callable (sync or
async) returning the events the sink has durably recorded so far as their
wire form (`{"event": kind, **fields}` dicts, in order). Pinned down: events
read back exactly; concurrent emits all arrive, none torn; several sinks
behind decision_gate's fan-out each receive every event; a closed sink
refuses to emit rather than dropping events silently.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from decision_gate.plugins.guards import AuditFanout
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind, AuditSink
from decision_gate.testing.doubles import RecordingAuditSink

__all__ = [
    "audit_event",
    "test_a_closed_sink_refuses_events",
    "test_beside_another_sink_both_receive_every_event",
    "test_concurrent_events_all_arrive_whole",
    "test_events_read_back_exactly_and_in_order",
    "test_sink_satisfies_the_protocol",
]


def audit_event(n: int, kind: AuditEventKind = AuditEventKind.TENANT_AUTHZ) -> AuditEvent:
    return AuditEvent(
        kind,
        {
            "timestamp_ms": 1_700_000_000_000 + n,
            "request_id": f"req-{n}",
            "tenant_id": "1",
            "allowed": n % 2 == 0,
            "reason": "noop_allow",
            "roles": ["TenantAdmin", "Ünïcode ✓"],
            "nested": {"n": n, "none": None},
        },
    )


async def _read(read_audit_events: Callable[[], Any]) -> list[dict[str, Any]]:
    events = read_audit_events()
    return list(await events if inspect.isawaitable(events) else events)


async def test_sink_satisfies_the_protocol(audit_sink: AuditSink) -> None:
    assert isinstance(audit_sink, AuditSink)
    assert inspect.iscoroutinefunction(audit_sink.emit)


async def test_events_read_back_exactly_and_in_order(
    audit_sink: AuditSink, read_audit_events: Callable[[], Any]
) -> None:
    events = [audit_event(n, kind) for n, kind in enumerate(AuditEventKind)]
    for event in events:
        await audit_sink.emit(event)
    assert await _read(read_audit_events) == [e.to_json() for e in events]


async def test_concurrent_events_all_arrive_whole(
    audit_sink: AuditSink, read_audit_events: Callable[[], Any]
) -> None:
    events = [audit_event(n) for n in range(50)]
    await asyncio.gather(*(audit_sink.emit(e) for e in events))
    received = await _read(read_audit_events)
    key = lambda e: e["request_id"]  # noqa: E731
    assert sorted(received, key=key) == sorted((e.to_json() for e in events), key=key)


async def test_beside_another_sink_both_receive_every_event(
    audit_sink: AuditSink, read_audit_events: Callable[[], Any]
) -> None:
    other = RecordingAuditSink()
    fanout = AuditFanout([audit_sink, other])
    events = [audit_event(n) for n in range(5)]
    for event in events:
        await fanout.emit(event)
    assert await _read(read_audit_events) == [e.to_json() for e in events]
    assert other.events == events


async def test_a_closed_sink_refuses_events(audit_sink: AuditSink) -> None:
    await audit_sink.close()
    await audit_sink.close()
    with pytest.raises(Exception):  # noqa: B017, PT011 - any error: a dropped event is the bug
        await audit_sink.emit(audit_event(1))
