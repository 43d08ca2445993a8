"""Correlation ids: validated against the RFC 7230 token grammar, generated
when absent, and carried through async tasks by a context variable."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_core.errors import InvalidInput
from platform_core.telemetry import (
    CorrelationIdLogFilter,
    InvalidCorrelationId,
    correlation_id_from_header,
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    validate_correlation_id,
)

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@settings(max_examples=150)
@given(st.text(alphabet=TCHAR, min_size=1, max_size=128))
def test_every_token_of_1_to_128_tchars_is_accepted(value: str) -> None:
    assert validate_correlation_id(value) == value


@settings(max_examples=150)
@given(st.text(min_size=1, max_size=200).filter(lambda v: any(c not in TCHAR for c in v)))
def test_any_value_with_a_non_token_character_is_rejected(value: str) -> None:
    with pytest.raises(InvalidCorrelationId):
        validate_correlation_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 129, "a b", "a\tb", "abc\r\nSet-Cookie: x=1", "ünicode", "a\x00b", "(comment)",
     'quo"te', "a,b", "a;b", "a/b", "a:b"],
)
def test_hostile_ids_are_rejected(value: str) -> None:
    with pytest.raises(InvalidCorrelationId):
        validate_correlation_id(value)


def test_a_non_string_id_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        validate_correlation_id(12345)


def test_the_error_does_not_echo_the_rejected_value() -> None:
    with pytest.raises(InvalidCorrelationId) as caught:
        validate_correlation_id("Bearer secret-token value")
    assert "secret" not in str(caught.value)


def test_generated_ids_are_valid_and_distinct() -> None:
    ids = {new_correlation_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(validate_correlation_id(value) for value in ids)


def test_a_missing_header_gets_a_fresh_id_and_a_present_one_is_kept() -> None:
    assert validate_correlation_id(correlation_id_from_header(None))
    assert validate_correlation_id(correlation_id_from_header(""))
    assert correlation_id_from_header("req-42") == "req-42"
    with pytest.raises(InvalidCorrelationId):
        correlation_id_from_header("req 42")


def test_a_scope_sets_and_restores_the_current_id() -> None:
    assert current_correlation_id() is None
    with correlation_scope("outer") as outer:
        assert current_correlation_id() == outer == "outer"
        with correlation_scope() as inner:
            assert current_correlation_id() == inner != "outer"
        assert current_correlation_id() == "outer"
    assert current_correlation_id() is None


def test_a_scope_restores_the_outer_id_when_its_body_raises() -> None:
    with correlation_scope("outer"):
        with pytest.raises(RuntimeError), correlation_scope("inner"):
            raise RuntimeError
        assert current_correlation_id() == "outer"


def test_a_scope_with_an_invalid_id_is_refused_and_changes_nothing() -> None:
    with pytest.raises(InvalidCorrelationId), correlation_scope("bad id"):
        pass
    assert current_correlation_id() is None


async def test_tasks_inherit_the_id_and_concurrent_requests_stay_apart() -> None:
    async def request(name: str) -> list[str | None]:
        with correlation_scope(name):
            seen: list[str | None] = []

            async def child() -> None:
                await asyncio.sleep(0)
                seen.append(current_correlation_id())

            await asyncio.gather(child(), child())
            await asyncio.sleep(0)
            seen.append(current_correlation_id())
            return seen

    results = await asyncio.gather(*(request(f"req-{n}") for n in range(20)))
    assert results == [[f"req-{n}"] * 3 for n in range(20)]


def test_the_log_filter_stamps_records_with_the_current_id() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    log_filter = CorrelationIdLogFilter()
    log_filter.filter(record)
    assert record.correlation_id == "-"
    with correlation_scope("req-7"):
        log_filter.filter(record)
    assert record.correlation_id == "req-7"
