"""The server's own limits and correlation ids, as units (server.md §3.10-3.11)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_gate.config.model import RateLimitConfig
from decision_gate.server.auth import Caller
from decision_gate.server.correlation import (
    ServerCorrelationIds,
    correlation_id_problem,
    sanitize_correlation_id,
)
from decision_gate.server.errors import Overloaded, RateLimited
from decision_gate.server.limits import InflightLimit, RateLimiter, rate_limit_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def caller(ip: str = "127.0.0.1", authorization: str | None = None) -> Caller:
    return Caller(transport="http", peer_ip=ip, authorization=authorization)


def test_inflight_refuses_when_every_permit_is_taken_and_recovers_on_release() -> None:
    limit = InflightLimit(2)
    limit.acquire()
    limit.acquire()

    with pytest.raises(Overloaded, match="server overloaded"):
        limit.acquire()
    limit.release()
    limit.acquire()


def test_the_window_resets_after_window_ms() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(max_requests=2, window_ms=1000), clock)
    limiter.check(caller())
    limiter.check(caller())

    with pytest.raises(RateLimited) as raised:
        limiter.check(caller())
    clock.now += 1.0
    limiter.check(caller())

    assert raised.value.retry_after_ms == 1000


def test_retry_after_counts_down_within_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(max_requests=1, window_ms=1000), clock)
    limiter.check(caller())
    clock.now += 0.25

    with pytest.raises(RateLimited) as raised:
        limiter.check(caller())

    assert raised.value.retry_after_ms == 750


def test_keys_are_counted_separately() -> None:
    limiter = RateLimiter(RateLimitConfig(max_requests=1, window_ms=1000), Clock())
    limiter.check(caller("127.0.0.1"))

    limiter.check(caller("127.0.0.2"))


def test_a_bearer_token_is_the_key_whatever_the_ip_and_never_in_clear() -> None:
    key = rate_limit_key(caller("10.0.0.1", "Bearer secret-token"))

    assert key.startswith("bearer:")
    assert "secret-token" not in key
    assert key == rate_limit_key(caller("10.0.0.2", "bearer secret-token"))


def test_a_full_key_table_evicts_idle_keys_then_refuses_as_overloaded() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(max_requests=5, window_ms=1000, max_entries=2), clock)
    limiter.check(caller("10.0.0.1"))
    limiter.check(caller("10.0.0.2"))

    with pytest.raises(Overloaded, match="rate limiter overloaded"):
        limiter.check(caller("10.0.0.3"))
    clock.now += 2.5
    limiter.check(caller("10.0.0.3"))


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("   ", "empty_after_trim"),
        ("a" * 129, "too_long"),
        ("caf\u00e9", "non_ascii"),
        ("a b", "contains_whitespace"),
        ("a\x01b", "contains_control_char"),
        ("a/b", "contains_disallowed_char"),
    ],
)
def test_correlation_ids_are_refused_with_the_reference_labels(value: str, label: str) -> None:
    assert correlation_id_problem(value) == label


def test_a_correlation_id_is_trimmed() -> None:
    assert sanitize_correlation_id("  req-1 ") == "req-1"


@settings(max_examples=150)
@given(st.text(max_size=200))
def test_an_accepted_correlation_id_is_a_short_printable_token(value: str) -> None:
    accepted = sanitize_correlation_id(value)

    if accepted is not None:
        assert 0 < len(accepted) <= 128
        assert accepted.isascii()
        assert accepted.isprintable()
        assert " " not in accepted


def test_server_ids_share_the_boot_id_and_count_up() -> None:
    ids = ServerCorrelationIds(boot_id=0xABC)

    assert [ids.issue() for _ in range(2)] == [
        "dg-0000000000000abc-0000000000000001",
        "dg-0000000000000abc-0000000000000002",
    ]
