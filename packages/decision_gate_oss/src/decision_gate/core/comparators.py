"""Comparators: how one evidence value and an expected value become a TriState.

The semantics are the reference's exactly (spec §3): Unknown whenever the
comparison is not meaningful (missing evidence, missing expected value, a type
pairing the comparator does not define), so a gate fails closed instead of
guessing. Numbers compare as exact decimals at the top level of `equals`,
`not_equals` and the ordering comparators, and type-strictly everywhere else
(`1 == 1.0` but `[1] != [1.0]`). Strings order as instants when both are
RFC 3339 date-times (as the reference's `time` 0.3.46 parses them, including
its any-single-ASCII-byte date/time separator), else as calendar dates when
both pass the reference's lenient date-only parser.

Arrays may be lists or tuples, as everywhere `jsonvalue` reads values.
No clock is read and no `datetime` is used: instants are computed from the
parsed fields, which also keeps nanosecond precision.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable

from decision_gate.core.evidence import EvidenceValue, JsonEvidence
from decision_gate.core.jsonvalue import JsonValue, decimal_of, is_number, strict_equal
from decision_gate.core.tristate import TriState

_TRUE = TriState.TRUE
_FALSE = TriState.FALSE
_UNKNOWN = TriState.UNKNOWN


class Comparator(enum.Enum):
    """Wire names are snake_case; declaration order is the reference's (its BTreeMap order)."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    GREATER_THAN = "greater_than"
    GREATER_THAN_OR_EQUAL = "greater_than_or_equal"
    LESS_THAN = "less_than"
    LESS_THAN_OR_EQUAL = "less_than_or_equal"
    LEX_GREATER_THAN = "lex_greater_than"
    LEX_GREATER_THAN_OR_EQUAL = "lex_greater_than_or_equal"
    LEX_LESS_THAN = "lex_less_than"
    LEX_LESS_THAN_OR_EQUAL = "lex_less_than_or_equal"
    CONTAINS = "contains"
    IN_SET = "in_set"
    DEEP_EQUALS = "deep_equals"
    DEEP_NOT_EQUALS = "deep_not_equals"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


def evaluate_comparator(
    comparator: Comparator, expected: JsonValue | None, value: EvidenceValue | None
) -> TriState:
    """Compare evidence `value` ("evidence OP expected") against `expected`.

    `expected=None` means no expected value (a JSON null `expected` parses as
    absent); `value=None` means no evidence, unlike `JsonEvidence(None)`, which
    is evidence whose value is JSON null.
    """
    if value is None:
        if comparator is Comparator.EXISTS:
            return _FALSE
        return _TRUE if comparator is Comparator.NOT_EXISTS else _UNKNOWN
    if comparator is Comparator.EXISTS:
        return _TRUE
    if comparator is Comparator.NOT_EXISTS:
        return _FALSE
    if expected is None:
        return _UNKNOWN
    if isinstance(value, JsonEvidence):
        return _JSON_COMPARATORS[id(comparator)](value.value, expected)
    return _compare_bytes(comparator, value.value, expected)


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def _numeric_order(left: JsonValue, right: JsonValue) -> int | None:
    """-1/0/1 for two JSON numbers by exact decimal value, else None (Unknown).

    Callers have checked `is_number` on both. Same-kind pairs compare
    natively: two ints are exact, and two finite floats order exactly as their
    shortest round-trip decimals do (distinct floats have disjoint rounding
    intervals). Mixed pairs go through decimals, because the reference
    compares a float by its shortest text, not by its binary value. A
    non-finite float has no decimal, hence None.
    """
    if not (isinstance(left, int | float) and isinstance(right, int | float)):
        return None
    if (isinstance(left, float) and not math.isfinite(left)) or (
        isinstance(right, float) and not math.isfinite(right)
    ):
        return None
    if type(left) is type(right):
        return (left > right) - (left < right)
    left_decimal = decimal_of(left)
    right_decimal = decimal_of(right)
    return (left_decimal > right_decimal) - (left_decimal < right_decimal)


def _equals(left: JsonValue, right: JsonValue) -> TriState:
    if type(left) is int and type(right) is int:
        return _TRUE if left == right else _FALSE
    if is_number(left) and is_number(right):
        order = _numeric_order(left, right)
        if order is None:
            return _UNKNOWN
        return _TRUE if order == 0 else _FALSE
    return _TRUE if strict_equal(left, right) else _FALSE


def _not_equals(left: JsonValue, right: JsonValue) -> TriState:
    status = _equals(left, right)
    if status is _UNKNOWN:
        return _UNKNOWN
    return _FALSE if status is _TRUE else _TRUE


# ---------------------------------------------------------------------------
# Ordering: numbers, then RFC 3339 instants, then calendar dates
# ---------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[\x00-\x7f]"
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_RUST_UNSIGNED = re.compile(r"\+?([0-9]+)")
_NANOS_PER_SECOND = 1_000_000_000
_SECONDS_PER_DAY = 86_400
_MAX_YEAR = 9999


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap_year(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def parse_rfc3339_instant(text: str) -> tuple[int, int] | None:
    """`(unix seconds, nanoseconds)` of an RFC 3339 date-time, or None.

    Mirrors `OffsetDateTime::parse(text, &Rfc3339)` of `time` 0.3.46: four-digit
    year; any single ASCII character between date and time; fraction digits
    beyond nine ignored; offset `Z`/`z` or `±HH:MM` with hour ≤ 23 and
    minute ≤ 59; second 60 accepted only where a leap second can fall (the last
    second of a month in UTC) and read as 23:59:59.999999999.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction, sign, offset_hour_text, offset_minute_text = match.group(7, 8, 9, 10)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    offset_seconds = 0
    if sign is not None:
        offset_hour, offset_minute = int(offset_hour_text), int(offset_minute_text)
        if offset_hour > 23 or offset_minute > 59:
            return None
        offset_seconds = (offset_hour * 3600 + offset_minute * 60) * (-1 if sign == "-" else 1)
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0
    leap_second = second == 60
    if leap_second:
        second, nanos = 59, _NANOS_PER_SECOND - 1
    seconds = (
        _days_from_civil(year, month, day) * _SECONDS_PER_DAY
        + hour * 3600
        + minute * 60
        + second
        - offset_seconds
    )
    if leap_second:
        utc_day, utc_second_of_day = divmod(seconds, _SECONDS_PER_DAY)
        utc_year, utc_month, utc_date = _civil_from_days(utc_day)
        if utc_second_of_day != _SECONDS_PER_DAY - 1 or utc_date != _days_in_month(
            utc_year, utc_month
        ):
            return None
    return seconds, nanos


def _rust_unsigned(text: str, limit: int) -> int | None:
    """Rust's `str::parse` for an unsigned value ≤ `limit`: optional '+', ASCII digits only."""
    match = _RUST_UNSIGNED.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1).lstrip("0")
    if len(digits) > len(str(limit)):
        return None
    value = int(digits) if digits else 0
    return value if value <= limit else None


def parse_date_only(text: str) -> tuple[int, int, int] | None:
    """`(year, month, day)` by the reference's lenient date-only parser, or None.

    Split on '-' into exactly three parts, parse them as Rust integers (year
    i32, month and day u8: an optional '+' and any number of leading zeros are
    fine), then require a valid calendar date within the `time` crate's years.
    So `2024-1-5` and `+2024-01-05` are dates; `2024-02-30` is not.
    """
    parts = text.split("-")
    if len(parts) != 3:
        return None
    year = _rust_unsigned(parts[0], 2**31 - 1)
    month = _rust_unsigned(parts[1], 255)
    day = _rust_unsigned(parts[2], 255)
    if year is None or month is None or day is None:
        return None
    if year > _MAX_YEAR or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    return year, month, day


def _temporal_order(left: str, right: str) -> int | None:
    left_instant = parse_rfc3339_instant(left)
    right_instant = parse_rfc3339_instant(right)
    if left_instant is not None and right_instant is not None:
        return (left_instant > right_instant) - (left_instant < right_instant)
    left_date = parse_date_only(left)
    right_date = parse_date_only(right)
    if left_date is None or right_date is None:
        return None
    return (left_date > right_date) - (left_date < right_date)


def _order(left: JsonValue, right: JsonValue) -> int | None:
    if type(left) is int and type(right) is int:
        return (left > right) - (left < right)
    if is_number(left) and is_number(right):
        return _numeric_order(left, right)
    if isinstance(left, str) and isinstance(right, str):
        return _temporal_order(left, right)
    return None


def _ordering(holds: Callable[[int], bool]) -> Callable[[JsonValue, JsonValue], TriState]:
    def compare(left: JsonValue, right: JsonValue) -> TriState:
        order = _order(left, right)
        if order is None:
            return _UNKNOWN
        return _TRUE if holds(order) else _FALSE

    return compare


def _lexicographic(holds: Callable[[int], bool]) -> Callable[[JsonValue, JsonValue], TriState]:
    """Code-point order, which for Python strings is the reference's UTF-8 byte order."""

    def compare(left: JsonValue, right: JsonValue) -> TriState:
        if not (isinstance(left, str) and isinstance(right, str)):
            return _UNKNOWN
        return _TRUE if holds((left > right) - (left < right)) else _FALSE

    return compare


# ---------------------------------------------------------------------------
# Membership and structure
# ---------------------------------------------------------------------------


def _contains(left: JsonValue, right: JsonValue) -> TriState:
    if isinstance(left, str) and isinstance(right, str):
        return _TRUE if right in left else _FALSE
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        found_all = all(any(strict_equal(item, have) for have in left) for item in right)
        return _TRUE if found_all else _FALSE
    return _UNKNOWN


def _in_set(left: JsonValue, right: JsonValue) -> TriState:
    if not isinstance(right, list | tuple) or isinstance(left, list | tuple | dict):
        return _UNKNOWN
    if left is None or type(left) is str:
        # `==` between a str (or None) and any other JSON value is already
        # type-strict, so the C-level membership test is exact here.
        return _TRUE if left in right else _FALSE
    return _TRUE if any(strict_equal(left, member) for member in right) else _FALSE


def _deep_equals(left: JsonValue, right: JsonValue) -> TriState:
    if (isinstance(left, list | tuple) and isinstance(right, list | tuple)) or (
        isinstance(left, dict) and isinstance(right, dict)
    ):
        return _TRUE if strict_equal(left, right) else _FALSE
    return _UNKNOWN


def _deep_not_equals(left: JsonValue, right: JsonValue) -> TriState:
    status = _deep_equals(left, right)
    if status is _UNKNOWN:
        return _UNKNOWN
    return _FALSE if status is _TRUE else _TRUE


def _presence_is_decided_earlier(left: JsonValue, right: JsonValue) -> TriState:
    return _UNKNOWN


_JSON_COMPARATOR_BY_MEMBER: dict[Comparator, Callable[[JsonValue, JsonValue], TriState]] = {
    Comparator.EQUALS: _equals,
    Comparator.NOT_EQUALS: _not_equals,
    Comparator.GREATER_THAN: _ordering(lambda order: order > 0),
    Comparator.GREATER_THAN_OR_EQUAL: _ordering(lambda order: order >= 0),
    Comparator.LESS_THAN: _ordering(lambda order: order < 0),
    Comparator.LESS_THAN_OR_EQUAL: _ordering(lambda order: order <= 0),
    Comparator.LEX_GREATER_THAN: _lexicographic(lambda order: order > 0),
    Comparator.LEX_GREATER_THAN_OR_EQUAL: _lexicographic(lambda order: order >= 0),
    Comparator.LEX_LESS_THAN: _lexicographic(lambda order: order < 0),
    Comparator.LEX_LESS_THAN_OR_EQUAL: _lexicographic(lambda order: order <= 0),
    Comparator.CONTAINS: _contains,
    Comparator.IN_SET: _in_set,
    Comparator.DEEP_EQUALS: _deep_equals,
    Comparator.DEEP_NOT_EQUALS: _deep_not_equals,
    Comparator.EXISTS: _presence_is_decided_earlier,
    Comparator.NOT_EXISTS: _presence_is_decided_earlier,
}
# Keyed by member identity for the hot path: hashing an Enum member runs
# Python code (Enum.__hash__), an id does not. Members are singletons.
_JSON_COMPARATORS = {id(member): compare for member, compare in _JSON_COMPARATOR_BY_MEMBER.items()}


# ---------------------------------------------------------------------------
# Bytes
# ---------------------------------------------------------------------------


def _compare_bytes(comparator: Comparator, value: bytes, expected: JsonValue) -> TriState:
    """Only equals/not_equals are defined, against an array of JSON integers 0..255."""
    if not isinstance(expected, list | tuple):
        return _UNKNOWN
    octets: list[int] = []
    for item in expected:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 255:
            return _UNKNOWN
        octets.append(item)
    same = value == bytes(octets)
    if comparator is Comparator.EQUALS:
        return _TRUE if same else _FALSE
    if comparator is Comparator.NOT_EQUALS:
        return _FALSE if same else _TRUE
    return _UNKNOWN
