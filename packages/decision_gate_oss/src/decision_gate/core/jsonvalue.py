"""JSON values with the number model of the reference implementation.

A decoded JSON value is plain Python data (`JsonValue`). What Python's own
`json` and `==` get wrong for Decision Gate, and this module gets right:

* Number kinds. The reference (serde_json) keeps three kinds of number:
  PosInt (u64), NegInt (i64) and Float (f64). Here an `int` >= 0 is a PosInt,
  an `int` < 0 a NegInt, and a `float` a Float; `bool` is never a number. So
  `loads` turns integer literals outside [-2**63, 2**64 - 1] and the literal
  `-0` into floats, exactly as serde_json does, and rejects NaN/Infinity and
  literals too large for a double.
* Equality. Python's `==` says `True == 1` and `[1] == [1.0]`; the reference
  does not. `strict_equal` is the reference's structural equality, and
  `decimal_of` the exact value used when two numbers are compared at the top
  level of a comparator.

Arrays are `list`; a `tuple` is accepted wherever a value is read (equality,
canonical JSON) and means the same array. Object keys are `str`.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Final

from decision_gate.core.errors import InvalidInput

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

U64_MAX: Final = 2**64 - 1
I64_MIN: Final = -(2**63)

# Integer literals that need the slow `parse_int` hook: `-0` (a float in the
# reference) and any literal of 19+ digits (may fall outside i64/u64). Matches
# inside strings only cost the hook, never correctness.
_SPECIAL_INT_LITERAL = re.compile(r"-0(?![.\deE])|\d{19}")
# Surrogate escapes; only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ECHO_LIMIT = 40


class JsonDecodeError(InvalidInput):
    """Text that is not a JSON value the reference would accept."""


class _RejectedLiteral(ValueError):
    """Raised from inside the decoder's hooks; `loads` turns it into a JsonDecodeError."""


def _echo(literal: str) -> str:
    if len(literal) <= _ECHO_LIMIT:
        return literal
    return f"{literal[:_ECHO_LIMIT]}... ({len(literal)} characters)"


def _parse_float(literal: str) -> float:
    number = float(literal)
    if math.isinf(number):
        raise _RejectedLiteral(f"number out of range: {_echo(literal)}")
    return number


def _parse_int(literal: str) -> int | float:
    if literal == "-0":
        return -0.0
    # Longer than any u64/i64: skip int() (CPython caps int() at 4300 digits).
    if len(literal.lstrip("-")) > 20:
        return _parse_float(literal)
    number = int(literal)
    if I64_MIN <= number <= U64_MAX:
        return number
    return _parse_float(literal)


def _reject_constant(literal: str) -> None:
    raise _RejectedLiteral(f"{literal} is not a JSON number")


def _contains_lone_surrogate(value: JsonValue) -> bool:
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_contains_lone_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(
            _contains_lone_surrogate(key) or _contains_lone_surrogate(item)
            for key, item in value.items()
        )
    return False


def loads(text: str | bytes) -> JsonValue:
    """Decode one JSON value the way the reference does (see the module docstring).

    Bytes must be UTF-8. Duplicate keys inside an object: the last one wins.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonDecodeError(f"invalid JSON: not UTF-8 (byte {error.start})") from None
    parse_int = _parse_int if _SPECIAL_INT_LITERAL.search(text) else None
    try:
        value: JsonValue = json.loads(
            text,
            parse_float=_parse_float,
            parse_int=parse_int,
            parse_constant=_reject_constant,
        )
        if _SURROGATE_ESCAPE.search(text) and _contains_lone_surrogate(value):
            raise JsonDecodeError("invalid JSON: unpaired surrogate in a \\u escape")
    except json.JSONDecodeError as error:
        raise JsonDecodeError(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except _RejectedLiteral as error:
        raise JsonDecodeError(f"invalid JSON: {error}") from None
    except RecursionError:
        raise JsonDecodeError("invalid JSON: nested too deeply") from None
    return value


def dumps_compact(value: JsonValue) -> str:
    """Compact JSON text that `loads` reads back as an identical value.

    Unlike canonical JSON it keeps object member order and the int/float kind
    (`1.0` stays `1.0`), so it is for storage and transport, never for hashing.
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def is_number(value: object) -> bool:
    """True for a JSON number: an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def decimal_of(number: int | float) -> Decimal:
    """The exact decimal value the reference compares top-level numbers by.

    Floats go through their shortest round-trip text (`0.1` is exactly 0.1,
    not the binary fraction), as the reference formats then re-parses them.
    """
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InvalidInput(f"not a JSON number: {type(number).__name__}")
    if isinstance(number, int):
        return Decimal(number)
    if not math.isfinite(number):
        raise InvalidInput(f"not a finite JSON number: {number!r}")
    return Decimal(repr(number))


def strict_equal(left: JsonValue, right: JsonValue) -> bool:
    """The reference's JSON equality: same type at every level.

    `True` is not `1`, `1` is not `1.0` (a float equals a float by IEEE `==`),
    objects compare as maps, arrays element by element in order.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, int):
        return isinstance(right, int) and left == right
    if isinstance(left, float):
        return isinstance(right, float) and left == right
    if left is None:
        return right is None
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if isinstance(left, list | tuple):
        return (
            isinstance(right, list | tuple)
            and len(left) == len(right)
            and all(strict_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(strict_equal(item, right[key]) for key, item in left.items())
        )
    return False


def json_type_name(value: object) -> str:
    """The JSON type of a decoded value, for error messages ("boolean", not "bool")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
