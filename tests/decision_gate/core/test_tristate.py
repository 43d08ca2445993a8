"""Tri-state connectives and the RequireGroup counting rule.

Spec §2.2 and §2.4; vectors R1, R2, R5 and R6.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decision_gate.core.tristate import (
    GateOutcome,
    LogicMode,
    TriState,
    bochvar_and,
    bochvar_or,
    kleene_and,
    kleene_or,
    require_group,
    tri_not,
)

T, F, U = TriState.TRUE, TriState.FALSE, TriState.UNKNOWN
tristates = st.sampled_from(list(TriState))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(T, T, T), (T, F, F), (T, U, U), (F, U, F), (U, U, U)],
)
def test_r1_kleene_and_table(a: TriState, b: TriState, expected: TriState) -> None:
    assert kleene_and(a, b) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [(T, U, T), (F, U, U), (F, F, F)])
def test_r1_kleene_or_table(a: TriState, b: TriState, expected: TriState) -> None:
    assert kleene_or(a, b) is expected


def test_r1_negation_of_unknown_is_unknown() -> None:
    assert tri_not(U) is U


@pytest.mark.parametrize(("a", "expected"), [(T, F), (F, T)])
def test_negation_swaps_true_and_false(a: TriState, expected: TriState) -> None:
    assert tri_not(a) is expected


@pytest.mark.parametrize(
    ("connective", "a", "b", "expected"),
    [(bochvar_and, F, U, U), (bochvar_or, T, U, U), (bochvar_and, T, T, T), (bochvar_or, F, F, F)],
)
def test_r2_bochvar_unknown_is_infectious(
    connective: Callable[[TriState, TriState], TriState],
    a: TriState,
    b: TriState,
    expected: TriState,
) -> None:
    assert connective(a, b) is expected


@pytest.mark.parametrize(
    ("satisfied", "unknown", "total"), [(0, 0, 0), (0, 0, 5), (0, 5, 5), (5, 0, 5), (2, 3, 5)]
)
def test_r5_group_with_min_zero_is_always_true(satisfied: int, unknown: int, total: int) -> None:
    assert require_group(0, satisfied, unknown) is T


def test_r6_group_of_255_with_all_satisfied_is_true() -> None:
    assert require_group(255, 255, 0) is T


def test_r6_group_of_255_one_short_with_one_unknown_is_unknown() -> None:
    assert require_group(255, 254, 1) is U


def test_wire_names_are_capitalised() -> None:
    assert [state.value for state in TriState] == ["True", "False", "Unknown"]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(T, GateOutcome.TRUE), (F, GateOutcome.FALSE), (U, GateOutcome.UNKNOWN)],
)
def test_gate_outcome_is_the_lowercase_spelling(status: TriState, outcome: GateOutcome) -> None:
    assert GateOutcome.of(status) is outcome
    assert outcome.value == status.value.lower()


def test_logic_modes_are_kleene_and_bochvar() -> None:
    assert {mode.name for mode in LogicMode} == {"KLEENE", "BOCHVAR"}


# ---------------------------------------------------------------------------
# Laws, checked against a definition independent of the implementation:
# a strong-Kleene connective is True/False exactly when every way of resolving
# the Unknowns agrees ("supervaluation"), Unknown otherwise.
# ---------------------------------------------------------------------------


def _completions(state: TriState) -> list[bool]:
    return [True, False] if state is U else [state is T]


def _supervaluate(results: set[bool]) -> TriState:
    if results == {True}:
        return T
    if results == {False}:
        return F
    return U


@given(tristates, tristates)
def test_kleene_and_is_supervaluation_of_boolean_and(a: TriState, b: TriState) -> None:
    results = {x and y for x in _completions(a) for y in _completions(b)}
    assert kleene_and(a, b) is _supervaluate(results)


@given(tristates, tristates)
def test_kleene_or_is_supervaluation_of_boolean_or(a: TriState, b: TriState) -> None:
    results = {x or y for x in _completions(a) for y in _completions(b)}
    assert kleene_or(a, b) is _supervaluate(results)


@given(tristates, tristates)
def test_kleene_connectives_commute(a: TriState, b: TriState) -> None:
    assert kleene_and(a, b) is kleene_and(b, a)
    assert kleene_or(a, b) is kleene_or(b, a)


@given(tristates, tristates, tristates)
def test_kleene_connectives_associate(a: TriState, b: TriState, c: TriState) -> None:
    assert kleene_and(kleene_and(a, b), c) is kleene_and(a, kleene_and(b, c))
    assert kleene_or(kleene_or(a, b), c) is kleene_or(a, kleene_or(b, c))


@given(tristates, tristates)
def test_de_morgan(a: TriState, b: TriState) -> None:
    assert tri_not(kleene_and(a, b)) is kleene_or(tri_not(a), tri_not(b))
    assert tri_not(kleene_or(a, b)) is kleene_and(tri_not(a), tri_not(b))


@given(tristates)
def test_double_negation(a: TriState) -> None:
    assert tri_not(tri_not(a)) is a


@given(tristates, tristates)
def test_absorption(a: TriState, b: TriState) -> None:
    assert kleene_and(a, kleene_or(a, b)) is a
    assert kleene_or(a, kleene_and(a, b)) is a


@given(tristates)
def test_identities_and_annihilators(a: TriState) -> None:
    assert kleene_and(a, T) is a
    assert kleene_or(a, F) is a
    assert kleene_and(a, F) is F
    assert kleene_or(a, T) is T


@given(tristates, tristates)
def test_bochvar_agrees_with_kleene_without_unknowns_and_is_unknown_otherwise(
    a: TriState, b: TriState
) -> None:
    if U in (a, b):
        assert bochvar_and(a, b) is U
        assert bochvar_or(a, b) is U
    else:
        assert bochvar_and(a, b) is kleene_and(a, b)
        assert bochvar_or(a, b) is kleene_or(a, b)


# ---------------------------------------------------------------------------
# RequireGroup
# ---------------------------------------------------------------------------


def _group_by_supervaluation(minimum: int, members: tuple[TriState, ...]) -> TriState:
    results = {
        sum(choice) >= minimum
        for choice in itertools.product(*(_completions(member) for member in members))
    }
    return _supervaluate(results)


@pytest.mark.parametrize("size", range(5))
def test_group_agrees_with_brute_force_over_every_assignment(size: int) -> None:
    for members in itertools.product(list(TriState), repeat=size):
        for minimum in range(size + 2):
            satisfied = members.count(T)
            unknown = members.count(U)
            assert require_group(minimum, satisfied, unknown) is _group_by_supervaluation(
                minimum, members
            ), (minimum, members)


@given(st.integers(0, 255), st.integers(0, 255))
def test_group_with_min_zero_is_true(satisfied: int, unknown: int) -> None:
    assert require_group(0, satisfied, unknown) is T


@given(st.data())
def test_group_with_min_above_member_count_is_false(data: st.DataObject) -> None:
    total = data.draw(st.integers(0, 254))
    satisfied = data.draw(st.integers(0, total))
    unknown = data.draw(st.integers(0, total - satisfied))
    minimum = data.draw(st.integers(total + 1, 255))
    assert require_group(minimum, satisfied, unknown) is F


_RANK = {F: 0, U: 1, T: 2}


@given(st.integers(1, 255), st.integers(0, 254), st.integers(0, 255))
def test_group_is_monotone_in_satisfied_count(minimum: int, satisfied: int, unknown: int) -> None:
    fewer = require_group(minimum, satisfied, unknown)
    more = require_group(minimum, satisfied + 1, unknown)
    assert _RANK[more] >= _RANK[fewer]
