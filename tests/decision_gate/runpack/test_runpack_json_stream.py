"""Decoding a JSON array item by item, whatever the chunk boundaries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_gate.core.runpack import JsonArrayError, JsonArrayItems

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _decode(chunks: list[bytes]) -> list[Any]:
    stream = JsonArrayItems()
    items: list[Any] = []
    for chunk in chunks:
        items.extend(stream.feed(chunk))
    items.extend(stream.close())
    return items


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(_values, max_size=8),
    cuts=st.lists(st.integers(0, 400), max_size=12),
    indent=st.sampled_from([None, 1]),
)
def test_any_chunking_yields_the_items_of_the_array(
    items: list[Any], cuts: list[int], indent: int | None
) -> None:
    data = json.dumps(items, indent=indent, ensure_ascii=False).encode()
    assert _decode(_split(data, cuts)) == items


def test_a_number_split_across_chunks_is_read_whole() -> None:
    assert _decode([b"[12", b"3,4", b"5]"]) == [123, 45]


def test_a_multibyte_character_split_across_chunks_is_read_whole() -> None:
    data = json.dumps(["gr\u00fc\u00df \U0001f600"], ensure_ascii=False).encode()
    assert _decode([data[:5], data[5:7], data[7:]]) == ["gr\u00fc\u00df \U0001f600"]


def test_items_are_yielded_before_the_array_ends() -> None:
    stream = JsonArrayItems()
    assert list(stream.feed(b'[{"a":1},{"b"')) == [{"a": 1}]
    assert list(stream.feed(b":2}]")) == [{"b": 2}]
    assert list(stream.close()) == []


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b"[1,2", b"[1,,2]", b"[1 2]", b"[1] x", b"[,]", b"[1,]", b"\xff[]", b"[NaN]"],
)
def test_what_is_not_a_json_array_is_an_error(data: bytes) -> None:
    with pytest.raises(JsonArrayError):
        _decode([data])


@pytest.mark.parametrize(
    ("chunks", "items"),
    [
        ([b"[-0.", b"0]"], [-0.0]),
        ([b"[1", b".5e", b"+3]"], [1500.0]),
        ([b"[2E", b"2, 3]"], [2e2, 3]),
    ],
)
def test_a_number_cut_inside_its_fraction_or_exponent_is_read_whole(
    chunks: list[bytes], items: list[Any]
) -> None:
    assert _decode(chunks) == items


def test_every_pair_of_cut_points_through_a_number_heavy_array_decodes_the_same() -> None:
    text = '[1.5e-7,-0.0,123456789012345678901234,1E+2,0,-1, {"a":[2.5e10,true,null,"\\u00e9"]} ]'
    data = text.encode()
    expected = json.loads(text)
    for first in range(len(data) + 1):
        for second in range(first, len(data) + 1):
            assert _decode([data[:first], data[first:second], data[second:]]) == expected
