"""Conformance suite: every `TenantAuthorizer`, and the fail-closed rule around it.

Activate it with `from decision_gate.testing.tenant_authorizer import *`
next to a `tenant_authorizer` fixture. Pinned down: `authorize` is async and
answers every call with an `AuthorizationDecision` carrying a reason label;
the same call gets the same answer; and under decision_gate's guard an
authorizer that raises, hangs or returns garbage denies, with the denial
audited as a `tenant_authz` event (deny on error).
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from decision_gate.plugins.guards import AuditFanout, FailClosedAuthorizer
from decision_gate.seams.access import CallContext, Principal
from decision_gate.seams.tenant_authorizer import AuthorizationDecision, TenantAuthorizer
from decision_gate.testing.doubles import Fault, Faulty, RecordingAuditSink

__all__ = [
    "SAMPLE_CALLS",
    "test_authorizer_satisfies_the_protocol",
    "test_concurrent_calls_are_all_answered",
    "test_every_call_gets_a_decision_with_a_reason",
    "test_every_decision_is_audited_once_through_the_guard",
    "test_the_same_call_gets_the_same_decision",
    "test_through_the_guard_a_failing_authorizer_denies_and_is_audited",
]

SAMPLE_CALLS = [
    CallContext(Principal("local"), "scenario_start", 1, 2, "req-1", "client-1", "server-1"),
    CallContext(Principal("alice", "bearer", ("TenantAdmin",)), "schemas_register", 5, 6, "r-2"),
    CallContext(Principal("bob", "mtls", (), "prod"), "runpack_export", 9, 1),
    CallContext(Principal("carol", "bearer"), "evidence_query", None, None),
]


async def test_authorizer_satisfies_the_protocol(tenant_authorizer: TenantAuthorizer) -> None:
    assert isinstance(tenant_authorizer, TenantAuthorizer)
    assert inspect.iscoroutinefunction(tenant_authorizer.authorize)


@pytest.mark.parametrize("call", SAMPLE_CALLS, ids=lambda c: c.tool)
async def test_every_call_gets_a_decision_with_a_reason(
    tenant_authorizer: TenantAuthorizer, call: CallContext
) -> None:
    decision = await tenant_authorizer.authorize(call)
    assert isinstance(decision, AuthorizationDecision)
    assert isinstance(decision.allowed, bool)
    assert isinstance(decision.reason, str)
    assert decision.reason


async def test_the_same_call_gets_the_same_decision(tenant_authorizer: TenantAuthorizer) -> None:
    for call in SAMPLE_CALLS:
        assert await tenant_authorizer.authorize(call) == await tenant_authorizer.authorize(call)


async def test_concurrent_calls_are_all_answered(tenant_authorizer: TenantAuthorizer) -> None:
    calls = SAMPLE_CALLS * 8
    decisions = await asyncio.gather(*(tenant_authorizer.authorize(c) for c in calls))
    assert all(isinstance(d, AuthorizationDecision) for d in decisions)


async def test_every_decision_is_audited_once_through_the_guard(
    tenant_authorizer: TenantAuthorizer,
) -> None:
    sink = RecordingAuditSink()
    guard = FailClosedAuthorizer(tenant_authorizer, AuditFanout([sink]))
    decisions = [await guard.authorize(call) for call in SAMPLE_CALLS]
    audited = sink.of_kind("tenant_authz")
    assert [(e["tool"], e["allowed"], e["reason"]) for e in audited] == [
        (call.tool, d.allowed, d.reason) for call, d in zip(SAMPLE_CALLS, decisions, strict=True)
    ]


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
async def test_through_the_guard_a_failing_authorizer_denies_and_is_audited(
    tenant_authorizer: TenantAuthorizer, fault: Fault
) -> None:
    sink = RecordingAuditSink()
    broken = Faulty(tenant_authorizer, "authorize", fault)
    guard = FailClosedAuthorizer(broken, AuditFanout([sink]), timeout=0.2)
    decision = await guard.authorize(SAMPLE_CALLS[0])
    assert not decision.allowed
    [event] = sink.of_kind("tenant_authz")
    assert event["allowed"] is False
    assert event["reason"] == decision.reason
    assert "injected" not in decision.reason
