"""The usage ledger's promises, on every backend: atomic consume, idempotency, windows."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from quota_testing import ManualClock

from platform_core.errors import InvalidInput
from platform_core.quota import (
    Admitted,
    CalendarMonth,
    Denied,
    FixedWindow,
    IdempotencyConflict,
    Lifetime,
    Period,
    QuotaLimit,
    QuotaNotConfigured,
    QuotaPolicy,
    UnknownLedgerEntry,
    UsageLedger,
    UsageMetric,
    UsageStore,
)

RUNS = UsageMetric.RUNS_STARTED
LIFETIME = Lifetime()


def ledger_with(
    store: UsageStore,
    clock: ManualClock,
    limit: int,
    period: Period = LIFETIME,
    per_tenant: Mapping[str, Mapping[UsageMetric | str, QuotaLimit]] | None = None,
) -> UsageLedger:
    policy = QuotaPolicy({RUNS: QuotaLimit(limit, period)}, per_tenant or {})
    return UsageLedger(store, policy, clock=clock)


async def counted(ledger: UsageLedger, tenant: str = "acme") -> int:
    return sum(entry.amount for entry in await ledger.entries(tenant))


async def test_consume_admits_up_to_the_limit_then_denies(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=3)
    outcomes = [await ledger.consume("acme", RUNS, 1, f"run-{i}") for i in range(5)]
    assert [type(o) for o in outcomes] == [Admitted] * 3 + [Denied] * 2
    assert outcomes[3] == Denied(metric=RUNS, limit=3, remaining=0, resets_at=None)
    assert (await ledger.usage("acme", RUNS)).used == 3
    assert await counted(ledger) == 3


async def test_an_amount_larger_than_what_is_left_is_denied_whole(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=10)
    await ledger.consume("acme", RUNS, 7, "first")
    denied = await ledger.consume("acme", RUNS, 4, "second")
    assert isinstance(denied, Denied)
    assert (denied.remaining, denied.limit) == (3, 10)
    assert isinstance(await ledger.consume("acme", RUNS, 3, "third"), Admitted)
    assert (await ledger.usage("acme", RUNS)).remaining == 0


async def test_a_zero_limit_admits_nothing(usage_store: UsageStore, clock: ManualClock) -> None:
    ledger = ledger_with(usage_store, clock, limit=0)
    assert isinstance(await ledger.consume("acme", RUNS, 1, "k"), Denied)
    assert await ledger.entries("acme") == []


async def test_a_denied_consume_writes_nothing(usage_store: UsageStore, clock: ManualClock) -> None:
    ledger = ledger_with(usage_store, clock, limit=1)
    await ledger.consume("acme", RUNS, 1, "a")
    await ledger.consume("acme", RUNS, 1, "b")
    with pytest.raises(UnknownLedgerEntry):
        await ledger.entry("acme", "b")
    assert [e.idempotency_key for e in await ledger.entries("acme")] == ["a"]


async def test_a_denied_key_is_judged_afresh_when_retried_under_a_higher_limit(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    await ledger_with(usage_store, clock, limit=1).consume("acme", RUNS, 1, "a")
    assert isinstance(
        await ledger_with(usage_store, clock, 1).consume("acme", RUNS, 1, "b"), Denied
    )
    raised = ledger_with(usage_store, clock, limit=2)
    admitted = await raised.consume("acme", RUNS, 1, "b")
    assert isinstance(admitted, Admitted)
    assert not admitted.replayed


async def test_a_repeated_key_replays_the_first_admission_and_counts_once(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=5)
    first = await ledger.consume("acme", RUNS, 2, "run-1", {"run": "r1"})
    clock.advance(seconds=30)
    again = await ledger.consume("acme", RUNS, 2, "run-1", {"run": "r1"})
    assert isinstance(first, Admitted)
    assert isinstance(again, Admitted)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry == first.entry
    assert (await ledger.usage("acme", RUNS)).used == 2
    assert await counted(ledger) == 2


async def test_a_repeated_key_replays_even_when_the_quota_is_now_exhausted(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=1)
    first = await ledger.consume("acme", RUNS, 1, "only")
    assert isinstance(await ledger.consume("acme", RUNS, 1, "other"), Denied)
    again = await ledger.consume("acme", RUNS, 1, "only")
    assert isinstance(again, Admitted)
    assert again.replayed
    assert again.entry == first.entry


@pytest.mark.parametrize(
    ("metric", "amount", "payload"),
    [
        (RUNS, 3, {"run": "r1"}),
        (RUNS, 2, {"run": "r2"}),
        (UsageMetric.TOOL_CALLS, 2, {"run": "r1"}),
        (RUNS, 2, None),
    ],
)
async def test_a_reused_key_with_a_different_use_is_a_conflict(
    usage_store: UsageStore, clock: ManualClock, metric: UsageMetric, amount: int, payload: object
) -> None:
    policy = QuotaPolicy({RUNS: QuotaLimit(10), UsageMetric.TOOL_CALLS: QuotaLimit(10)})
    ledger = UsageLedger(usage_store, policy, clock=clock)
    await ledger.consume("acme", RUNS, 2, "run-1", {"run": "r1"})
    with pytest.raises(IdempotencyConflict):
        await ledger.consume("acme", metric, amount, "run-1", payload)
    with pytest.raises(IdempotencyConflict):
        await ledger.record("acme", metric, amount, "run-1", payload)
    assert await counted(ledger) == 2


async def test_payload_key_order_does_not_change_its_fingerprint(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=5)
    await ledger.record("acme", RUNS, 1, "k", {"a": 1, "b": [1, {"y": 2, "x": 1}]})
    again = await ledger.record("acme", RUNS, 1, "k", {"b": [1, {"x": 1, "y": 2}], "a": 1})
    assert again.replayed


async def test_keys_are_scoped_to_the_tenant(usage_store: UsageStore, clock: ManualClock) -> None:
    ledger = ledger_with(usage_store, clock, limit=1)
    assert isinstance(await ledger.consume("acme", RUNS, 1, "same"), Admitted)
    other = await ledger.consume("globex", RUNS, 1, "same")
    assert isinstance(other, Admitted)
    assert not other.replayed
    assert (await ledger.usage("globex", RUNS)).used == 1


async def test_record_counts_past_the_limit_and_once_per_key(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=2)
    first = await ledger.record("acme", RUNS, 5, "bulk", {"source": "import"})
    again = await ledger.record("acme", RUNS, 5, "bulk", {"source": "import"})
    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry == first.entry
    usage = await ledger.usage("acme", RUNS)
    assert (usage.used, usage.remaining) == (5, 0)
    assert isinstance(await ledger.consume("acme", RUNS, 1, "next"), Denied)


async def test_record_needs_no_configured_limit(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = UsageLedger(usage_store, QuotaPolicy(), clock=clock)
    await ledger.record("acme", UsageMetric.STORAGE_BYTES, 4096, "blob-1")
    usage = await ledger.usage("acme", UsageMetric.STORAGE_BYTES)
    assert (usage.used, usage.limit, usage.remaining) == (4096, None, None)


async def test_consume_of_an_unconfigured_metric_fails_closed(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=5)
    with pytest.raises(QuotaNotConfigured):
        await ledger.consume("acme", UsageMetric.RUNPACK_EXPORTS, 1, "k")
    assert await ledger.entries("acme") == []


async def test_a_tenant_override_replaces_the_default_limit(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(
        usage_store, clock, limit=1, per_tenant={"vip": {"runs_started": QuotaLimit(3)}}
    )
    assert [type(await ledger.consume("vip", RUNS, 1, f"k{i}")) for i in range(4)] == [
        Admitted,
        Admitted,
        Admitted,
        Denied,
    ]
    assert (await ledger.usage("acme", RUNS)).limit == 1


async def test_a_fixed_window_resets_at_its_end(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    clock.now = datetime(2026, 3, 14, 15, 0, 10, tzinfo=UTC)
    ledger = ledger_with(usage_store, clock, limit=1, period=FixedWindow(60))
    await ledger.consume("acme", RUNS, 1, "a")
    denied = await ledger.consume("acme", RUNS, 1, "b")
    assert isinstance(denied, Denied)
    assert denied.resets_at == datetime(2026, 3, 14, 15, 1, 0, tzinfo=UTC)
    clock.now = datetime(2026, 3, 14, 15, 1, 0, tzinfo=UTC)
    assert isinstance(await ledger.consume("acme", RUNS, 1, "b"), Admitted)
    assert await counted(ledger) == 2


async def test_a_calendar_month_resets_on_the_first_of_the_next_month(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    clock.now = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    ledger = ledger_with(usage_store, clock, limit=1, period=CalendarMonth())
    await ledger.consume("acme", RUNS, 1, "dec")
    denied = await ledger.consume("acme", RUNS, 1, "dec-2")
    assert isinstance(denied, Denied)
    assert denied.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    clock.advance(seconds=1)
    assert isinstance(await ledger.consume("acme", RUNS, 1, "jan"), Admitted)
    usage = await ledger.usage("acme", RUNS)
    assert (usage.used, usage.resets_at) == (1, datetime(2027, 2, 1, tzinfo=UTC))


async def test_an_entry_keeps_what_was_recorded(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=5, period=FixedWindow(3600))
    payload = {"tool": "scenario_start", "ünï": [1, 2.5, True, None]}
    await ledger.consume("acme", RUNS, 2, "req-1:runs_started", payload)
    entry = await ledger.entry("acme", "req-1:runs_started")
    assert (entry.tenant_id, entry.metric, entry.amount, entry.payload) == (
        "acme",
        RUNS,
        2,
        payload,
    )
    assert entry.recorded_at_ms == int(clock.now.timestamp() * 1000)
    assert entry.window_start == int(datetime(2026, 3, 14, 15, tzinfo=UTC).timestamp())
    assert "scenario_start" not in repr(entry)


async def test_the_ledger_lists_entries_in_write_order(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=50)
    for key in ("c", "a", "b"):
        await ledger.consume("acme", RUNS, 1, key)
    await ledger.consume("globex", RUNS, 1, "z")
    assert [e.idempotency_key for e in await ledger.entries("acme")] == ["c", "a", "b"]


async def test_an_unknown_entry_is_a_typed_error(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    with pytest.raises(UnknownLedgerEntry):
        await ledger_with(usage_store, clock, limit=1).entry("acme", "missing")


async def test_concurrent_consumes_admit_exactly_the_limit(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=7)
    outcomes = await asyncio.gather(*(ledger.consume("acme", RUNS, 1, f"k{i}") for i in range(30)))
    assert sum(isinstance(o, Admitted) for o in outcomes) == 7
    assert (await ledger.usage("acme", RUNS)).used == 7
    assert await counted(ledger) == 7


async def test_concurrent_repeats_of_one_key_count_once(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=7)
    outcomes = await asyncio.gather(*(ledger.consume("acme", RUNS, 1, "same") for _ in range(20)))
    admitted = [o for o in outcomes if isinstance(o, Admitted)]
    assert len(admitted) == 20
    assert sum(not o.replayed for o in admitted) == 1
    assert len({o.entry for o in admitted}) == 1
    assert await counted(ledger) == 1


@pytest.mark.parametrize(
    ("tenant", "metric", "amount", "key", "payload"),
    [
        ("", RUNS, 1, "k", None),
        ("acme", "bananas", 1, "k", None),
        ("acme", RUNS, 0, "k", None),
        ("acme", RUNS, -1, "k", None),
        ("acme", RUNS, True, "k", None),
        ("acme", RUNS, 1.5, "k", None),
        ("acme", RUNS, 2**53 + 1, "k", None),
        ("acme", RUNS, 1, "", None),
        ("acme", RUNS, 1, "has space", None),
        ("acme", RUNS, 1, "x" * 256, None),
        ("acme", RUNS, 1, "k", {"when": datetime(2026, 1, 1, tzinfo=UTC)}),
        ("acme", RUNS, 1, "k", {"n": float("nan")}),
        ("acme", RUNS, 1, "k", {1: "int key"}),
        ("acme", RUNS, 1, "k", {"blob": "x" * 65_536}),
    ],
)
async def test_bad_input_is_refused_before_anything_is_written(
    usage_store: UsageStore,
    clock: ManualClock,
    tenant: str,
    metric: str,
    amount: int,
    key: str,
    payload: object,
) -> None:
    ledger = ledger_with(usage_store, clock, limit=5)
    with pytest.raises(InvalidInput):
        await ledger.consume(tenant, metric, amount, key, payload)
    with pytest.raises(InvalidInput):
        await ledger.record(tenant, metric, amount, key, payload)
    assert await ledger.entries("acme") == []


async def test_a_naive_clock_is_refused(usage_store: UsageStore) -> None:
    ledger = UsageLedger(
        usage_store, QuotaPolicy({RUNS: QuotaLimit(1)}), clock=lambda: datetime(2026, 1, 1)
    )
    with pytest.raises(InvalidInput):
        await ledger.consume("acme", RUNS, 1, "k")


async def test_metrics_may_be_named_by_their_label(
    usage_store: UsageStore, clock: ManualClock
) -> None:
    ledger = ledger_with(usage_store, clock, limit=1)
    admitted = await ledger.consume("acme", "runs_started", 1, "k")
    assert isinstance(admitted, Admitted)
    assert admitted.entry.metric is RUNS
