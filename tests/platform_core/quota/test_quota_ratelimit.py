"""Dual token buckets: bursts, refill, retry_after, all-or-nothing payment, bounded state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quota_testing import ManualMonotonic

from platform_core.errors import InvalidInput
from platform_core.quota import BucketPolicy, RateAdmitted, RateLimited, RateLimiter, RateScope

WIDE = BucketPolicy(capacity=1000, refill_per_second=1000)


def limiter(
    clock: ManualMonotonic,
    tenant: BucketPolicy = WIDE,
    token: BucketPolicy = WIDE,
    **kw: object,
) -> RateLimiter:
    return RateLimiter(per_tenant=tenant, per_token=token, clock=clock, **kw)  # type: ignore[arg-type]


def test_a_burst_admits_exactly_the_capacity() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=5, refill_per_second=1))
    outcomes = [limits.check("acme", "key-1") for _ in range(8)]
    assert outcomes.count(RateAdmitted()) == 5
    assert all(isinstance(o, RateLimited) for o in outcomes[5:])


def test_a_denial_says_which_limit_and_how_long_to_wait() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=2, refill_per_second=4))
    limits.check("acme", "key-1")
    limits.check("acme", "key-1")
    assert limits.check("acme", "key-1") == RateLimited(RateScope.TENANT, 0.25)


def test_waiting_retry_after_is_enough() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, token=BucketPolicy(capacity=1, refill_per_second=0.5))
    limits.check("acme", "key-1")
    denied = limits.check("acme", "key-1")
    assert isinstance(denied, RateLimited)
    assert denied.scope is RateScope.TOKEN
    clock.advance(denied.retry_after * 0.99)
    assert isinstance(limits.check("acme", "key-1"), RateLimited)
    clock.advance(denied.retry_after)
    assert limits.check("acme", "key-1") == RateAdmitted()


def test_a_bucket_never_holds_more_than_its_capacity() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=3, refill_per_second=1))
    clock.advance(3600)
    admitted = [limits.check("acme", "k") for _ in range(10)].count(RateAdmitted())
    assert admitted == 3


def test_tokens_of_one_tenant_share_the_tenant_bucket() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=4, refill_per_second=1))
    outcomes = [limits.check("acme", f"key-{i % 4}") for i in range(8)]
    assert outcomes.count(RateAdmitted()) == 4
    assert limits.check("globex", "key-0") == RateAdmitted()


def test_one_token_cannot_spend_its_tenants_whole_budget() -> None:
    clock = ManualMonotonic()
    limits = limiter(
        clock,
        tenant=BucketPolicy(capacity=10, refill_per_second=1),
        token=BucketPolicy(capacity=3, refill_per_second=1),
    )
    hog = [limits.check("acme", "hog") for _ in range(5)]
    assert hog.count(RateAdmitted()) == 3
    assert [limits.check("acme", "other") for _ in range(7)].count(RateAdmitted()) == 3


def test_a_refused_request_costs_neither_bucket() -> None:
    clock = ManualMonotonic()
    limits = limiter(
        clock,
        tenant=BucketPolicy(capacity=3, refill_per_second=1),
        token=BucketPolicy(capacity=1, refill_per_second=1),
    )
    assert limits.check("acme", "a") == RateAdmitted()
    for _ in range(5):
        assert isinstance(limits.check("acme", "a"), RateLimited)
    assert [limits.check("acme", k) for k in ("b", "c")] == [RateAdmitted(), RateAdmitted()]


def test_when_both_limits_bite_the_longer_wait_is_reported() -> None:
    clock = ManualMonotonic()
    limits = limiter(
        clock,
        tenant=BucketPolicy(capacity=1, refill_per_second=0.1),
        token=BucketPolicy(capacity=1, refill_per_second=1),
    )
    limits.check("acme", "a")
    assert limits.check("acme", "a") == RateLimited(RateScope.TENANT, pytest.approx(10.0))


def test_a_tenant_override_replaces_the_default_bucket() -> None:
    clock = ManualMonotonic()
    limits = limiter(
        clock,
        tenant=BucketPolicy(capacity=1, refill_per_second=1),
        tenant_overrides={"vip": BucketPolicy(capacity=5, refill_per_second=1)},
    )
    assert [limits.check("vip", "k") for _ in range(6)].count(RateAdmitted()) == 5


def test_a_full_limiter_drops_idle_buckets_and_refuses_when_all_are_busy() -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=1, refill_per_second=1), max_buckets=4)
    assert limits.check("t1", "k1") == RateAdmitted()
    assert limits.check("t2", "k2") == RateAdmitted()
    assert limits.check("t3", "k3") == RateLimited(RateScope.SATURATED, pytest.approx(0.001))
    clock.advance(1.0)
    assert limits.check("t3", "k3") == RateAdmitted()
    assert limits.check("t1", "k1") == RateAdmitted()


@pytest.mark.parametrize(
    ("capacity", "rate"), [(0, 1), (1, 0), (-1, 1), (float("inf"), 1), (1, float("nan"))]
)
def test_a_bucket_needs_positive_finite_settings(capacity: float, rate: float) -> None:
    with pytest.raises(InvalidInput):
        BucketPolicy(capacity=capacity, refill_per_second=rate)


@pytest.mark.parametrize(
    ("tenant", "token", "cost"),
    [("", "k", 1), ("acme", "", 1), ("acme", "k", 0), ("acme", "k", 2000), ("acme", "k", True)],
)
def test_bad_checks_are_refused(tenant: str, token: str, cost: float) -> None:
    with pytest.raises(InvalidInput):
        limiter(ManualMonotonic()).check(tenant, token, cost)


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    rate=st.floats(min_value=0.1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200),
)
def test_admissions_never_exceed_burst_plus_refill(
    capacity: int, rate: float, gaps: list[float]
) -> None:
    clock = ManualMonotonic()
    limits = limiter(clock, tenant=BucketPolicy(capacity=capacity, refill_per_second=rate))
    admitted = 0
    for gap in gaps:
        clock.advance(gap)
        outcome = limits.check("acme", "k")
        if isinstance(outcome, RateLimited):
            assert outcome.retry_after > 0
        else:
            admitted += 1
    assert admitted <= capacity + rate * sum(gaps) + 1e-6
