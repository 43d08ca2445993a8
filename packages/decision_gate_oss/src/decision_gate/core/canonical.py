"""Canonical JSON bytes and the SHA-256 digests every Decision Gate hash is built on.

The bytes must equal those of the reference (serde_jcs 0.1.0), or no spec,
runpack or tool-call hash would match. The rule (spec core.md §5.2):

* no whitespace; `null`, `true`, `false`; integers in exact decimal, even
  beyond 2**53 (only the i64/u64 range exists; other ints are rejected);
* floats as ECMAScript `Number.prototype.toString`: shortest round-trip
  digits, plain notation for 1e-6 <= |x| < 1e21, `-0.0` is `0`; NaN and
  infinities are rejected;
* strings in UTF-8 with only `"`, `\\`, `\\b \\f \\n \\r \\t` and `\\u00xx` (lower-case
  hex, other controls) escaped; `/`, DEL and all non-ASCII are literal;
* object members ordered by the bytes of each key's escaped form *including
  its quotes*, so a key followed by a space or `!` sorts before its prefix
  (`"a b"` < `"a"`) and escaped keys sort by their escape text;
* arrays (`list`, or `tuple`) in order; any other Python type is rejected.

Speed. Hashing sits on every trigger, so the common case runs in C: the
standard encoder (`sort_keys`, compact, `ensure_ascii=False`) already writes
strings and in-range integers exactly as above, and orders keys by code
point, which is the canonical order unless a key holds a character below
U+0023 (a control, space, `!` or `"`). Scans of its output that lead with a
literal character (fast even on megabytes) then decide: a key with such a
character sends the value to the pure-Python encoder `_encode_slow`, which is
correct for everything; the few number tokens Python writes differently
(integral floats `1.0`, exponent forms, out-of-range integers) are rewritten
in place, telling tokens from look-alikes inside strings by quote parity, or,
in the rare text that also holds an escaped quote, the slow encoder takes
over. Property tests pin fast path == slow path == the written rule.

Object keys must be `str`. The slow path rejects other keys; the fast path
trusts the `JsonValue` type here (as `json.dumps`, it writes an all-int-keyed
dict with its keys as strings), because checking every key at run time costs
more than the encoding itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Final, NoReturn

import attrs

from decision_gate.core.errors import ControlPlaneError, InvalidInput
from decision_gate.core.jsonvalue import I64_MIN, U64_MAX, JsonValue

SHA256: Final = "sha256"
HASH_ALGORITHMS: Final = frozenset({SHA256})


class CanonicalizationError(ControlPlaneError):
    """The value has no canonical JSON form (non-finite float, non-JSON type, ...)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"failed to canonicalize json: {detail}")


class SizeLimitExceeded(ControlPlaneError):
    """The canonical form is longer than the caller allows."""

    def __init__(self, limit: int, actual: int) -> None:
        self.limit = limit
        self.actual = actual
        super().__init__(f"canonical json exceeds size limit ({actual} > {limit})")


def _known_algorithm(_instance: object, _attribute: object, algorithm: str) -> None:
    if algorithm not in HASH_ALGORITHMS:
        raise InvalidInput(f"unsupported hash algorithm: {algorithm!r}", "algorithm")


@attrs.frozen(kw_only=True)
class HashDigest:
    """A content hash as the reference writes it: `{"algorithm": "sha256", "value": hex}`.

    `value` is lowercase hex when computed here; a parsed digest keeps its
    text as given (the reference does not check it), so comparison is exact.
    """

    algorithm: str = attrs.field(default=SHA256, validator=_known_algorithm)
    value: str

    @classmethod
    def from_digest_bytes(cls, digest: bytes, algorithm: str = SHA256) -> HashDigest:
        """A digest from the raw output bytes of the hash function."""
        return cls(algorithm=algorithm, value=digest.hex())

    def to_json(self) -> dict[str, JsonValue]:
        return {"algorithm": self.algorithm, "value": self.value}

    @classmethod
    def from_json(cls, obj: JsonValue) -> HashDigest:
        if not isinstance(obj, dict):
            raise InvalidInput("hash digest must be an object")
        algorithm = obj.get("algorithm")
        value = obj.get("value")
        if not isinstance(algorithm, str):
            raise InvalidInput("missing or non-string field", "algorithm")
        if not isinstance(value, str):
            raise InvalidInput("missing or non-string field", "value")
        return cls(algorithm=algorithm, value=value)


# --- the pure-Python encoder (correct for every input) ---------------------

_escape_string: Callable[[str], str] = json.encoder.encode_basestring


def _fail_unsupported(value: object) -> NoReturn:
    raise CanonicalizationError(f"unsupported type {type(value).__name__}")


def format_float(number: float) -> str:
    """ECMAScript `Number.prototype.toString` of a finite float."""
    if number == 0:
        return "0"
    if not math.isfinite(number):
        raise CanonicalizationError("non-finite float")
    sign = "-" if number < 0 else ""
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    padded = whole + fraction
    digits = padded.lstrip("0")
    # The decimal point sits `point` digits into `digits`: value = 0.digits * 10**point.
    point = len(whole) + (int(exponent) if exponent else 0) - (len(padded) - len(digits))
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    power = point - 1
    exponent_text = f"e{'+' if power >= 0 else '-'}{abs(power)}"
    if count == 1:
        return sign + digits + exponent_text
    return f"{sign}{digits[0]}.{digits[1:]}{exponent_text}"


def _format_int(number: int) -> str:
    if not I64_MIN <= number <= U64_MAX:
        raise CanonicalizationError(f"integer out of the i64/u64 range: {number}")
    return int.__repr__(number)


def _member_order(quoted_key: str) -> bytes:
    try:
        return quoted_key.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string is not valid Unicode (lone surrogate)") from None


def _write(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_escape_string(value))
    elif isinstance(value, int):
        out.append(_format_int(value))
    elif isinstance(value, float):
        out.append(format_float(float(value)))
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        members: list[tuple[bytes, str, object]] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(
                    f"object key must be a string, not {type(key).__name__}"
                )
            quoted_key = _escape_string(key)
            members.append((_member_order(quoted_key), quoted_key, item))
        members.sort(key=lambda member: member[0])
        out.append("{")
        for index, (_, quoted_key, item) in enumerate(members):
            if index:
                out.append(",")
            out.append(quoted_key)
            out.append(":")
            _write(item, out)
        out.append("}")
    else:
        _fail_unsupported(value)


def _encode_slow(value: object) -> str:
    out: list[str] = []
    try:
        _write(value, out)
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply or circular") from None
    return "".join(out)


# --- the fast path: the C encoder, checked and patched ---------------------

_C_ENCODER: Final = json.JSONEncoder(
    skipkeys=False,
    ensure_ascii=False,
    check_circular=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    default=_fail_unsupported,
)

# Keys. Code-point order is the canonical order unless a key holds a character
# below U+0023: a space, `!`, or an escape other than `\\` (escapes stand for
# controls and `"`; an escaped backslash sorts like the raw one). Each pattern
# starts at one such character and matches iff only harmless characters follow
# up to the key's closing `":`, which holds from the last hazardous character of
# any hazardous key; an attempt stops at the next hazardous character or quote,
# so scans are linear. A literal first character keeps the scan fast.
_HARMLESS_TO_KEY_END = r'[^"\\ !]*+(?:\\\\[^"\\ !]*+)*+":'
_KEY_OUT_OF_CODE_POINT_ORDER: Final = (
    re.compile(" " + _HARMLESS_TO_KEY_END),
    re.compile("!" + _HARMLESS_TO_KEY_END),
    re.compile(r"\\[^\\]" + _HARMLESS_TO_KEY_END),
)

# Numbers. Python's float `repr` differs from the rule only for integral floats
# (`1.0`) and exponent forms (`1e+16`, `1.5e-07`); integers differ only when
# out of range (19+ digits). The detectors lead with a literal, which keeps a
# scan of a large document cheap, and may hit inside strings.
_INTEGRAL_FLOAT: Final = re.compile(r"\.0(?=[,\]}])")
_MINUS_EXPONENT_OR_LONG_NEGATIVE: Final = re.compile(r"-(?:(?<=\de-)\d|\d{19})")
_PLUS_EXPONENT: Final = re.compile(r"\+(?<=\de\+)\d")
# Long positive integers are found in a digit-blind copy of the bytes, where
# plain substring search is fast: a delimiter followed by 20 digits.
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_POSITIVE_SHAPES: Final = tuple(lead + b"0" * 20 for lead in (b":", b",", b"["))
# A token to rewrite, with the `:`, `,` or `[` that precedes every number token.
_TOKEN_TO_REWRITE: Final = re.compile(
    r"[:,\[](-?\d+(?:\.0|(?:\.\d+)?e[-+]\d+)|-?\d{19,})(?=[,\]}])"
)
# No float token of Python's repr is longer (`-1.7976931348623157e+308` has 24).
_FLOAT_TOKEN_REACH: Final = 32


def _detector_hits(text: str) -> list[int]:
    hits = [match.start() for match in _INTEGRAL_FLOAT.finditer(text)]
    hits += [match.start() for match in _MINUS_EXPONENT_OR_LONG_NEGATIVE.finditer(text)]
    if "+" in text:
        hits += [match.start() for match in _PLUS_EXPONENT.finditer(text)]
    return hits


def _has_long_positive(data: bytes) -> bool:
    blind = data.translate(_DIGITS_AS_ZERO)
    return any(shape in blind for shape in _LONG_POSITIVE_SHAPES)


def _token_spans(text: str, hits: list[int]) -> list[tuple[int, int]]:
    """The spans of the tokens to rewrite that contain a hit (or start at it)."""
    spans: set[tuple[int, int]] = set()
    for hit in hits:
        for match in _TOKEN_TO_REWRITE.finditer(text, max(0, hit - _FLOAT_TOKEN_REACH)):
            start, end = match.span(1)
            if start > hit:
                break
            if hit < end:
                spans.add((start, end))
                break
    return sorted(spans)


def _rewrite_numbers(text: str, spans: list[tuple[int, int]]) -> str:
    """Rewrite the number literals at `spans` that lie outside strings.

    Requires `text` to hold no `\\"`: then every `"` delimits a string, and a
    literal is outside all strings iff an even number of quotes precedes it.
    """
    pieces: list[str] = []
    copied_to = counted_to = quotes = 0
    for start, end in spans:
        quotes += text.count('"', counted_to, start)
        counted_to = start
        if quotes % 2:
            continue
        literal = text[start:end]
        if literal.endswith(".0"):
            # repr writes integral floats plainly only below 1e16, where the rule
            # writes the same digits without the fraction.
            canonical = "0" if literal == "-0.0" else literal[:-2]
        elif "." in literal or "e" in literal:
            canonical = format_float(float(literal))
        else:
            canonical = _format_int(int(literal))
        if canonical != literal:
            pieces += (text[copied_to:start], canonical)
            copied_to = end
    pieces.append(text[copied_to:])
    return "".join(pieces)


def _to_utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string is not valid Unicode (lone surrogate)") from None


def canonical_json_bytes(value: JsonValue) -> bytes:
    """The canonical JSON bytes of `value` (module docstring; spec core.md §5.2)."""
    if not isinstance(value, dict | list | tuple):
        return _to_utf8(_encode_slow(value))
    try:
        text = _C_ENCODER.encode(value)
    except CanonicalizationError:
        raise
    except (ValueError, TypeError, RecursionError):
        # NaN, mixed key types, circular or deep values: the slow encoder
        # names the precise reason.
        return _to_utf8(_encode_slow(value))
    data = _to_utf8(text)
    if ("\\" in text or " " in text or "!" in text) and any(
        pattern.search(text) for pattern in _KEY_OUT_OF_CODE_POINT_ORDER
    ):
        return _to_utf8(_encode_slow(value))
    hits = _detector_hits(text)
    long_positive = _has_long_positive(data)
    if not hits and not long_positive:
        return data
    if "\\" in text and '\\"' in text:
        return _to_utf8(_encode_slow(value))
    if long_positive:
        spans = [match.span(1) for match in _TOKEN_TO_REWRITE.finditer(text)]
    else:
        spans = _token_spans(text, hits)
    return _to_utf8(_rewrite_numbers(text, spans))


def canonical_json_bytes_with_limit(value: JsonValue, max_bytes: int) -> bytes:
    """Canonical bytes, or `SizeLimitExceeded` iff they are longer than `max_bytes`.

    `actual` is the full canonical length (the reference reports the length
    written when the limit broke, which is also > `max_bytes`).
    """
    if max_bytes < 0:
        raise InvalidInput(f"size limit must not be negative: {max_bytes}", "max_bytes")
    data = canonical_json_bytes(value)
    if len(data) > max_bytes:
        raise SizeLimitExceeded(limit=max_bytes, actual=len(data))
    return data


def _encode_slow_bytes(value: JsonValue) -> bytes:
    """The slow encoder alone; tests pin it against the fast path."""
    return _to_utf8(_encode_slow(value))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_bytes(data: bytes) -> HashDigest:
    """SHA-256 of raw bytes, no canonicalisation (bytes evidence and payloads)."""
    return HashDigest.from_digest_bytes(hashlib.sha256(data).digest())


def hash_canonical(value: JsonValue) -> HashDigest:
    return hash_bytes(canonical_json_bytes(value))


def hash_canonical_with_limit(value: JsonValue, max_bytes: int) -> HashDigest:
    return hash_bytes(canonical_json_bytes_with_limit(value, max_bytes))
