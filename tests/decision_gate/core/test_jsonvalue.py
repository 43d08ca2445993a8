"""JSON decoding with the reference's number kinds, and its type-strict equality (spec §3.3)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import (
    I64_MIN,
    U64_MAX,
    JsonDecodeError,
    JsonValue,
    decimal_of,
    dumps_compact,
    is_number,
    loads,
    strict_equal,
)

# --- loads: number kinds ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("18446744073709551615", U64_MAX),
        ("-9223372036854775808", I64_MIN),
        ("9007199254740993", 2**53 + 1),
    ],
)
def test_integer_literals_in_the_u64_and_i64_ranges_stay_exact_ints(text: str, value: int) -> None:
    decoded = loads(text)
    assert type(decoded) is int
    assert decoded == value


@pytest.mark.parametrize(
    "text", ["18446744073709551616", "-9223372036854775809", "123456789012345678901234567890"]
)
def test_integer_literals_outside_u64_and_i64_become_floats(text: str) -> None:
    decoded = loads(text)
    assert type(decoded) is float
    assert decoded == float(text)


def test_minus_zero_literal_is_the_float_negative_zero() -> None:
    decoded = loads("[-0]")
    assert isinstance(decoded, list)
    assert type(decoded[0]) is float
    assert math.copysign(1.0, decoded[0]) == -1.0


def test_literals_with_fraction_or_exponent_are_floats_even_when_integral() -> None:
    assert [type(item) for item in loads("[1.0, 1e3, 0.5]")] == [float, float, float]  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"a": [NaN]}'])
def test_nan_and_infinity_are_rejected(text: str) -> None:
    with pytest.raises(JsonDecodeError, match="is not a JSON number"):
        loads(text)


@pytest.mark.parametrize("text", ["1e400", "-1e400", "1" * 400, "1" * 5000])
def test_numbers_too_large_for_a_double_are_rejected(text: str) -> None:
    with pytest.raises(JsonDecodeError, match="number out of range"):
        loads(text)


# --- loads: text ------------------------------------------------------------


def test_bad_text_is_one_line_invalid_input_with_line_and_column() -> None:
    with pytest.raises(JsonDecodeError) as raised:
        loads('{\n  "a": 1,\n  "b": }')
    assert isinstance(raised.value, InvalidInput)
    assert str(raised.value) == "invalid JSON: Expecting value at line 3 column 8"


def test_bytes_must_be_utf8() -> None:
    with pytest.raises(JsonDecodeError, match="not UTF-8"):
        loads(b'"\xff"')


def test_utf8_bytes_decode_like_text() -> None:
    assert loads('{"k": "é😀"}'.encode()) == {"k": "é😀"}


def test_escaped_surrogate_pair_decodes_to_one_astral_character() -> None:
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udc00": 1}', '["x\\udbff y"]'])
def test_unpaired_surrogate_escape_is_rejected(text: str) -> None:
    with pytest.raises(JsonDecodeError, match="unpaired surrogate"):
        loads(text)


def test_duplicate_keys_keep_the_last_value() -> None:
    assert loads('{"a": 1, "b": 2, "a": 3}') == {"a": 3, "b": 2}


def test_excessive_nesting_is_a_decode_error() -> None:
    with pytest.raises(JsonDecodeError, match="nested too deeply"):
        loads("[" * 100_000 + "]" * 100_000)


# --- dumps_compact ----------------------------------------------------------

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(I64_MIN, U64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(_VALUES)
def test_compact_text_reads_back_with_every_number_kind_kept(value: JsonValue) -> None:
    assert strict_equal(loads(dumps_compact(value)), value)


def test_compact_text_keeps_member_order_and_float_kind() -> None:
    assert dumps_compact({"b": 1.0, "a": [-0.0, 2]}) == '{"b":1.0,"a":[-0.0,2]}'


# --- strict_equal -----------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (True, 1),
        (False, 0),
        (1, 1.0),
        ([1], [1.0]),
        ({"n": 1}, {"n": 1.0}),
        ([True], [1]),
        (None, False),
        ("1", 1),
        ([1, 2], [2, 1]),
        ({"a": 1}, {"a": 1, "b": None}),
        ([[1]], [[1, 1]]),
    ],
)
def test_values_python_might_call_equal_are_not_strictly_equal(
    left: JsonValue, right: JsonValue
) -> None:
    assert not strict_equal(left, right)
    assert not strict_equal(right, left)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": 1, "b": [1.5, "x"]}, {"b": [1.5, "x"], "a": 1}),
        (-0.0, 0.0),
        ([None, True, "s"], [None, True, "s"]),
        ({}, {}),
    ],
)
def test_same_type_and_value_is_strictly_equal(left: JsonValue, right: JsonValue) -> None:
    assert strict_equal(left, right)


def test_tuple_and_list_with_the_same_items_are_the_same_array() -> None:
    pair: Any = (1, "x")
    assert strict_equal(pair, [1, "x"])


def test_nan_is_not_strictly_equal_to_itself() -> None:
    assert not strict_equal(math.nan, math.nan)


# --- numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(0, True), (-3, True), (1.5, True), (True, False), ("1", False)]
)
def test_bool_and_strings_are_not_numbers(value: JsonValue, expected: bool) -> None:
    assert is_number(value) is expected


@pytest.mark.parametrize(
    ("number", "decimal"),
    [
        (0.1, Decimal("0.1")),
        (1e-7, Decimal("1e-7")),
        (1.7976931348623157e308, Decimal("1.7976931348623157e308")),
        (U64_MAX, Decimal(18446744073709551615)),
        (0.30000000000000004, Decimal("0.30000000000000004")),
    ],
)
def test_decimal_of_is_the_shortest_round_trip_value(number: float, decimal: Decimal) -> None:
    assert decimal_of(number) == decimal


def test_decimal_of_compares_ints_and_floats_by_exact_value() -> None:
    assert decimal_of(1) == decimal_of(1.0)
    assert decimal_of(-0.0) == decimal_of(0)
    assert decimal_of(2**53 + 1) != decimal_of(9007199254740992.0)
    assert decimal_of(U64_MAX) > decimal_of(2**63 - 1)


@pytest.mark.parametrize("value", [True, "1", None, math.inf, math.nan])
def test_decimal_of_rejects_non_numbers_and_non_finite_floats(value: Any) -> None:
    with pytest.raises(InvalidInput):
        decimal_of(value)
