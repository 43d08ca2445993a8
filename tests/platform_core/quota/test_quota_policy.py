"""Periods name the window an instant falls in; policies pick the limit for a tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quota_testing import ManualClock

from platform_core.errors import InvalidInput
from platform_core.quota import (
    Admitted,
    CalendarMonth,
    FixedWindow,
    Lifetime,
    MemoryUsageStore,
    QuotaLimit,
    QuotaPolicy,
    UsageLedger,
    UsageMetric,
)

RUNS = UsageMetric.RUNS_STARTED


def test_the_metric_catalogue_is_the_seven_canonical_counters() -> None:
    assert [m.value for m in UsageMetric] == [
        "tool_calls",
        "runs_started",
        "evidence_queries",
        "runpack_exports",
        "schemas_written",
        "registry_entries",
        "storage_bytes",
    ]


def test_a_fixed_window_is_aligned_to_the_epoch() -> None:
    day = FixedWindow(86_400)
    start = day.window_start(datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC))
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 3, 14, tzinfo=UTC)
    assert day.window_end(start) == start + 86_400


def test_windows_agree_across_time_zones() -> None:
    utc = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    tokyo = utc.astimezone(ZoneInfo("Asia/Tokyo"))
    assert CalendarMonth().window_start(tokyo) == CalendarMonth().window_start(utc)


def test_a_calendar_month_window_spans_the_month() -> None:
    month = CalendarMonth()
    start = month.window_start(datetime(2028, 2, 29, 23, 0, tzinfo=UTC))
    assert datetime.fromtimestamp(start, UTC) == datetime(2028, 2, 1, tzinfo=UTC)
    assert month.window_end(start) == int(datetime(2028, 3, 1, tzinfo=UTC).timestamp())


def test_a_lifetime_window_never_ends() -> None:
    assert Lifetime().window_start(datetime(2026, 1, 1, tzinfo=UTC)) == 0
    assert Lifetime().window_end(0) is None


@settings(max_examples=150, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    seconds=st.integers(min_value=1, max_value=10**7),
)
def test_every_instant_falls_inside_its_window(at: datetime, seconds: int) -> None:
    for period in (FixedWindow(seconds), CalendarMonth()):
        start = period.window_start(at)
        end = period.window_end(start)
        assert end is not None
        assert start <= at.timestamp() < end
        assert period.window_start(datetime.fromtimestamp(end, UTC)) == end


@pytest.mark.parametrize("seconds", [0, -5, 1.5, True])
def test_a_fixed_window_needs_whole_positive_seconds(seconds: int) -> None:
    with pytest.raises(InvalidInput):
        FixedWindow(seconds)


@pytest.mark.parametrize("limit", [-1, 2**62 + 1, 1.0, False])
def test_a_limit_must_be_a_sane_whole_number(limit: int) -> None:
    with pytest.raises(InvalidInput):
        QuotaLimit(limit)


def test_a_policy_refuses_unknown_metrics_and_bad_tenant_ids() -> None:
    with pytest.raises(InvalidInput):
        QuotaPolicy({"bananas": QuotaLimit(1)})
    with pytest.raises(InvalidInput):
        QuotaPolicy(per_tenant={"bad tenant": {RUNS: QuotaLimit(1)}})
    with pytest.raises(InvalidInput):
        QuotaPolicy({RUNS: 5})  # type: ignore[dict-item]


def test_a_policy_cannot_be_changed_after_it_is_built() -> None:
    limits = {RUNS: QuotaLimit(1)}
    policy = QuotaPolicy(limits)
    limits[RUNS] = QuotaLimit(100)
    assert policy.limit_for("acme", RUNS) == QuotaLimit(1)
    with pytest.raises(TypeError):
        policy.defaults[RUNS] = QuotaLimit(100)  # type: ignore[index]


_operation = st.tuples(
    st.sampled_from(["consume", "record"]),
    st.sampled_from(["acme", "globex"]),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=0, max_value=90),
)


@settings(max_examples=150, deadline=None)
@given(operations=st.lists(_operation, max_size=40))
def test_counters_always_equal_the_sum_of_their_ledger_entries(
    operations: list[tuple[str, str, int, int, int]],
) -> None:
    async def scenario() -> None:
        clock = ManualClock(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
        policy = QuotaPolicy({RUNS: QuotaLimit(9, FixedWindow(60))})
        ledger = UsageLedger(MemoryUsageStore(), policy, clock=clock)
        for kind, tenant, amount, key, seconds in operations:
            clock.advance(seconds=seconds)
            if kind == "consume":
                outcome = await ledger.consume(tenant, RUNS, amount, f"k{key}-{amount}")
                assert isinstance(outcome, Admitted) or outcome.remaining < amount
            else:
                await ledger.record(tenant, RUNS, amount, f"k{key}-{amount}")
            for name in ("acme", "globex"):
                usage = await ledger.usage(name, RUNS)
                in_window = [
                    e.amount
                    for e in await ledger.entries(name)
                    if e.window_start == usage.window_start
                ]
                assert usage.used == sum(in_window)

    asyncio.run(scenario())
