"""Strict comparator validation (server.md §3.13): a comparator must fit its value's type.

On by default (`validation.strict`). For `scenario_define` the type comes from
the check's result schema in the provider contract; for `precheck`, from the
registered data shape (the property named by the condition id of an object
shape, or the whole shape when the spec has exactly one condition). The
schema's type is classified (boolean, integer, number, string - with date,
date-time and uuid formats -, scalar enum, array of scalars, other arrays,
object, null, or dynamic through `x-decision-gate.dynamic_type`) and each
class allows some comparators, allows some only on opt-in (lexicographic
ordering on strings, deep equality on arrays and objects: enabled in config
*and* listed in the schema's `x-decision-gate.allowed_comparators`), and
forbids the rest. Unions allow only what every non-null member allows.
Ambiguous schemas (no type, mixed enums) are refused: a gate must never
depend on a comparison whose meaning was guessed. Failures are -32602.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Final

import jsonschema

from decision_gate.config.model import ValidationConfig
from decision_gate.core.comparators import Comparator
from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import json_type_name
from decision_gate.core.model import ConditionSpec, ScenarioSpec
from decision_gate.server.capabilities import CapabilityRegistry

META_KEY: Final = "x-decision-gate"


class StrictValidationError(InvalidInput):
    """A condition whose comparator does not fit the type it compares."""


class Allowance(enum.IntEnum):
    """Ordered so that combining two allowances is taking the smaller."""

    FORBIDDEN = 0
    OPT_IN = 1
    ALLOWED = 2


class TypeClass(enum.Enum):
    DYNAMIC = "dynamic"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    STRING = "string"
    ENUM = "enum"
    ARRAY_SCALAR = "array_scalar"
    ARRAY_COMPLEX = "array_complex"
    OBJECT = "object"
    NULL = "null"
    DATE = "date"
    DATE_TIME = "date_time"
    UUID = "uuid"


C = Comparator
_PRESENCE: Final = {C.EXISTS, C.NOT_EXISTS}
_EQUALITY: Final = {C.EQUALS, C.NOT_EQUALS, C.IN_SET} | _PRESENCE
_ORDERING: Final = {C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL, C.LESS_THAN, C.LESS_THAN_OR_EQUAL}
_LEXICOGRAPHIC: Final = {
    C.LEX_GREATER_THAN,
    C.LEX_GREATER_THAN_OR_EQUAL,
    C.LEX_LESS_THAN,
    C.LEX_LESS_THAN_OR_EQUAL,
}
_DEEP: Final = {C.DEEP_EQUALS, C.DEEP_NOT_EQUALS}
_NO_NULL_EXPECTED: Final = _ORDERING | _LEXICOGRAPHIC | _DEEP | {C.CONTAINS}
_SCALARS: Final = {
    TypeClass.BOOLEAN,
    TypeClass.INTEGER,
    TypeClass.NUMBER,
    TypeClass.STRING,
    TypeClass.ENUM,
    TypeClass.DATE,
    TypeClass.DATE_TIME,
    TypeClass.UUID,
    TypeClass.NULL,
}


def _table(allowed: set[Comparator], opt_in: set[Comparator] | None = None) -> dict[C, Allowance]:
    table = {comparator: Allowance.FORBIDDEN for comparator in Comparator}
    table.update(dict.fromkeys(opt_in or set(), Allowance.OPT_IN))
    table.update(dict.fromkeys(allowed, Allowance.ALLOWED))
    return table


_ALLOWANCES: Final[Mapping[TypeClass, Mapping[Comparator, Allowance]]] = {
    TypeClass.DYNAMIC: _table(set(Comparator)),
    TypeClass.BOOLEAN: _table(_EQUALITY),
    TypeClass.INTEGER: _table(_EQUALITY | _ORDERING),
    TypeClass.NUMBER: _table(_EQUALITY | _ORDERING),
    TypeClass.STRING: _table(_EQUALITY | {C.CONTAINS}, _LEXICOGRAPHIC),
    TypeClass.ENUM: _table(_EQUALITY),
    TypeClass.ARRAY_SCALAR: _table({C.CONTAINS} | _PRESENCE, _DEEP),
    TypeClass.ARRAY_COMPLEX: _table(_PRESENCE, _DEEP),
    TypeClass.OBJECT: _table(_PRESENCE, _DEEP),
    TypeClass.NULL: _table({C.EQUALS, C.NOT_EQUALS} | _PRESENCE),
    TypeClass.DATE: _table(_EQUALITY | _ORDERING),
    TypeClass.DATE_TIME: _table(_EQUALITY | _ORDERING),
    TypeClass.UUID: _table(_EQUALITY),
}


def _invalid(message: str) -> StrictValidationError:
    return StrictValidationError(message)


def _meta(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = schema.get(META_KEY, {})
    if not isinstance(meta, Mapping):
        raise _invalid(f"{META_KEY} must be an object")
    return meta


def type_classes(schema: Any) -> list[TypeClass]:
    """The type classes a schema admits (null dropped when something else is admitted)."""
    if not isinstance(schema, Mapping):
        raise _invalid("schema must be an object")
    dynamic = _meta(schema).get("dynamic_type")
    if dynamic is not None and not isinstance(dynamic, bool):
        raise _invalid(f"{META_KEY}.dynamic_type must be boolean")
    if dynamic:
        return [TypeClass.DYNAMIC]
    if isinstance(schema.get("enum"), list):
        values = schema["enum"]
        if not values:
            raise _invalid("enum must contain at least one value")
        kinds = {json_type_name(value) for value in values}
        if kinds & {"array", "object"}:
            raise _invalid("enum values must be scalar types")
        if len(kinds) > 1:
            raise _invalid("enum values must share the same scalar type")
        return [TypeClass.NULL] if kinds == {"null"} else [TypeClass.ENUM]
    if "type" not in schema:
        raise _invalid("schema missing type declaration")
    declared = schema["type"]
    if isinstance(declared, str):
        return [_class_for(declared, schema)]
    if not isinstance(declared, list) or not declared:
        raise _invalid("schema type must be a string or a non-empty array")
    if not all(isinstance(kind, str) for kind in declared):
        raise _invalid("schema type array must contain strings")
    classes = [_class_for(kind, schema) for kind in declared]
    non_null: list[TypeClass] = [c for c in classes if c is not TypeClass.NULL]
    return non_null or classes


def _class_for(kind: str, schema: Mapping[str, Any]) -> TypeClass:
    simple = {
        "boolean": TypeClass.BOOLEAN,
        "integer": TypeClass.INTEGER,
        "number": TypeClass.NUMBER,
        "object": TypeClass.OBJECT,
        "null": TypeClass.NULL,
    }
    if kind in simple:
        return simple[kind]
    if kind == "string":
        formats = {"date": TypeClass.DATE, "date-time": TypeClass.DATE_TIME, "uuid": TypeClass.UUID}
        return formats.get(schema.get("format"), TypeClass.STRING)  # type: ignore[arg-type]
    if kind == "array":
        items = schema.get("items")
        try:
            scalar = items is not None and all(c in _SCALARS for c in type_classes(items))
        except StrictValidationError:
            scalar = False
        return TypeClass.ARRAY_SCALAR if scalar else TypeClass.ARRAY_COMPLEX
    raise _invalid(f"unsupported schema type: {kind}")


def _is_null_schema(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return all(value is None for value in schema["enum"])
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared == "null"
    if isinstance(declared, list):
        return bool(declared) and all(kind == "null" for kind in declared)
    return False


def _variants(options: Sequence[Any]) -> list[Any]:
    """Union members, preferring the non-null ones."""
    non_null = [option for option in options if not _is_null_schema(option)]
    return non_null or list(options)


def allowances(schema: Any) -> dict[Comparator, Allowance]:
    """What each comparator may do with values of `schema` (unions intersect)."""
    if isinstance(schema, Mapping):
        for union in ("oneOf", "anyOf"):
            if isinstance(schema.get(union), list):
                members = _variants(schema[union])
                if not members:
                    raise _invalid("schema union must have at least one option")
                result = allowances(members[0])
                for member in members[1:]:
                    other = allowances(member)
                    result = {c: min(result[c], other[c]) for c in Comparator}
                return result
    classes = type_classes(schema)
    result = dict(_ALLOWANCES[classes[0]])
    for type_class in classes[1:]:
        result = {c: min(result[c], _ALLOWANCES[type_class][c]) for c in Comparator}
    return result


class StrictValidator:
    def __init__(self, config: ValidationConfig) -> None:
        self.config = config

    def enabled_comparator(self, comparator: Comparator) -> bool:
        if comparator in _LEXICOGRAPHIC:
            return self.config.enable_lexicographic
        if comparator in _DEEP:
            return self.config.enable_deep_equals
        return True

    def validate_spec(self, spec: ScenarioSpec, capabilities: CapabilityRegistry) -> None:
        if not self.config.strict:
            return
        for condition in spec.conditions:
            check = capabilities.check(condition.query.provider_id, condition.query.check_id)
            if check.contract is not None:
                self.validate_condition(condition, check.contract["result_schema"])

    def validate_precheck(self, spec: ScenarioSpec, data_shape: Any) -> None:
        if not self.config.strict:
            return
        variants = [data_shape]
        if isinstance(data_shape, Mapping):
            if "oneOf" in data_shape and "anyOf" in data_shape:
                raise _invalid("schema cannot define both oneOf and anyOf")
            for union in ("oneOf", "anyOf"):
                if isinstance(data_shape.get(union), list):
                    if not data_shape[union]:
                        raise _invalid(f"schema {union} must contain at least one option")
                    variants = _variants(data_shape[union])
        for condition in spec.conditions:
            for variant in variants:
                fragment = _fragment_for(condition, len(spec.conditions), variant)
                self.validate_condition(condition, fragment)

    def validate_condition(self, condition: ConditionSpec, schema: Any) -> None:
        label = f"condition {condition.condition_id} comparator {condition.comparator.value}"
        table = allowances(schema)
        listed = self._allowed_override(schema, table)
        if not self.enabled_comparator(condition.comparator):
            raise _invalid(f"{label} is disabled by config")
        allowance = table[condition.comparator]
        if allowance is Allowance.FORBIDDEN:
            raise _invalid(f"{label} not allowed for schema type")
        if allowance is Allowance.OPT_IN and listed is None:
            raise _invalid(f"{label} requires explicit opt-in")
        if listed is not None and condition.comparator not in listed:
            raise _invalid(f"{label} not in allowed_comparators")
        self._check_expected(condition, schema, label)

    def _allowed_override(
        self, schema: Any, table: Mapping[Comparator, Allowance]
    ) -> list[Comparator] | None:
        if not isinstance(schema, Mapping):
            return None
        raw = _meta(schema).get("allowed_comparators")
        if raw is None:
            return None
        if not isinstance(raw, list) or not raw:
            raise _invalid("allowed_comparators must be a non-empty array")
        try:
            listed = [Comparator(name) for name in raw]
        except (ValueError, TypeError):
            raise _invalid("allowed_comparators invalid: unknown comparator") from None
        for comparator in listed:
            if not self.enabled_comparator(comparator):
                raise _invalid(
                    f"allowed_comparators includes disabled comparator {comparator.value}"
                )
            if table[comparator] is Allowance.FORBIDDEN:
                raise _invalid(
                    f"allowed_comparators includes comparator {comparator.value} not valid for "
                    "schema"
                )
        return listed

    def _check_expected(self, condition: ConditionSpec, schema: Any, label: str) -> None:
        comparator, expected = condition.comparator, condition.expected
        if comparator in _PRESENCE:
            if expected is not None:
                raise _invalid(f"{label} does not accept expected values")
            return
        try:
            validator_class = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            validator_class.check_schema(schema)
            validator = validator_class(schema)
        except jsonschema.SchemaError as error:
            raise _invalid(f"invalid schema: {error.message}") from None
        if comparator is C.IN_SET:
            if not isinstance(expected, list | tuple):
                raise _invalid(f"{label} requires expected array")
            values = list(expected)
        else:
            if expected is None and comparator in _NO_NULL_EXPECTED:
                raise _invalid(f"{label} does not accept null expected values")
            values = [expected]
        for value in values:
            messages = "; ".join(error.message for error in validator.iter_errors(value))
            if messages:
                raise _invalid(
                    f"condition {condition.condition_id} expected value invalid: {messages[:400]}"
                )


def _fragment_for(condition: ConditionSpec, count: int, schema: Any) -> Any:
    """The part of a data shape that describes one condition's value."""
    if _is_object_schema(schema):
        properties = schema.get("properties")
        if isinstance(properties, Mapping) and condition.condition_id in properties:
            return properties[condition.condition_id]
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            return additional
        if additional is True:
            raise _invalid(
                f"schema allows untyped additionalProperties for condition {condition.condition_id}"
            )
        raise _invalid(f"condition {condition.condition_id} missing from data shape schema")
    if count == 1:
        return schema
    raise _invalid("non-object data shape requires exactly one condition")


def _is_object_schema(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared == "object"
    if isinstance(declared, list):
        return "object" in declared
    return "properties" in schema
