"""Comparators (spec §3; vectors C1-C38).

Evidence and expected values are written as JSON text and decoded with the
number-kind-faithful `loads`, so `1.0`, `1e3` and `-0.0` are the floats the
wire would carry. `ABSENT` is "no evidence" or "no expected value".
"""

from __future__ import annotations

import pytest

from decision_gate.core.comparators import (
    Comparator,
    evaluate_comparator,
    parse_date_only,
    parse_rfc3339_instant,
)
from decision_gate.core.evidence import BytesEvidence, EvidenceValue, JsonEvidence
from decision_gate.core.jsonvalue import loads
from decision_gate.core.tristate import TriState

T, F, U = TriState.TRUE, TriState.FALSE, TriState.UNKNOWN
ABSENT = None


def cmp(comparator: str, evidence: str | bytes | None, expected: str | None) -> TriState:
    """Evidence: JSON text, `bytes` (bytes evidence) or ABSENT; expected: JSON text or ABSENT."""
    value: EvidenceValue | None
    if evidence is None:
        value = None
    elif isinstance(evidence, bytes):
        value = BytesEvidence(evidence)
    else:
        value = JsonEvidence(loads(evidence))
    return evaluate_comparator(
        Comparator(comparator), None if expected is None else loads(expected), value
    )


def test_comparators_are_declared_in_reference_order() -> None:
    assert [comparator.value for comparator in Comparator] == [
        "equals",
        "not_equals",
        "greater_than",
        "greater_than_or_equal",
        "less_than",
        "less_than_or_equal",
        "lex_greater_than",
        "lex_greater_than_or_equal",
        "lex_less_than",
        "lex_less_than_or_equal",
        "contains",
        "in_set",
        "deep_equals",
        "deep_not_equals",
        "exists",
        "not_exists",
    ]


# --- C1-C3: presence ---------------------------------------------------------


def test_c1_exists_is_true_with_evidence() -> None:
    assert cmp("exists", "true", ABSENT) is T


def test_c1_exists_is_false_without_evidence() -> None:
    assert cmp("exists", ABSENT, ABSENT) is F


def test_c2_not_exists_is_false_with_evidence() -> None:
    assert cmp("not_exists", "true", ABSENT) is F


def test_c2_not_exists_is_true_without_evidence() -> None:
    assert cmp("not_exists", ABSENT, ABSENT) is T


def test_c3_json_null_evidence_exists() -> None:
    assert cmp("exists", "null", ABSENT) is T


def test_presence_ignores_the_expected_value() -> None:
    assert cmp("exists", "1", '"anything"') is T
    assert cmp("not_exists", ABSENT, "[1, 2]") is T


def test_presence_counts_bytes_evidence() -> None:
    assert cmp("exists", b"", ABSENT) is T


# --- C4-C11: numeric ordering --------------------------------------------------


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("equals", "10", "10"),
        ("not_equals", "10", "9"),
        ("greater_than", "10", "5"),
        ("less_than", "10", "20"),
    ],
)
def test_c4_integer_comparisons_that_hold(comparator: str, evidence: str, expected: str) -> None:
    assert cmp(comparator, evidence, expected) is T


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("greater_than", "10", "10"),
        ("greater_than", "10", "15"),
        ("less_than", "10", "10"),
        ("less_than", "10", "5"),
    ],
)
def test_c5_strict_ordering_that_fails(comparator: str, evidence: str, expected: str) -> None:
    assert cmp(comparator, evidence, expected) is F


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected", "result"),
    [
        ("greater_than_or_equal", "10", "10", T),
        ("greater_than_or_equal", "10", "5", T),
        ("less_than_or_equal", "10", "10", T),
        ("less_than_or_equal", "10", "15", T),
        ("greater_than_or_equal", "10", "15", F),
        ("less_than_or_equal", "10", "5", F),
    ],
)
def test_c6_inclusive_ordering(
    comparator: str, evidence: str, expected: str, result: TriState
) -> None:
    assert cmp(comparator, evidence, expected) is result


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected", "result"),
    [
        ("greater_than", "-5", "-10", T),
        ("greater_than", "-5", "-3", F),
        ("less_than", "0", "1", T),
        ("less_than", "0", "-1", F),
    ],
)
def test_c7_negative_numbers_order_by_value(
    comparator: str, evidence: str, expected: str, result: TriState
) -> None:
    assert cmp(comparator, evidence, expected) is result


def test_c8_ordering_against_a_null_expected_is_unknown() -> None:
    # A JSON null `expected` is "absent" on the wire.
    assert cmp("greater_than", "10", "null") is U


@pytest.mark.parametrize(
    ("comparator", "evidence"), [("greater_than", '"ten"'), ("less_than", '"not a number"')]
)
def test_c9_ordering_a_string_against_a_number_is_unknown(comparator: str, evidence: str) -> None:
    assert cmp(comparator, evidence, "5") is U


@pytest.mark.parametrize(("evidence", "expected"), [("1.5", "1.4"), ("2.0", "1.5")])
def test_c10_floats_order_by_value(evidence: str, expected: str) -> None:
    assert cmp("greater_than", evidence, expected) is T


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ("9223372036854775807", "9223372036854775806"),
        ("-9223372036854775807", "-9223372036854775808"),
    ],
)
def test_c11_64_bit_extremes_order_exactly(evidence: str, expected: str) -> None:
    assert cmp("greater_than", evidence, expected) is T


# --- C12-C17: contains -------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "expected"), [('"nation-state"', '"state"'), ('"hello world"', '""')]
)
def test_c12_substring_is_contained(evidence: str, expected: str) -> None:
    assert cmp("contains", evidence, expected) is T


@pytest.mark.parametrize(("evidence", "expected"), [('"hello world"', '"xyz"'), ('""', '"needle"')])
def test_c13_missing_substring_is_not_contained(evidence: str, expected: str) -> None:
    assert cmp("contains", evidence, expected) is F


@pytest.mark.parametrize(("expected", "result"), [('"Hello"', T), ('"hello"', F)])
def test_c14_substring_match_is_case_sensitive(expected: str, result: TriState) -> None:
    assert cmp("contains", '"Hello World"', expected) is result


def test_c14_substring_match_handles_non_ascii() -> None:
    assert cmp("contains", '"hello 世界"', '"世界"') is T


@pytest.mark.parametrize(
    ("evidence", "expected", "result"),
    [
        ('["a","b","c"]', '["b"]', T),
        ('["a","b","c"]', '["d"]', F),
        ('["a","b","c","d"]', '["b","c"]', T),
        ('["a","b"]', '["b","c"]', F),
    ],
)
def test_c15_array_contains_every_expected_element(
    evidence: str, expected: str, result: TriState
) -> None:
    assert cmp("contains", evidence, expected) is result


@pytest.mark.parametrize(("evidence", "result"), [("[1,2,3,4]", T), ("[1,2,3]", F)])
def test_c16_numeric_array_containment(evidence: str, result: TriState) -> None:
    assert cmp("contains", evidence, "[2,4]") is result


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ("12345", '"123"'),
        ("42", '"needle"'),
        ("true", '"t"'),
        ("null", '"n"'),
        ('{"k":"v"}', '"k"'),
    ],
)
def test_c17_contains_on_non_string_non_array_evidence_is_unknown(
    evidence: str, expected: str
) -> None:
    assert cmp("contains", evidence, expected) is U


def test_contains_with_empty_expected_array_is_true() -> None:
    assert cmp("contains", "[1]", "[]") is T


def test_contains_ignores_duplicates_in_expected() -> None:
    assert cmp("contains", '["a"]', '["a","a"]') is T


def test_contains_string_in_array_pairing_is_unknown() -> None:
    assert cmp("contains", '["a"]', '"a"') is U


# --- C18-C20: in_set ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [('"beta"', '["alpha","beta"]'), ("42", "[1,42,100]"), ("null", "[null]")],
)
def test_c18_member_of_set(evidence: str, expected: str) -> None:
    assert cmp("in_set", evidence, expected) is T


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [('"value"', "[]"), ('"beta"', '["alpha"]'), ('"1"', "[1,2,3]"), ("41", "[1,7,42,99]")],
)
def test_c19_not_a_member_of_set(evidence: str, expected: str) -> None:
    assert cmp("in_set", evidence, expected) is F


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ('["a","b"]', '["a","b"]'),
        ('{"k":"v"}', '["k"]'),
        ('"value"', '"not an array"'),
        ('"value"', '{"value": true}'),
        ('"value"', "3"),
    ],
)
def test_c20_in_set_with_composite_evidence_or_non_array_set_is_unknown(
    evidence: str, expected: str
) -> None:
    assert cmp("in_set", evidence, expected) is U


def test_in_set_does_not_conflate_booleans_and_numbers() -> None:
    assert cmp("in_set", "true", "[1]") is F
    assert cmp("in_set", "1", "[true]") is F


# --- C21-C22: lexicographic -------------------------------------------------------


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("lex_greater_than", '"b"', '"a"'),
        ("lex_less_than_or_equal", '"b"', '"b"'),
        ("lex_greater_than", '"a"', '""'),
    ],
)
def test_c21_strings_order_lexicographically(comparator: str, evidence: str, expected: str) -> None:
    assert cmp(comparator, evidence, expected) is T


def test_lexicographic_order_is_by_code_point_not_numeric() -> None:
    assert cmp("lex_less_than", '"10"', '"9"') is T
    assert cmp("lex_greater_than_or_equal", '"Z"', '"a"') is F


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("lex_greater_than", "10", "2"),
        ("lex_less_than", '{"a":1}', '"a"'),
        ("lex_less_than_or_equal", '["a"]', '"a"'),
        ("lex_greater_than_or_equal", "true", '"a"'),
        ("lex_greater_than", "null", '"a"'),
    ],
)
def test_c22_lexicographic_on_non_strings_is_unknown(
    comparator: str, evidence: str, expected: str
) -> None:
    assert cmp(comparator, evidence, expected) is U


# --- C23-C24: deep equality --------------------------------------------------------


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("deep_equals", '{"a":1,"b":[true,false]}', '{"a":1,"b":[true,false]}'),
        ("deep_not_equals", "[1,2,3]", "[1,2,4]"),
        ("deep_equals", "[]", "[]"),
        ("deep_equals", "{}", "{}"),
    ],
)
def test_c23_structural_equality_of_arrays_and_objects(
    comparator: str, evidence: str, expected: str
) -> None:
    assert cmp(comparator, evidence, expected) is T


@pytest.mark.parametrize(
    ("comparator", "evidence"), [("deep_equals", '"string"'), ("deep_not_equals", "42")]
)
def test_c24_deep_comparison_of_a_scalar_is_unknown(comparator: str, evidence: str) -> None:
    assert cmp(comparator, evidence, '{"key":"value"}') is U


def test_deep_equals_of_equal_scalars_is_unknown() -> None:
    assert cmp("deep_equals", "1", "1") is U


def test_deep_equals_array_against_object_is_unknown() -> None:
    assert cmp("deep_equals", "[]", "{}") is U


# --- C25: temporal ordering ------------------------------------------------------------


def test_c25_date_times_order_as_instants() -> None:
    assert cmp("greater_than", '"2024-01-02T00:00:00Z"', '"2024-01-01T23:00:00Z"') is T


def test_c25_dates_order_as_calendar_dates() -> None:
    assert cmp("less_than", '"2024-01-02"', '"2024-01-03"') is T


# --- C26-C28: equality across types and absence ----------------------------------------


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ('{"key":"value"}', '"string"'),
        ('"123"', "123"),
        ('"1e3"', "1000"),
        ("true", "1"),
        ("null", "0"),
        ("[1]", "1"),
        ('"NaN"', "0"),
        ('"1,234.56"', "1234.56"),
        ('"①"', "1"),
    ],
)
def test_c26_equals_across_json_types_is_false(evidence: str, expected: str) -> None:
    assert cmp("equals", evidence, expected) is F


def test_c27_not_equals_across_json_types_is_true() -> None:
    assert cmp("not_equals", '"string"', "42") is T


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("equals", ABSENT, "true"),
        ("greater_than", ABSENT, "5"),
        ("equals", "10", ABSENT),
        ("greater_than", "10", ABSENT),
    ],
)
def test_c28_missing_evidence_or_expected_is_unknown(
    comparator: str, evidence: str | None, expected: str | None
) -> None:
    assert cmp(comparator, evidence, expected) is U


# --- C29-C32: decimal number model ------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ("1.0", "1"),
        ("1", "1.0"),
        ("1.00", "1.0"),
        ("1000", "1e3"),
        ("0.001", "1e-3"),
        ("0.015", "1.5e-2"),
        ("9007199254740991.0", "9007199254740991"),
        ("123.456", "123.456"),
    ],
)
def test_c29_numbers_equal_by_decimal_value_whatever_their_kind(
    evidence: str, expected: str
) -> None:
    assert cmp("equals", evidence, expected) is T


def test_c30_zero_equals_negative_zero() -> None:
    assert cmp("equals", "0.0", "-0.0") is T


@pytest.mark.parametrize("comparator", ["greater_than", "less_than"])
def test_c30_zero_neither_above_nor_below_negative_zero(comparator: str) -> None:
    assert cmp(comparator, "0.0", "-0.0") is F


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("greater_than", "18446744073709551615", "9223372036854775807"),
        ("less_than", "-9223372036854775808", "0"),
        ("greater_than", "1e-9", "0"),
        ("greater_than", "1.7976931348623157e308", "0"),
        ("greater_than", "2.225073858507201e-308", "0.0"),
    ],
)
def test_c31_extreme_magnitudes_order_exactly(
    comparator: str, evidence: str, expected: str
) -> None:
    assert cmp(comparator, evidence, expected) is T


def test_c32_ordering_against_a_string_infinity_is_unknown() -> None:
    assert cmp("greater_than", "999999", '"Infinity"') is U


def test_float_compares_by_its_shortest_decimal_not_its_binary_value() -> None:
    # 0.1 + 0.2 prints as 0.30000000000000004, which is not 0.3.
    assert cmp("equals", "0.30000000000000004", "0.3") is F
    # This float's binary value is 9223372036854777856 but it prints as
    # 9223372036854778000, so it is above 9223372036854777857 by decimal.
    assert cmp("greater_than", "9.223372036854778e18", "9223372036854777857") is T


def test_big_integer_differs_from_nearest_float() -> None:
    assert cmp("equals", "9007199254740993", "9007199254740992.0") is F


# --- C33-C34: bytes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected"),
    [
        ("equals", bytes([1, 2, 3]), "[1,2,3]"),
        ("not_equals", bytes([1, 2, 3]), "[1,2,4]"),
        ("equals", b"", "[]"),
        ("equals", bytes([0, 127, 255]), "[0,127,255]"),
    ],
)
def test_c33_bytes_compare_against_integer_arrays(
    comparator: str, evidence: bytes, expected: str
) -> None:
    assert cmp(comparator, evidence, expected) is T


def test_c34_bytes_against_an_out_of_range_integer_is_unknown() -> None:
    assert cmp("equals", bytes([1, 2, 3]), "[999]") is U


@pytest.mark.parametrize("expected", ["[-1]", "[true]", '"\\u0001"', "1", "[[1]]"])
def test_bytes_against_anything_but_an_octet_array_is_unknown(expected: str) -> None:
    assert cmp("equals", bytes([1]), expected) is U


def test_bytes_inequality_that_fails() -> None:
    assert cmp("not_equals", bytes([1]), "[1]") is F


def test_bytes_with_absent_expected_is_unknown() -> None:
    assert cmp("equals", bytes([1]), ABSENT) is U


# --- C35-C38 ---------------------------------------------------------------------------


@pytest.mark.parametrize(("evidence", "expected"), [('""', '""'), ("[]", "[]"), ("{}", "{}")])
def test_c35_empty_values_equal_themselves(evidence: str, expected: str) -> None:
    assert cmp("equals", evidence, expected) is T


@pytest.mark.parametrize(
    ("comparator", "evidence", "expected", "result"),
    [
        ("in_set", "1.0", "[1]", F),
        ("deep_equals", "[1]", "[1.0]", F),
        ("deep_equals", '{"a":1,"b":2}', '{"b":2,"a":1}', T),
    ],
)
def test_c36_nested_numbers_are_type_strict_and_key_order_is_irrelevant(
    comparator: str, evidence: str, expected: str, result: TriState
) -> None:
    assert cmp(comparator, evidence, expected) is result


def test_equals_on_arrays_is_type_strict_inside() -> None:
    assert cmp("equals", "[1]", "[1.0]") is F


def test_c37_offset_date_times_order_by_instant() -> None:
    assert (
        cmp("greater_than_or_equal", '"2024-01-01T01:00:00+01:00"', '"2024-01-01T00:00:00Z"') is T
    )


def test_c37_equals_on_date_times_is_string_equality() -> None:
    assert cmp("equals", '"2024-01-01T01:00:00+01:00"', '"2024-01-01T00:00:00Z"') is F


def test_c38_date_only_against_date_time_is_unknown() -> None:
    assert cmp("greater_than", '"2024-01-02"', '"2024-01-01T00:00:00Z"') is U


def test_c38_ordering_bytes_is_unknown() -> None:
    assert cmp("less_than", bytes([1]), "[2]") is U


def test_c38_bytes_against_float_octets_is_unknown() -> None:
    assert cmp("equals", bytes([1]), "[1.0]") is U


def test_c38_equals_with_null_expected_is_unknown_even_for_null_evidence() -> None:
    # C35's last case (`expected = Some(null)` in Rust) cannot be written in
    # JSON: `"expected": null` is absent, so the comparison is Unknown.
    assert cmp("equals", "null", "null") is U
    assert cmp("not_equals", '"x"', "null") is U


# --- RFC 3339 date-times as the reference's `time` crate reads them ------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T00:00:00Z",
        "2024-01-01t00:00:00z",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00.123456789123+05:30",
        "2024-02-29T23:59:59-23:59",
        "1990-12-31T23:59:60Z",
        "1990-12-31T15:59:60-08:00",
        "0000-01-01T00:00:00Z",
    ],
)
def test_rfc3339_date_times_the_reference_accepts(text: str) -> None:
    assert parse_rfc3339_instant(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00Z",
        "24-01-01T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+0100",
        "1990-12-30T23:59:60Z",
        "1990-12-31T23:58:60Z",
        "2024-01-01\u00e900:00:00Z",
        "２０２４-01-01T00:00:00Z",
        "2024-01-01T00:00:00Z\n",
        " 2024-01-01T00:00:00Z",
    ],
)
def test_rfc3339_text_the_reference_rejects(text: str) -> None:
    assert parse_rfc3339_instant(text) is None


def test_fraction_digits_beyond_nanoseconds_are_ignored() -> None:
    assert parse_rfc3339_instant("2024-01-01T00:00:00.1234567899Z") == parse_rfc3339_instant(
        "2024-01-01T00:00:00.123456789Z"
    )


def test_leap_second_reads_as_the_last_nanosecond_before_midnight() -> None:
    leap = parse_rfc3339_instant("2016-12-31T23:59:60Z")
    assert leap == parse_rfc3339_instant("2016-12-31T23:59:59.999999999Z")


def test_instants_order_at_nanosecond_precision() -> None:
    assert (
        cmp("greater_than", '"2024-01-01T00:00:00.000000002Z"', '"2024-01-01T00:00:00.000000001Z"')
        is T
    )


def test_instant_is_seconds_since_the_unix_epoch() -> None:
    assert parse_rfc3339_instant("1970-01-02T00:00:01+00:00") == (86_401, 0)
    assert parse_rfc3339_instant("1969-12-31T23:00:00-01:00") == (0, 0)


# --- The lenient date-only parser ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("2024-01-05", (2024, 1, 5)),
        ("2024-1-5", (2024, 1, 5)),
        ("+2024-01-05", (2024, 1, 5)),
        ("2024-+1-05", (2024, 1, 5)),
        ("002024-001-05", (2024, 1, 5)),
        ("2024-02-29", (2024, 2, 29)),
        ("0-1-1", (0, 1, 1)),
    ],
)
def test_date_only_forms_the_reference_accepts(text: str, date: tuple[int, int, int]) -> None:
    assert parse_date_only(text) == date


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-01-32",
        "10000-01-01",
        "2024-01",
        "2024-01-05-01",
        "-2024-01-05",
        "2024-01-+",
        "2024- 1-05",
        "2024-1-5 ",
        "２０２４-01-05",
        "2024-256-01",
        "+-2024-01-01",
        "2024_1-01-01",
    ],
)
def test_date_only_text_the_reference_rejects(text: str) -> None:
    assert parse_date_only(text) is None


def test_lenient_dates_order_as_calendar_dates() -> None:
    assert cmp("less_than", '"2024-1-5"', '"+2024-01-06"') is T


def test_unparseable_date_strings_order_as_unknown() -> None:
    assert cmp("less_than", '"2024-02-30"', '"2024-03-01"') is U
