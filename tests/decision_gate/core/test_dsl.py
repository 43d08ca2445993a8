"""The requirement DSL (spec §2.7; vectors R12-R15)."""

from __future__ import annotations

import pytest

from decision_gate.core.dsl import (
    MAX_INPUT_BYTES,
    DslError,
    DslErrorKind,
    parse_requirement,
)
from decision_gate.core.errors import InvalidInput
from decision_gate.core.requirement import And, Condition, Not, Or, RequireGroup

SYMBOLS = {"is_alive": "1", "has_ap": "2", "stunned": "3", "in_range": "4"}
C1, C2, C3, C4 = (Condition(i) for i in "1234")


def parse_error(text: str) -> DslError:
    with pytest.raises(DslError) as raised:
        parse_requirement(text, SYMBOLS)
    return raised.value


def test_r12_function_forms() -> None:
    tree = parse_requirement("all(is_alive, any(has_ap, not stunned))", SYMBOLS)
    assert tree == And((C1, Or((C2, Not(C3)))))


def test_r13_and_binds_tighter_than_or() -> None:
    tree = parse_requirement("is_alive && has_ap || not stunned", SYMBOLS)
    assert tree == Or((And((C1, C2)), Not(C3)))


def test_r14_at_least_builds_a_group() -> None:
    tree = parse_requirement("at_least(2, is_alive, has_ap, in_range)", SYMBOLS)
    assert tree == RequireGroup(2, (C1, C2, C4))


def test_r15_unresolved_identifier_is_an_unknown_condition() -> None:
    error = parse_error("unknown_pred")
    assert (error.reason, error.position) == (DslErrorKind.UNKNOWN_CONDITION, 0)
    assert str(error) == "unknown condition `unknown_pred` at 0"


def test_r15_call_with_arguments_to_an_unknown_name_is_an_unknown_function() -> None:
    assert parse_error("foo(is_alive)").reason is DslErrorKind.UNKNOWN_FUNCTION


def test_r15_tokens_after_a_complete_expression_are_trailing_input() -> None:
    error = parse_error("is_alive extra")
    assert (error.reason, error.position) == (DslErrorKind.TRAILING_INPUT, 9)


def test_r15_unsatisfiable_group_fails_validation() -> None:
    error = parse_error("at_least(2, is_alive)")
    assert error.reason is DslErrorKind.VALIDATION
    assert "invalid group requirement" in str(error)


def test_r15_blank_input_is_empty() -> None:
    assert parse_error("   ").reason is DslErrorKind.EMPTY_INPUT


def test_r15_forty_nested_calls_are_too_deep() -> None:
    error = parse_error("not(" * 40 + "is_alive" + ")" * 40)
    assert error.reason is DslErrorKind.NESTING_TOO_DEEP
    assert error.position == 32 * len("not(") + len("not")


def test_r15_input_over_one_mebibyte_is_too_large() -> None:
    error = parse_error("a" * (MAX_INPUT_BYTES + 1))
    assert error.reason is DslErrorKind.INPUT_TOO_LARGE


def test_size_limit_counts_utf8_bytes() -> None:
    error = parse_error("é" * (MAX_INPUT_BYTES // 2 + 1))
    assert error.reason is DslErrorKind.INPUT_TOO_LARGE


def test_thirty_two_nested_parentheses_are_allowed() -> None:
    assert parse_requirement("(" * 32 + "is_alive" + ")" * 32, SYMBOLS) == C1


def test_dsl_errors_are_invalid_input() -> None:
    assert isinstance(parse_error("&"), InvalidInput)


def test_symbolic_and_word_operators_are_the_same() -> None:
    words = parse_requirement("not is_alive and has_ap or stunned", SYMBOLS)
    symbols = parse_requirement("!is_alive && has_ap || stunned", SYMBOLS)
    assert words == symbols == Or((And((Not(C1), C2)), C3))


def test_chains_of_the_same_operator_become_one_n_ary_node() -> None:
    tree = parse_requirement("is_alive && has_ap && stunned", SYMBOLS)
    assert tree == And((C1, C2, C3))


def test_parentheses_override_precedence() -> None:
    tree = parse_requirement("is_alive && (has_ap || stunned)", SYMBOLS)
    assert tree == And((C1, Or((C2, C3))))


def test_require_group_is_an_alias_and_the_comma_after_the_count_is_optional() -> None:
    assert parse_requirement("require_group(1 is_alive)", SYMBOLS) == RequireGroup(1, (C1,))


def test_zero_argument_call_is_a_condition() -> None:
    assert parse_requirement("is_alive()", SYMBOLS) == C1


def test_empty_all_and_any_are_allowed() -> None:
    assert parse_requirement("all() || any()", SYMBOLS) == Or((And(()), Or(())))


def test_resolver_may_be_a_function() -> None:
    tree = parse_requirement("x && y", lambda name: f"cond-{name}")
    assert tree == And((Condition("cond-x"), Condition("cond-y")))


@pytest.mark.parametrize("text", ["and(is_alive)", "or(is_alive)", "not(is_alive, has_ap)"])
def test_keywords_cannot_be_called_as_functions(text: str) -> None:
    assert parse_error(text).reason is DslErrorKind.UNEXPECTED_TOKEN


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("is_alive & has_ap", 9),
        ("is_alive | has_ap", 9),
        ("is_alive + 1", 9),
        ("é", 0),
        ("all(is_alive,)", 13),
        ("at_least(is_alive)", 9),
        ("5", 0),
        ("(is_alive", 9),
        ("at_least(2)", 9),
    ],
)
def test_malformed_expressions_are_unexpected_tokens(text: str, position: int) -> None:
    error = parse_error(text)
    assert (error.reason, error.position) == (DslErrorKind.UNEXPECTED_TOKEN, position)


@pytest.mark.parametrize("count", ["256", "99999999999999999999999"])
def test_group_count_above_a_byte_is_an_invalid_number(count: str) -> None:
    assert parse_error(f"at_least({count}, is_alive)").reason is DslErrorKind.INVALID_NUMBER


def test_group_count_with_leading_zeros_is_its_value() -> None:
    assert parse_requirement("at_least(001, is_alive)", SYMBOLS) == RequireGroup(1, (C1,))


def test_group_with_min_zero_and_members_fails_validation() -> None:
    assert parse_error("at_least(0, is_alive)").reason is DslErrorKind.VALIDATION


def test_long_chain_of_negations_fails_validation_without_recursing() -> None:
    error = parse_error("!" * 100_000 + "is_alive")
    assert error.reason is DslErrorKind.VALIDATION
    assert "too deep" in str(error)


def test_thirty_two_negations_are_within_the_depth_limit() -> None:
    tree = parse_requirement("!" * 32 + "is_alive", SYMBOLS)
    for _ in range(32):
        assert isinstance(tree, Not)
        tree = tree.child
    assert tree == C1


def test_long_unknown_names_are_shortened_in_messages() -> None:
    error = parse_error("x" * 5_000)
    assert len(str(error)) < 120
