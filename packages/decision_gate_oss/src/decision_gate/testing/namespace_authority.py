"""Conformance suite: every `NamespaceAuthority`, and the fail-closed rule around it.

Activate it with `from decision_gate.testing.namespace_authority import *`
next to a `namespace_authority` fixture. Pinned down: `check` is async and
answers with a `NamespaceDecision`; `security_context` is a non-empty label
(runpack manifests record it); the same question gets the same answer; under
decision_gate's guard an authority that raises, hangs or returns garbage is
`UNAVAILABLE`, never an allow.
"""

from __future__ import annotations

import inspect

import pytest

from decision_gate.plugins.guards import FailClosedNamespaceAuthority
from decision_gate.seams.namespace_authority import NamespaceAuthority, NamespaceDecision
from decision_gate.testing.doubles import Fault, Faulty

__all__ = [
    "SAMPLE_NAMESPACES",
    "test_authority_satisfies_the_protocol",
    "test_every_question_gets_a_decision",
    "test_the_same_question_gets_the_same_answer",
    "test_through_the_guard_a_failing_authority_is_unavailable",
]

SAMPLE_NAMESPACES = [(1, 2), (1, 3), (5, 2), (9, 1_000_000)]


async def test_authority_satisfies_the_protocol(namespace_authority: NamespaceAuthority) -> None:
    assert isinstance(namespace_authority, NamespaceAuthority)
    assert inspect.iscoroutinefunction(namespace_authority.check)
    assert isinstance(namespace_authority.security_context, str)
    assert namespace_authority.security_context


async def test_every_question_gets_a_decision(namespace_authority: NamespaceAuthority) -> None:
    for tenant_id, namespace_id in SAMPLE_NAMESPACES:
        decision = await namespace_authority.check(tenant_id, namespace_id, correlation_id="c-1")
        assert isinstance(decision, NamespaceDecision)


async def test_the_same_question_gets_the_same_answer(
    namespace_authority: NamespaceAuthority,
) -> None:
    for tenant_id, namespace_id in SAMPLE_NAMESPACES:
        first = await namespace_authority.check(tenant_id, namespace_id)
        assert await namespace_authority.check(tenant_id, namespace_id) is first


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
async def test_through_the_guard_a_failing_authority_is_unavailable(
    namespace_authority: NamespaceAuthority, fault: Fault
) -> None:
    broken = Faulty(namespace_authority, "check", fault)
    guard = FailClosedNamespaceAuthority(broken, timeout=0.2)
    assert await guard.check(1, 2) is NamespaceDecision.UNAVAILABLE
