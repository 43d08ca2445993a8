"""Canonical JSON and hashing give the reference's bytes and digests (spec core.md §5, §8.4).

The runpacks under ../shared/contract were written by the reference, so each
artifact file is canonical JSON: decoding and re-encoding must give the same
bytes, and their SHA-256 must be the manifest's.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_gate.core.canonical import (
    CanonicalizationError,
    HashDigest,
    SizeLimitExceeded,
    _encode_slow_bytes,
    canonical_json_bytes,
    canonical_json_bytes_with_limit,
    format_float,
    hash_bytes,
    hash_canonical,
    hash_canonical_with_limit,
    sha256_hex,
)
from decision_gate.core.errors import ControlPlaneError, InvalidInput
from decision_gate.core.jsonvalue import I64_MIN, U64_MAX, JsonValue, loads

CONTRACT = Path(__file__).resolve().parents[3].parent / "shared" / "contract"
RUNPACKS = CONTRACT / "runpacks"
RUNPACK_ROOTS = sorted(manifest.parent for manifest in RUNPACKS.glob("**/manifest.json"))
RUNPACK_FILES = sorted(RUNPACKS.glob("**/*.json"))


def _runpack_id(path: Path) -> str:
    return str(path.relative_to(RUNPACKS))


# --- §8.4 test vectors ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
        ([], "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"),
        (1, "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"),
        (True, "b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b"),
        (False, "fcbcf165908dd18a9e49f7ff27810176db8e9f63b4352213741664245224f8aa"),
        (None, "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"),
    ],
)
def test_h1_canonical_hash_of_basic_values(value: JsonValue, expected: str) -> None:
    assert hash_canonical(value) == HashDigest(algorithm="sha256", value=expected)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"test", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_h2_hash_bytes_is_sha256_of_the_raw_bytes(data: bytes, expected: str) -> None:
    assert hash_bytes(data).value == expected
    assert sha256_hex(data) == expected


def test_h3_member_order_of_the_input_does_not_change_the_hash() -> None:
    assert hash_canonical({"b": 2, "a": 1}) == hash_canonical({"a": 1, "b": 2})


def test_h3_integral_float_hashes_like_the_integer() -> None:
    assert hash_canonical(1.0) == hash_canonical(1)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        {"nested": {"deeper": math.nan}},
        [1, 2, [math.inf]],
        {"maybe": None, "value": -math.inf},
    ],
    ids=["nan", "inf", "-inf", "nested", "in-list", "beside-null"],
)
def test_h4_non_finite_floats_cannot_be_hashed(value: JsonValue) -> None:
    with pytest.raises(CanonicalizationError, match="non-finite float"):
        hash_canonical(value)


def test_h5_limit_equal_to_the_canonical_length_passes() -> None:
    value: JsonValue = {"data": "payload", "n": [1, 2, 3]}
    length = len(canonical_json_bytes(value))
    assert canonical_json_bytes_with_limit(value, length) == canonical_json_bytes(value)


def test_h5_limit_one_below_the_canonical_length_fails() -> None:
    value: JsonValue = {"data": "payload", "n": [1, 2, 3]}
    length = len(canonical_json_bytes(value))
    with pytest.raises(SizeLimitExceeded) as raised:
        canonical_json_bytes_with_limit(value, length - 1)
    assert (raised.value.limit, raised.value.actual) == (length - 1, length)


def test_h5_limit_zero_rejects_even_the_smallest_value() -> None:
    with pytest.raises(SizeLimitExceeded) as raised:
        canonical_json_bytes_with_limit(None, 0)
    assert raised.value.limit == 0


def test_h5_oversized_payload_reports_its_size_in_the_message() -> None:
    with pytest.raises(SizeLimitExceeded) as raised:
        hash_canonical_with_limit({"data": "x" * 100}, 10)
    assert raised.value.actual > 10
    assert str(raised.value) == f"canonical json exceeds size limit ({raised.value.actual} > 10)"


def test_size_limit_error_is_a_control_plane_error() -> None:
    with pytest.raises(ControlPlaneError):
        hash_canonical_with_limit([1], 1)


def test_negative_size_limit_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="must not be negative"):
        canonical_json_bytes_with_limit({}, -1)


def test_h6_digest_from_raw_bytes_is_lowercase_hex() -> None:
    assert HashDigest.from_digest_bytes(bytes([0xAB, 0xCD, 0xEF, 0x12])).value == "abcdef12"


def test_h7_json_packet_payload_content_hash() -> None:
    payload: dict[str, JsonValue] = {"kind": "json", "value": {"hello": "world"}}
    assert hash_canonical(payload["value"]).value == (
        "93a23971a914e5eacbf0a8d25154cda309c3c1c72fbb9914d47c60f3cb681588"
    )


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1.0, "1"),
        (100.0, "100"),
        (0.1, "0.1"),
        (-1.5, "-1.5"),
        (123456789.125, "123456789.125"),
        (1.5e-7, "1.5e-7"),
        (-2.5e25, "-2.5e+25"),
        (0.30000000000000004, "0.30000000000000004"),
        (9007199254740993.0, "9007199254740992"),
    ],
)
def test_h8_floats_are_written_as_ecmascript_number_to_string(number: float, text: str) -> None:
    assert canonical_json_bytes(number) == text.encode()
    assert canonical_json_bytes([number]) == f"[{text}]".encode()


@pytest.mark.parametrize(
    ("seed", "expected_order", "prefixes"),
    [
        (
            7,
            ["alpha", "gamma", "beta"],
            {"alpha": "13c68b5a", "beta": "6ef10477", "gamma": "4e07eeda"},
        ),
        (
            11,
            ["gamma", "beta", "alpha"],
            {"gamma": "4207c5dd", "beta": "ba5f4a61", "alpha": "c5c289ca"},
        ),
    ],
)
def test_h9_condition_shuffle_keys_are_raw_sha256_of_seed_and_id(
    seed: int, expected_order: list[str], prefixes: dict[str, str]
) -> None:
    keys = {name: sha256_hex(f"{seed}:{name}".encode()) for name in prefixes}
    assert {name: key[:8] for name, key in keys.items()} == prefixes
    assert sorted(keys, key=keys.__getitem__) == expected_order


def test_h10_example_scenario_spec_hash() -> None:
    spec = loads((CONTRACT / "examples" / "scenario.json").read_bytes())
    assert hash_canonical(spec).value == (
        "409337f68069806e3a4b628dde12907a967abb4b5b500fd0aabb4d05c5c2dd33"
    )


def test_golden_runpack_spec_hash() -> None:
    spec = loads(
        (
            RUNPACKS / "golden" / "golden_time_after_pass" / "artifacts" / "scenario_spec.json"
        ).read_bytes()
    )
    assert hash_canonical(spec).value == (
        "5e2f158f4b4192a29986215a340c3f50f64166da28b210d23b4892a417f694e8"
    )


# --- the reference's own artifacts ------------------------------------------


def test_contract_holds_runpacks() -> None:
    assert len(RUNPACK_ROOTS) == 3
    assert len(RUNPACK_FILES) == 27


@pytest.mark.parametrize("path", RUNPACK_FILES, ids=_runpack_id)
def test_reference_artifact_reencodes_to_identical_bytes(path: Path) -> None:
    data = path.read_bytes()
    assert canonical_json_bytes(loads(data)) == data


@pytest.mark.parametrize("root", RUNPACK_ROOTS, ids=_runpack_id)
def test_reference_artifact_hashes_match_the_manifest(root: Path) -> None:
    manifest: Any = loads((root / "manifest.json").read_bytes())
    entries = manifest["integrity"]["file_hashes"]
    assert len(entries) == 8
    for entry in entries:
        digest = hash_bytes((root / entry["path"]).read_bytes())
        assert digest == HashDigest.from_json(entry["hash"]), entry["path"]


@pytest.mark.parametrize("root", RUNPACK_ROOTS, ids=_runpack_id)
def test_reference_root_hash_is_the_hash_of_the_file_hash_list(root: Path) -> None:
    manifest: Any = loads((root / "manifest.json").read_bytes())
    integrity = manifest["integrity"]
    assert hash_canonical(integrity["file_hashes"]) == HashDigest.from_json(integrity["root_hash"])


# --- string and key rules ---------------------------------------------------


def test_control_characters_use_short_escapes_or_lowercase_unicode_escapes() -> None:
    text = "\b\f\n\r\t\x00\x1f\x0b"
    assert canonical_json_bytes(text) == b'"\\b\\f\\n\\r\\t\\u0000\\u001f\\u000b"'


def test_quote_and_backslash_are_escaped() -> None:
    assert canonical_json_bytes('say "hi" \\ bye') == b'"say \\"hi\\" \\\\ bye"'


def test_slash_del_and_non_ascii_are_written_literally_in_utf8() -> None:
    text = "a/b\x7f é \u2028 😀"
    assert canonical_json_bytes(text) == ('"' + text + '"').encode("utf-8")


def test_key_followed_by_space_or_bang_sorts_before_its_prefix() -> None:
    assert canonical_json_bytes({"a": 1, "a!": 2, "a b": 3, "ab": 4}) == (
        b'{"a b":3,"a!":2,"a":1,"ab":4}'
    )


def test_keys_with_escapes_sort_by_their_escaped_text() -> None:
    # "\n" is written as \n (0x5c 0x6e), so it sorts after "A" (0x41) and
    # before "a" (0x61); a quote likewise sorts as its backslash.
    assert canonical_json_bytes({"a": 1, "\n": 2, "A": 3, '"': 4}) == (
        b'{"A":3,"\\"":4,"\\n":2,"a":1}'
    )


def test_astral_keys_sort_by_utf8_bytes_not_utf16_units() -> None:
    assert canonical_json_bytes({"\U0001f600": 1, "\uffff": 2}) == (
        '{"\uffff":2,"\U0001f600":1}'.encode()
    )


def test_arrays_keep_their_order() -> None:
    assert canonical_json_bytes(["b", "a", 2, 1]) == b'["b","a",2,1]'


def test_tuples_are_written_as_arrays() -> None:
    assert canonical_json_bytes({"pair": (1, "x")}) == b'{"pair":[1,"x"]}'  # type: ignore[dict-item]


# --- numbers ----------------------------------------------------------------


def test_integers_beyond_two_to_the_53_are_written_exactly() -> None:
    assert canonical_json_bytes([U64_MAX, I64_MIN, 2**53 + 1]) == (
        b"[18446744073709551615,-9223372036854775808,9007199254740993]"
    )


@pytest.mark.parametrize("number", [U64_MAX + 1, I64_MIN - 1, 10**30])
def test_integers_outside_i64_and_u64_are_rejected(number: int) -> None:
    with pytest.raises(CanonicalizationError, match="integer out of the i64/u64 range"):
        canonical_json_bytes({"n": number})


def test_bool_is_written_as_a_literal_not_a_number() -> None:
    assert canonical_json_bytes([True, False, 1, 0]) == b"[true,false,1,0]"


def test_float_looking_text_inside_strings_is_left_alone() -> None:
    value: JsonValue = {"a": "x:1.0,", "b": 2.0, "c": "[1e+21]"}
    assert canonical_json_bytes(value) == b'{"a":"x:1.0,","b":2,"c":"[1e+21]"}'


# --- what has no canonical form --------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": {1, 2}}, "unsupported type set"),
        ([b"bytes"], "unsupported type bytes"),
        ({"d": Decimal("1.5")}, "unsupported type Decimal"),
        ([object()], "unsupported type object"),
        ({1: "x", "a": "y"}, "object key must be a string, not int"),
        ({"bad": "\ud800"}, "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
    ],
    ids=["set", "bytes", "decimal", "object", "int-key", "surrogate-value", "surrogate-key"],
)
def test_values_outside_json_are_rejected(value: Any, reason: str) -> None:
    with pytest.raises(CanonicalizationError, match=reason):
        canonical_json_bytes(value)


def test_circular_value_is_rejected() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CanonicalizationError, match="nested too deeply or circular"):
        canonical_json_bytes(loop)


def test_canonicalization_error_reads_like_the_reference() -> None:
    with pytest.raises(CanonicalizationError) as raised:
        canonical_json_bytes(math.nan)
    assert str(raised.value) == "failed to canonicalize json: non-finite float"
    assert isinstance(raised.value, ControlPlaneError)


# --- HashDigest -------------------------------------------------------------


def test_digest_round_trips_through_its_json_form() -> None:
    digest = hash_canonical({"x": 1})
    assert HashDigest.from_json(digest.to_json()) == digest
    assert digest.to_json() == {"algorithm": "sha256", "value": digest.value}


def test_digest_with_unknown_algorithm_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unsupported hash algorithm: 'md5'"):
        HashDigest.from_json({"algorithm": "md5", "value": "00"})


@pytest.mark.parametrize(
    "obj", [{"algorithm": "sha256"}, {"value": "00"}, {"algorithm": "sha256", "value": 5}, "x"]
)
def test_digest_missing_or_mistyped_fields_are_invalid_input(obj: JsonValue) -> None:
    with pytest.raises(InvalidInput):
        HashDigest.from_json(obj)


# --- properties -------------------------------------------------------------

# Characters that exercise every branch: escapes, the keys that sort before
# their prefix, number- and structure-like text inside strings, DEL, line
# separators, the top of the BMP and astral characters.
_NASTY = [
    " ", "!", '"', "\\", "\x00", "\x1f", "\n", "\x7f", "/", ":", ",", "[", "]", "{", "}",
    "1", ".", "e", "-", "+", "a", "é", "\u2028", "\uffff", "\U0001f600", "\U0010ffff",
]  # fmt: skip
# Number-shaped text a scan of the encoder's output could mistake for a token.
_NUMBER_LOOKALIKES = [
    ":1.0,", ",-0.0]", "[1e+16}", ":1.5e-07,", ",12345678901234567890]", "-12345678901234567890",
    "v1.0", "stage-1", "3e-5", "2e+3,",
]  # fmt: skip
_ANY_CHAR = st.characters(exclude_categories=["Cs"])
_TEXT = st.lists(
    st.sampled_from(_NASTY) | _ANY_CHAR | st.sampled_from(_NUMBER_LOOKALIKES), max_size=6
).map("".join)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 1.0, 1e21, 1e20, 1e-7, 1e-6, 5e-324, 1.7976931348623157e308, 0.1, 1e16, 123.0]
)
_INTS = st.integers(I64_MIN, U64_MAX) | st.sampled_from([U64_MAX, I64_MIN, 2**53 + 1, 0, -1])


def _json_values(
    keys: st.SearchStrategy[str], ints: st.SearchStrategy[int]
) -> st.SearchStrategy[JsonValue]:
    scalars = st.none() | st.booleans() | ints | _FLOATS | _TEXT
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=25,
    )


_VALUES = _json_values(_TEXT, _INTS)


def _spec_string(text: str) -> bytes:
    """§5.2 string escaping, written out character by character."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
    short["\t"] = "\\t"
    out = []
    for char in text:
        if char in short:
            out.append(short[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return ('"' + "".join(out) + '"').encode("utf-8")


def _spec_canonical(value: Any) -> bytes:
    """§5.2 as literally as possible; floats by the independent `rfc8785` formatter."""
    if value is None or isinstance(value, bool):
        return json.dumps(value).encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return rfc8785.dumps(value)
    if isinstance(value, str):
        return _spec_string(value)
    if isinstance(value, list):
        return b"[" + b",".join(_spec_canonical(item) for item in value) + b"]"
    members = sorted((_spec_string(key), _spec_canonical(item)) for key, item in value.items())
    return b"{" + b",".join(key + b":" + item for key, item in members) + b"}"


@settings(max_examples=300)
@given(_VALUES)
def test_fast_path_slow_path_and_the_written_rule_agree(value: JsonValue) -> None:
    expected = _spec_canonical(value)
    assert _encode_slow_bytes(value) == expected
    assert canonical_json_bytes(value) == expected


# Documents whose keys keep code-point order and whose strings hold no quote
# or backslash: these stay on the fast path, so its number rewriting is what
# this property exercises.
_PLAIN_TEXT = st.lists(
    st.characters(exclude_categories=["Cs"], exclude_characters='"\\ !', min_codepoint=0x20)
    | st.sampled_from(_NUMBER_LOOKALIKES),
    max_size=5,
).map("".join)


@settings(max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | _INTS | _FLOATS | _PLAIN_TEXT,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(_PLAIN_TEXT, children, max_size=5)
        ),
        max_leaves=25,
    )
)
def test_fast_path_number_rewriting_agrees_with_the_written_rule(value: JsonValue) -> None:
    assert canonical_json_bytes(value) == _spec_canonical(value)


@settings(max_examples=150)
@given(_FLOATS)
def test_float_formatting_matches_the_rfc8785_package(number: float) -> None:
    assert format_float(number).encode() == rfc8785.dumps(number)


@settings(max_examples=150)
@given(_VALUES)
def test_canonical_form_is_a_fixed_point(value: JsonValue) -> None:
    once = canonical_json_bytes(value)
    assert canonical_json_bytes(loads(once)) == once


# Where the rfc8785 package is defined and agrees with the reference: it
# raises on integers beyond ±(2**53 - 1), and it orders keys by UTF-16 code
# units without quotes, which equals the reference's quoted-UTF-8 order only
# for BMP keys made of characters >= U+0023 (no space, `!`, `"` or controls;
# surrogate pairs and the closing quote are what make the two orders differ).
_RFC8785_KEYS = st.text(
    st.characters(min_codepoint=0x23, max_codepoint=0xFFFF, exclude_categories=["Cs"]),
    max_size=6,
)
_RFC8785_INTS = st.integers(-(2**53 - 1), 2**53 - 1)


@settings(max_examples=200)
@given(_json_values(_RFC8785_KEYS, _RFC8785_INTS))
def test_equals_rfc8785_where_both_are_defined(value: JsonValue) -> None:
    assert canonical_json_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=100)
@given(_VALUES)
def test_hash_is_sha256_of_the_canonical_bytes(value: JsonValue) -> None:
    assert hash_canonical(value).value == hashlib.sha256(canonical_json_bytes(value)).hexdigest()
