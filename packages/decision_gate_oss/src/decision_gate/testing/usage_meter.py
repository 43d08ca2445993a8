"""Conformance suite: every `UsageMeter`, and the fail-closed rule around it.

Activate it with `from decision_gate.testing.usage_meter import *` next to a
`usage_meter` fixture. Pinned down: `check` and `record` are async; `check`
answers every metric with a `UsageDecision`; recording the same idempotency
key again, even concurrently, is accepted (it must count once: meters that
enforce limits prove that with `decision_gate.testing.usage_meter_quota`);
and under decision_gate's guard a meter whose check raises, hangs or returns
garbage denies, audited as `usage_audit`, while a failing record surfaces as
`UsageRecordFailure`, never silently.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from decision_gate.plugins.guards import AuditFanout, FailClosedMeter, UsageRecordFailure
from decision_gate.seams.access import CallContext, Principal
from decision_gate.seams.usage_meter import UsageDecision, UsageMeter, UsageMetric, UsageRequest
from decision_gate.testing.doubles import Fault, Faulty, RecordingAuditSink

__all__ = [
    "test_check_answers_every_metric",
    "test_meter_satisfies_the_protocol",
    "test_recording_one_key_again_is_accepted",
    "test_recording_one_key_concurrently_is_accepted",
    "test_through_the_guard_a_failing_check_denies_and_is_audited",
    "test_through_the_guard_a_failing_record_is_a_typed_error",
    "usage_request",
]


def usage_request(
    metric: UsageMetric = UsageMetric.TOOL_CALLS, units: int = 1, tenant_id: int = 1
) -> UsageRequest:
    call = CallContext(Principal("local"), "scenario_start", tenant_id, 2, "req-1", None, "srv-1")
    return UsageRequest(call=call, metric=metric, units=units)


async def test_meter_satisfies_the_protocol(usage_meter: UsageMeter) -> None:
    assert isinstance(usage_meter, UsageMeter)
    assert inspect.iscoroutinefunction(usage_meter.check)
    assert inspect.iscoroutinefunction(usage_meter.record)


@pytest.mark.parametrize("metric", list(UsageMetric), ids=str)
async def test_check_answers_every_metric(usage_meter: UsageMeter, metric: UsageMetric) -> None:
    decision = await usage_meter.check(usage_request(metric))
    assert isinstance(decision, UsageDecision)
    assert isinstance(decision.reason, str)
    assert decision.reason


async def test_recording_one_key_again_is_accepted(usage_meter: UsageMeter) -> None:
    request = usage_request()
    await usage_meter.record(request, "key-1")
    await usage_meter.record(request, "key-1")


async def test_recording_one_key_concurrently_is_accepted(usage_meter: UsageMeter) -> None:
    request = usage_request()
    await asyncio.gather(*(usage_meter.record(request, "key-2") for _ in range(8)))


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
async def test_through_the_guard_a_failing_check_denies_and_is_audited(
    usage_meter: UsageMeter, fault: Fault
) -> None:
    sink = RecordingAuditSink()
    broken = Faulty(usage_meter, "check", fault)
    guard = FailClosedMeter(broken, AuditFanout([sink]), timeout=0.2)
    decision = await guard.check(usage_request())
    assert not decision.allowed
    [event] = sink.of_kind("usage_audit")
    assert (event["allowed"], event["metric"], event["reason"]) == (
        False,
        "tool_calls",
        decision.reason,
    )


@pytest.mark.parametrize("fault", [Fault.RAISES, Fault.HANGS], ids=lambda f: f.value)
async def test_through_the_guard_a_failing_record_is_a_typed_error(
    usage_meter: UsageMeter, fault: Fault
) -> None:
    broken = Faulty(usage_meter, "record", fault)
    guard = FailClosedMeter(broken, AuditFanout([]), timeout=0.2)
    with pytest.raises(UsageRecordFailure):
        await guard.record(usage_request(), "key-3")
