"""Conformance suite: every `EvidenceProvider`.

Activate it with `from decision_gate.testing.evidence_provider import *`
next to an `evidence_provider` fixture and an `evidence_queries` fixture: a
list of `EvidenceQuery` the provider answers (one per check at least).
Pinned down: `query` is async; `provider_id` is the id queries use and
`checks` names every check answered; every sample query gets an
`EvidenceResult` or a typed `EvidenceProviderFailure` (never another
exception, which the control plane would record as a bare failure); a check
the provider does not list is refused with `EvidenceProviderFailure`; the
same query in the same context gets the same answer; concurrent queries are
all answered.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from decision_gate.core.model import (
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    Logical,
    NamespaceId,
    TenantId,
)
from decision_gate.seams.evidence_provider import EvidenceProvider, EvidenceProviderFailure

__all__ = [
    "CONTEXT",
    "test_an_unlisted_check_is_a_provider_failure",
    "test_concurrent_queries_are_all_answered",
    "test_every_sample_query_is_answered_or_refused_typed",
    "test_provider_satisfies_the_protocol",
    "test_the_same_query_gets_the_same_answer",
    "test_the_samples_cover_every_listed_check",
]

CONTEXT = EvidenceContext(
    tenant_id=TenantId(1),
    namespace_id=NamespaceId(2),
    run_id="run-1",
    scenario_id="scenario-1",
    stage_id="stage-1",
    trigger_id="trigger-1",
    trigger_time=Logical(10),  # type: ignore[arg-type]
    correlation_id="corr-1",
)


async def _answer(provider: EvidenceProvider, query: EvidenceQuery) -> Any:
    try:
        return await provider.query(query, CONTEXT)
    except EvidenceProviderFailure as failure:
        return ("refused", str(failure))


async def test_provider_satisfies_the_protocol(evidence_provider: EvidenceProvider) -> None:
    assert isinstance(evidence_provider, EvidenceProvider)
    assert inspect.iscoroutinefunction(evidence_provider.query)
    assert isinstance(evidence_provider.provider_id, str)
    assert evidence_provider.provider_id
    assert all(isinstance(check, str) and check for check in evidence_provider.checks)


async def test_the_samples_cover_every_listed_check(
    evidence_provider: EvidenceProvider, evidence_queries: list[EvidenceQuery]
) -> None:
    assert {q.check_id for q in evidence_queries} >= set(evidence_provider.checks)
    assert {q.provider_id for q in evidence_queries} == {evidence_provider.provider_id}


async def test_every_sample_query_is_answered_or_refused_typed(
    evidence_provider: EvidenceProvider, evidence_queries: list[EvidenceQuery]
) -> None:
    for query in evidence_queries:
        answer = await _answer(evidence_provider, query)
        assert isinstance(answer, EvidenceResult | tuple), query


async def test_an_unlisted_check_is_a_provider_failure(
    evidence_provider: EvidenceProvider,
) -> None:
    query = EvidenceQuery(evidence_provider.provider_id, "no_such_check_xyz", None)
    with pytest.raises(EvidenceProviderFailure):
        await evidence_provider.query(query, CONTEXT)


async def test_the_same_query_gets_the_same_answer(
    evidence_provider: EvidenceProvider, evidence_queries: list[EvidenceQuery]
) -> None:
    for query in evidence_queries:
        assert await _answer(evidence_provider, query) == await _answer(evidence_provider, query)


async def test_concurrent_queries_are_all_answered(
    evidence_provider: EvidenceProvider, evidence_queries: list[EvidenceQuery]
) -> None:
    queries = evidence_queries * 8
    answers = await asyncio.gather(*(_answer(evidence_provider, q) for q in queries))
    assert len(answers) == len(queries)
