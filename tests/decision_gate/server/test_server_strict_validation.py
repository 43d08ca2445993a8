"""Strict comparator validation (server.md §3.13): comparators must fit the schema's type."""

from __future__ import annotations

from typing import Any

import pytest

from decision_gate.config.model import ValidationConfig
from decision_gate.core.model import ConditionSpec, ScenarioSpec, parse
from decision_gate.server.strict_validation import StrictValidationError, StrictValidator

STRICT = StrictValidator(ValidationConfig())
OPTED_IN = StrictValidator(ValidationConfig(enable_lexicographic=True, enable_deep_equals=True))


def condition(comparator: str, expected: Any = None, condition_id: str = "c") -> ConditionSpec:
    raw: dict[str, Any] = {
        "condition_id": condition_id,
        "comparator": comparator,
        "policy_tags": [],
        "query": {"provider_id": "p", "check_id": "k"},
    }
    if expected is not None:
        raw["expected"] = expected
    return parse(ConditionSpec, raw)


def refusal(validator: StrictValidator, cond: ConditionSpec, schema: Any) -> str:
    with pytest.raises(StrictValidationError) as raised:
        validator.validate_condition(cond, schema)
    return str(raised.value)


@pytest.mark.parametrize(
    ("schema", "comparator", "expected"),
    [
        ({"type": "boolean"}, "equals", True),
        ({"type": "integer"}, "greater_than", 3),
        ({"type": "string"}, "contains", "x"),
        ({"type": "string", "format": "date-time"}, "less_than", "2024-01-01T00:00:00Z"),
        ({"type": ["string", "null"]}, "in_set", ["a", "b"]),
        ({"enum": ["a", "b"]}, "equals", "a"),
        ({"type": "array", "items": {"type": "string"}}, "contains", ["x"]),
        ({"type": "object"}, "exists", None),
        ({"x-decision-gate": {"dynamic_type": True}}, "greater_than", 1),
        ({"oneOf": [{"type": "integer"}, {"type": "null"}]}, "less_than", 5),
    ],
)
def test_comparators_that_fit_the_type_pass(schema: Any, comparator: str, expected: Any) -> None:
    STRICT.validate_condition(condition(comparator, expected), schema)


@pytest.mark.parametrize(
    ("schema", "comparator", "expected", "message"),
    [
        (
            {"type": "boolean"},
            "greater_than",
            True,
            "condition c comparator greater_than not allowed for schema type",
        ),
        (
            {"type": "object"},
            "equals",
            {"a": 1},
            "condition c comparator equals not allowed for schema type",
        ),
        (
            {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "greater_than",
            1,
            "condition c comparator greater_than not allowed for schema type",
        ),
        (
            {"type": "string"},
            "lex_greater_than",
            "a",
            "condition c comparator lex_greater_than is disabled by config",
        ),
        (
            {"type": "integer"},
            "equals",
            "seven",
            "condition c expected value invalid: 'seven' is not of type 'integer'",
        ),
        (
            {"type": "integer"},
            "in_set",
            3,
            "condition c comparator in_set requires expected array",
        ),
        (
            {"type": "integer"},
            "exists",
            3,
            "condition c comparator exists does not accept expected values",
        ),
        ({}, "equals", 1, "schema missing type declaration"),
        ({"enum": [1, "a"]}, "equals", 1, "enum values must share the same scalar type"),
    ],
)
def test_comparators_that_do_not_fit_are_refused(
    schema: Any, comparator: str, expected: Any, message: str
) -> None:
    assert refusal(STRICT, condition(comparator, expected), schema) == message


def test_opt_in_comparators_need_config_and_the_schema_listing() -> None:
    listed = {"type": "string", "x-decision-gate": {"allowed_comparators": ["lex_greater_than"]}}

    unlisted = refusal(OPTED_IN, condition("lex_greater_than", "a"), {"type": "string"})
    OPTED_IN.validate_condition(condition("lex_greater_than", "a"), listed)

    assert unlisted == "condition c comparator lex_greater_than requires explicit opt-in"


def test_the_schema_listing_also_narrows_allowed_comparators() -> None:
    schema = {"type": "integer", "x-decision-gate": {"allowed_comparators": ["equals"]}}

    message = refusal(STRICT, condition("greater_than", 1), schema)

    assert message == "condition c comparator greater_than not in allowed_comparators"


def test_a_listing_naming_a_forbidden_comparator_is_refused() -> None:
    schema = {"type": "boolean", "x-decision-gate": {"allowed_comparators": ["contains"]}}

    message = refusal(STRICT, condition("equals", True), schema)

    assert message == "allowed_comparators includes comparator contains not valid for schema"


def precheck_spec(*condition_ids: str) -> ScenarioSpec:
    return parse(
        ScenarioSpec,
        {
            "scenario_id": "s",
            "namespace_id": 2,
            "spec_version": "1",
            "policies": [],
            "schemas": [],
            "conditions": [
                {
                    "condition_id": cid,
                    "comparator": "equals",
                    "expected": True,
                    "policy_tags": [],
                    "query": {"provider_id": "p", "check_id": "k"},
                }
                for cid in condition_ids
            ],
            "stages": [
                {
                    "stage_id": "main",
                    "entry_packets": [],
                    "gates": [],
                    "advance_to": {"kind": "terminal"},
                    "on_timeout": "fail",
                }
            ],
        },
    )


def test_precheck_checks_each_condition_against_its_property() -> None:
    shape = {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "string"}}}

    with pytest.raises(StrictValidationError, match="condition b expected value invalid"):
        STRICT.validate_precheck(precheck_spec("a", "b"), shape)


def test_precheck_refuses_a_shape_that_does_not_describe_a_condition() -> None:
    shape = {
        "type": "object",
        "properties": {"a": {"type": "boolean"}},
        "additionalProperties": True,
    }

    with pytest.raises(StrictValidationError, match="untyped additionalProperties for condition b"):
        STRICT.validate_precheck(precheck_spec("a", "b"), shape)


def test_a_non_object_shape_serves_a_single_condition_only() -> None:
    STRICT.validate_precheck(precheck_spec("a"), {"type": "boolean"})

    with pytest.raises(StrictValidationError, match="requires exactly one condition"):
        STRICT.validate_precheck(precheck_spec("a", "b"), {"type": "boolean"})


def test_strict_off_skips_the_checks() -> None:
    relaxed = StrictValidator(ValidationConfig(strict=False, allow_permissive=True))

    relaxed.validate_precheck(precheck_spec("a", "b"), {"type": "boolean"})
