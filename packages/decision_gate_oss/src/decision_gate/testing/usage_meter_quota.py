"""Conformance suite for meters that enforce limits: idempotent records count once.

Activate it with `from decision_gate.testing.usage_meter_quota import *`
next to a `usage_meter_with_limit` fixture: a callable
`(metric: UsageMetric, units: int) -> UsageMeter` (or an awaitable of one)
building a fresh meter whose limit for `metric` is `units` per tenant. Pinned
down: checks within the limit allow and past it deny; a record counts its
units once per idempotency key, even when repeated concurrently; keys and
tenants are counted separately.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from decision_gate.seams.usage_meter import UsageMeter, UsageMetric
from decision_gate.testing.usage_meter import usage_request

__all__ = [
    "test_a_check_past_the_limit_is_denied",
    "test_a_record_repeated_concurrently_counts_once",
    "test_a_record_repeated_with_its_key_counts_once",
    "test_different_keys_count_separately",
    "test_tenants_are_counted_separately",
]

MeterWithLimit = Callable[[UsageMetric, int], "UsageMeter | Awaitable[UsageMeter]"]


async def _meter(factory: MeterWithLimit, units: int) -> UsageMeter:
    made = factory(UsageMetric.TOOL_CALLS, units)
    return await made if inspect.isawaitable(made) else made


async def _allowed(meter: UsageMeter, units: int = 1, tenant_id: int = 1) -> bool:
    return (await meter.check(usage_request(units=units, tenant_id=tenant_id))).allowed


async def test_a_check_past_the_limit_is_denied(usage_meter_with_limit: MeterWithLimit) -> None:
    meter = await _meter(usage_meter_with_limit, 2)
    assert await _allowed(meter, 2)
    assert not await _allowed(meter, 3)


async def test_a_record_repeated_with_its_key_counts_once(
    usage_meter_with_limit: MeterWithLimit,
) -> None:
    meter = await _meter(usage_meter_with_limit, 2)
    await meter.record(usage_request(), "call-1")
    await meter.record(usage_request(), "call-1")
    assert await _allowed(meter, 1)
    assert not await _allowed(meter, 2)


async def test_a_record_repeated_concurrently_counts_once(
    usage_meter_with_limit: MeterWithLimit,
) -> None:
    meter = await _meter(usage_meter_with_limit, 2)
    await asyncio.gather(*(meter.record(usage_request(), "call-1") for _ in range(8)))
    assert await _allowed(meter, 1)


async def test_different_keys_count_separately(usage_meter_with_limit: MeterWithLimit) -> None:
    meter = await _meter(usage_meter_with_limit, 2)
    await meter.record(usage_request(), "call-1")
    await meter.record(usage_request(), "call-2")
    assert not await _allowed(meter, 1)


async def test_tenants_are_counted_separately(usage_meter_with_limit: MeterWithLimit) -> None:
    meter = await _meter(usage_meter_with_limit, 1)
    await meter.record(usage_request(tenant_id=1), "call-1")
    assert not await _allowed(meter, 1, tenant_id=1)
    assert await _allowed(meter, 1, tenant_id=2)
