"""Requirement trees: wire form, structure, validation and tri-state evaluation.

Spec §2.1-§2.6; vectors R3, R4 and R7-R11, R16.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.requirement import (
    MAX_EVAL_DEPTH,
    MAX_PARSE_DEPTH,
    And,
    Condition,
    Not,
    Or,
    RequireGroup,
    Requirement,
    compile_requirement,
    condition_ids,
    evaluate_requirement,
    requirement_depth,
    requirement_from_json,
    requirement_to_json,
    validate_requirement,
)
from decision_gate.core.tristate import (
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


def c(condition_id: str) -> Condition:
    return Condition(condition_id)


def statuses(**by_id: TriState) -> Callable[[str], TriState]:
    """Leaf status lookup; like the engine, a condition with no record is Unknown."""
    return lambda condition_id: by_id.get(condition_id, U)


def nest_not(leaf: Requirement, count: int) -> Requirement:
    node = leaf
    for _ in range(count):
        node = Not(node)
    return node


# --- Evaluation vectors ---------------------------------------------------------------


def test_r3_and_with_an_unknown_leaf_is_unknown_and_traces_both_leaves() -> None:
    status, trace = evaluate_requirement(And((c("a"), c("b"))), statuses(a=T, b=U))
    assert status is U
    assert trace == [("a", T), ("b", U)]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ((T, T, F), T),
        ((T, U, U), U),
        ((T, F, F), F),
        ((U, U, U), U),
        ((F, F, F), F),
        ((T, T, U), T),
    ],
)
def test_r4_require_two_of_three(members: tuple[TriState, ...], expected: TriState) -> None:
    ids = ("m0", "m1", "m2")
    tree = RequireGroup(2, tuple(c(i) for i in ids))
    status, _ = evaluate_requirement(tree, statuses(**dict(zip(ids, members, strict=True))))
    assert status is expected


def test_r7_thirty_three_nested_nots_evaluate_unknown() -> None:
    status, trace = evaluate_requirement(nest_not(c("a"), 33), statuses(a=T))
    assert status is U
    assert trace == []


def test_thirty_two_nested_nots_still_evaluate() -> None:
    status, trace = evaluate_requirement(nest_not(c("a"), 32), statuses(a=T))
    assert status is T
    assert trace == [("a", T)]


def test_too_deep_subtree_keeps_the_trace_read_before_it() -> None:
    tree = And((c("a"), nest_not(c("b"), 33), c("c")))
    status, trace = evaluate_requirement(tree, statuses(a=F, b=T, c=T))
    assert status is U
    assert trace == [("a", F)]


def test_r8_empty_and_is_true() -> None:
    assert evaluate_requirement(requirement_from_json({"And": []}), statuses()) == (T, [])


def test_r8_empty_or_is_false() -> None:
    assert evaluate_requirement(requirement_from_json({"Or": []}), statuses()) == (F, [])


@pytest.mark.parametrize(("minimum", "expected"), [(0, T), (1, F)])
def test_empty_group_is_true_only_with_min_zero(minimum: int, expected: TriState) -> None:
    assert evaluate_requirement(RequireGroup(minimum, ()), statuses()) == (expected, [])


def test_every_leaf_is_evaluated_even_when_the_result_is_already_decided() -> None:
    tree = And((c("a"), c("b"), Or((c("c"), c("d")))))
    status, trace = evaluate_requirement(tree, statuses(a=F, b=T, c=T, d=F))
    assert status is F
    assert [condition_id for condition_id, _ in trace] == ["a", "b", "c", "d"]


def test_repeated_conditions_appear_in_the_trace_each_time() -> None:
    tree = Or((c("a"), Not(c("a"))))
    _, trace = evaluate_requirement(tree, statuses(a=T))
    assert trace == [("a", T), ("a", T)]


def test_bochvar_mode_makes_unknown_infectious() -> None:
    tree = And((c("a"), c("b")))
    lookup = statuses(a=F, b=U)
    assert evaluate_requirement(tree, lookup, LogicMode.KLEENE)[0] is F
    assert evaluate_requirement(tree, lookup, LogicMode.BOCHVAR)[0] is U


def test_group_counts_the_same_in_both_modes() -> None:
    tree = RequireGroup(1, (c("a"), c("b")))
    lookup = statuses(a=T, b=U)
    assert evaluate_requirement(tree, lookup, LogicMode.BOCHVAR)[0] is T


def test_compiled_requirement_evaluates_like_evaluate_requirement() -> None:
    tree = Or((And((c("a"), Not(c("b")))), RequireGroup(1, (c("c"),))))
    compiled = compile_requirement(tree)
    for lookup in (statuses(a=T, b=F), statuses(c=T), statuses(a=F, c=F)):
        assert compiled(lookup) == evaluate_requirement(tree, lookup)


def test_equal_trees_built_separately_evaluate_alike_through_many_evaluations() -> None:
    # More distinct trees than the compiled-tree memo holds, each checked.
    for index in range(1500):
        tree = RequireGroup(2, (c(f"x{index}"), c("y"), c("z")))
        status, trace = evaluate_requirement(tree, statuses(y=T, z=T))
        assert status is T
        assert trace == [(f"x{index}", U), ("y", T), ("z", T)]


def test_a_very_deep_tree_built_in_code_evaluates_unknown_without_recursing() -> None:
    status, trace = evaluate_requirement(nest_not(c("a"), 20_000), statuses(a=T))
    assert (status, trace) == (U, [])


# --- Wire form ------------------------------------------------------------------------


EXAMPLE_JSON: JsonValue = {
    "And": [
        {"Condition": "env_is_prod"},
        {"Not": {"Condition": "blocklist_hit"}},
        {
            "RequireGroup": {
                "min": 2,
                "reqs": [{"Condition": "a"}, {"Condition": "b"}, {"Condition": "c"}],
            }
        },
    ]
}
EXAMPLE = And(
    (
        c("env_is_prod"),
        Not(c("blocklist_hit")),
        RequireGroup(2, (c("a"), c("b"), c("c"))),
    )
)


def test_parses_the_spec_example() -> None:
    assert requirement_from_json(EXAMPLE_JSON) == EXAMPLE


def test_serializes_the_spec_example() -> None:
    assert requirement_to_json(EXAMPLE) == EXAMPLE_JSON


def test_unknown_keys_inside_a_group_are_ignored_like_the_reference() -> None:
    parsed = requirement_from_json({"RequireGroup": {"min": 1, "reqs": [], "note": "x"}})
    assert parsed == RequireGroup(1, ())


def test_condition_ids_are_opaque_strings() -> None:
    assert requirement_from_json({"Condition": ""}) == Condition("")


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        ("And", "$", "must be an object"),
        ({}, "$", "exactly one key"),
        ({"And": [], "Or": []}, "$", "exactly one key"),
        ({"and": []}, "$", "unknown requirement kind 'and'"),
        ({"And": {"Condition": "a"}}, "$.And", "array of requirements"),
        ({"Or": "a"}, "$.Or", "array of requirements"),
        ({"Condition": 7}, "$.Condition", "condition id string"),
        ({"Not": []}, "$.Not", "must be an object"),
        ({"And": [{"Condition": "a"}, {"Not": {"Xor": []}}]}, "$.And[1].Not", "unknown"),
        ({"Or": [{"And": [None]}]}, "$.Or[0].And[0]", "must be an object"),
        ({"RequireGroup": [1, []]}, "$.RequireGroup", "takes an object"),
        ({"RequireGroup": {"reqs": []}}, "$.RequireGroup", "missing field 'min'"),
        ({"RequireGroup": {"min": 1}}, "$.RequireGroup", "missing field 'reqs'"),
        ({"RequireGroup": {"min": 256, "reqs": []}}, "$.RequireGroup.min", "0 to 255"),
        ({"RequireGroup": {"min": -1, "reqs": []}}, "$.RequireGroup.min", "0 to 255"),
        ({"RequireGroup": {"min": 1.0, "reqs": []}}, "$.RequireGroup.min", "integer"),
        ({"RequireGroup": {"min": True, "reqs": []}}, "$.RequireGroup.min", "integer"),
        ({"RequireGroup": {"min": 1, "reqs": {}}}, "$.RequireGroup.reqs", "array"),
        (
            {"RequireGroup": {"min": 1, "reqs": [{"Condition": "a"}, 3]}},
            "$.RequireGroup.reqs[1]",
            "must be an object",
        ),
    ],
)
def test_malformed_requirement_is_rejected_at_the_first_bad_node(
    document: JsonValue, path: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        requirement_from_json(document)
    assert raised.value.path == path
    assert fragment in raised.value.detail


def test_error_path_is_relative_to_the_given_root() -> None:
    with pytest.raises(InvalidInput) as raised:
        requirement_from_json({"Not": 1}, path="$.gates[0].requirement")
    assert raised.value.path == "$.gates[0].requirement.Not"


def test_a_long_unknown_kind_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        requirement_from_json({"K" * 10_000: []})
    assert len(str(raised.value)) < 200


def _nested_not_json(count: int) -> JsonValue:
    document: JsonValue = {"Condition": "a"}
    for _ in range(count):
        document = {"Not": document}
    return document


def test_nesting_up_to_the_parse_limit_parses() -> None:
    parsed = requirement_from_json(_nested_not_json(MAX_PARSE_DEPTH))
    assert requirement_depth(parsed) == MAX_PARSE_DEPTH


def test_nesting_beyond_the_parse_limit_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidInput) as raised:
        requirement_from_json(_nested_not_json(MAX_PARSE_DEPTH + 1))
    assert raised.value.path == "$" + ".Not" * (MAX_PARSE_DEPTH + 1)
    assert "deeper than 64" in raised.value.detail


def test_hostile_nesting_is_rejected_without_exhausting_the_stack() -> None:
    with pytest.raises(InvalidInput):
        requirement_from_json(_nested_not_json(100_000))


def test_tree_deeper_than_evaluation_limit_parses_like_the_reference() -> None:
    parsed = requirement_from_json(_nested_not_json(MAX_EVAL_DEPTH + 1))
    assert evaluate_requirement(parsed, statuses(a=T))[0] is U


# --- Structure --------------------------------------------------------------------------


def test_condition_ids_are_depth_first_left_to_right_with_duplicates() -> None:
    tree = And((c("a"), Or((c("b"), Not(c("a")))), RequireGroup(1, (c("c"), c("b")))))
    assert condition_ids(tree) == ["a", "b", "a", "c", "b"]


@pytest.mark.parametrize(
    ("tree", "depth"),
    [
        (c("a"), 0),
        (And(()), 0),
        (Not(c("a")), 1),
        (And((c("a"), Or((Not(c("b")),)))), 3),
        (RequireGroup(1, (c("a"),)), 1),
    ],
)
def test_depth_counts_edges_from_the_root(tree: Requirement, depth: int) -> None:
    assert requirement_depth(tree) == depth


def test_depth_of_a_very_deep_tree_is_measured_without_recursing() -> None:
    assert requirement_depth(nest_not(c("a"), 20_000)) == 20_000


def test_r16_condition_ids_sort_in_utf8_byte_order() -> None:
    # The engine sorts evidence records by condition id; Python's str order
    # (code points) is UTF-8 byte order, which is the reference's order.
    for ids, expected in [
        (
            ["zebra", "apple", "mango", "banana", "cherry"],
            ["apple", "banana", "cherry", "mango", "zebra"],
        ),
        (["cond-10", "cond-2", "cond-1", "cond-20"], ["cond-1", "cond-10", "cond-2", "cond-20"]),
        (
            ["cond_underscore", "cond-hyphen", "cond.dot", "cond:colon", "cond/slash"],
            ["cond-hyphen", "cond.dot", "cond/slash", "cond:colon", "cond_underscore"],
        ),
        (["\uff41", "\U0001f600", "\u00e9"], ["\u00e9", "\uff41", "\U0001f600"]),
    ]:
        assert sorted(ids) == expected
        assert sorted(ids, key=lambda text: text.encode()) == expected


# --- Validation ------------------------------------------------------------------------


def test_r9_group_needing_more_members_than_it_has_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_requirement(RequireGroup(5, (c("a"), c("b"))))
    assert raised.value.detail == (
        "invalid group requirement: min 5 exceeds total 2, so it can never be satisfied"
    )


def test_r10_group_with_min_zero_and_members_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_requirement(RequireGroup(0, (c("a"),)))
    assert "RequireGroup with min=0 is always satisfied" in raised.value.detail


def test_r11_tree_deeper_than_max_depth_is_rejected() -> None:
    tree = And((And((And((And((c("leaf"),)),)),)),))
    with pytest.raises(InvalidInput) as raised:
        validate_requirement(tree, max_depth=3)
    assert raised.value.detail == "requirement tree too deep: 4 levels (max 3)"
    assert raised.value.path == "$.And[0].And[0].And[0].And[0]"


def test_r11_tree_within_max_depth_is_accepted() -> None:
    validate_requirement(And((And((c("leaf"),)),)), max_depth=3)


def test_default_validation_limit_is_the_evaluation_limit() -> None:
    validate_requirement(nest_not(c("a"), MAX_EVAL_DEPTH))
    with pytest.raises(InvalidInput):
        validate_requirement(nest_not(c("a"), MAX_EVAL_DEPTH + 1))


def test_group_error_names_the_path_of_the_group() -> None:
    tree = Or((c("a"), Not(RequireGroup(3, (c("b"),)))))
    with pytest.raises(InvalidInput) as raised:
        validate_requirement(tree)
    assert raised.value.path == "$.Or[1].Not"


@pytest.mark.parametrize("minimum", [-1, 256])
def test_group_min_outside_a_byte_is_rejected(minimum: int) -> None:
    with pytest.raises(InvalidInput, match=r"outside 0\.\.255"):
        validate_requirement(RequireGroup(minimum, (c("a"),) * 256))


def test_empty_group_with_min_zero_and_empty_connectives_are_valid() -> None:
    validate_requirement(And((RequireGroup(0, ()), And(()), Or(()))))


def test_a_typical_gate_is_valid() -> None:
    validate_requirement(EXAMPLE)


# --- Properties over random trees -------------------------------------------------------

LEAF_IDS = ["a", "b", "c", "d", "e"]


def trees(max_leaves: int = 25) -> st.SearchStrategy[Requirement]:
    leaves = st.sampled_from(LEAF_IDS).map(Condition)

    def extend(children: st.SearchStrategy[Requirement]) -> st.SearchStrategy[Requirement]:
        lists = st.lists(children, max_size=4).map(tuple)
        return st.one_of(
            lists.map(And),
            lists.map(Or),
            children.map(Not),
            st.builds(lambda reqs, m: RequireGroup(m, reqs), lists, st.integers(0, 5)),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


assignments = st.fixed_dictionaries({name: st.sampled_from(list(TriState)) for name in LEAF_IDS})


def reference_evaluate(tree: Requirement, status: dict[str, TriState], mode: LogicMode) -> TriState:
    """§2.3 read literally, for trees within the depth limit."""
    conjoin = kleene_and if mode is LogicMode.KLEENE else bochvar_and
    disjoin = kleene_or if mode is LogicMode.KLEENE else bochvar_or
    if isinstance(tree, Condition):
        return status[tree.condition_id]
    if isinstance(tree, Not):
        return tri_not(reference_evaluate(tree.child, status, mode))
    if isinstance(tree, And):
        result = T
        for child in tree.children:
            result = conjoin(result, reference_evaluate(child, status, mode))
        return result
    if isinstance(tree, Or):
        result = F
        for child in tree.children:
            result = disjoin(result, reference_evaluate(child, status, mode))
        return result
    results = [reference_evaluate(member, status, mode) for member in tree.reqs]
    return require_group(tree.min, results.count(T), results.count(U))


@settings(max_examples=200)
@given(trees(), assignments, st.sampled_from(list(LogicMode)))
def test_evaluation_matches_the_reference_algorithm(
    tree: Requirement, status: dict[str, TriState], mode: LogicMode
) -> None:
    assume(requirement_depth(tree) <= MAX_EVAL_DEPTH)
    result, _ = evaluate_requirement(tree, status.__getitem__, mode)
    assert result is reference_evaluate(tree, status, mode)


@settings(max_examples=200)
@given(trees(), assignments)
def test_trace_lists_every_leaf_in_order_within_the_depth_limit(
    tree: Requirement, status: dict[str, TriState]
) -> None:
    assume(requirement_depth(tree) <= MAX_EVAL_DEPTH)
    _, trace = evaluate_requirement(tree, status.__getitem__)
    ids = condition_ids(tree)
    assert len(trace) == len(ids)
    assert trace == [(condition_id, status[condition_id]) for condition_id in ids]


@settings(max_examples=200)
@given(trees())
def test_wire_form_round_trips(tree: Requirement) -> None:
    document = requirement_to_json(tree)
    assert requirement_from_json(document) == tree
    assert requirement_to_json(requirement_from_json(document)) == document
