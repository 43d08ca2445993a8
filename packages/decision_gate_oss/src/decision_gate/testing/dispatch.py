"""Conformance suites: dispatch policies and dispatchers, which the engine calls while deciding.

Activate with `from decision_gate.testing.dispatch import *` next to a
`policy_decider` and a `dispatcher` fixture; to test only one of them,
import its tests by name (`test_a_policy_decider_is_synchronous`,
`test_the_same_packet_and_target_get_the_same_policy_answer`, or the two
dispatcher tests).
Pinned down: both are synchronous (the pure engine cannot await) and
deterministic: the same packet for the same target gets the same answer, and
a dispatcher's receipt is identical each time, since receipts are hashed into
runpacks; a receipt names the target it was issued for.
"""

from __future__ import annotations

import inspect

from decision_gate.core.engine import Dispatcher, PolicyDecider
from decision_gate.core.model import (
    AgentTarget,
    ChannelTarget,
    DispatchReceipt,
    DispatchTarget,
    ExternalTarget,
    SessionTarget,
)
from decision_gate.testing.run_state_store import packet_record

__all__ = [
    "TARGETS",
    "test_a_dispatcher_is_synchronous",
    "test_a_policy_decider_is_synchronous",
    "test_every_receipt_names_its_target_and_repeats_exactly",
    "test_the_same_packet_and_target_get_the_same_policy_answer",
]

TARGETS: tuple[DispatchTarget, ...] = (
    AgentTarget("release-bot"),
    SessionTarget("session-1"),
    ExternalTarget("ticketing", "queue-7"),
    ChannelTarget("ops"),
)
PACKETS = [packet_record(f"packet-{n}", "decision-1", {"n": n}) for n in range(3)]


def test_a_policy_decider_is_synchronous(policy_decider: PolicyDecider) -> None:
    assert callable(policy_decider.authorize)
    assert not inspect.iscoroutinefunction(policy_decider.authorize)


def test_the_same_packet_and_target_get_the_same_policy_answer(
    policy_decider: PolicyDecider,
) -> None:
    for target in TARGETS:
        for packet in PACKETS:
            first = policy_decider.authorize(target, packet.envelope, packet.payload)
            assert isinstance(first, bool)
            assert policy_decider.authorize(target, packet.envelope, packet.payload) is first


def test_a_dispatcher_is_synchronous(dispatcher: Dispatcher) -> None:
    assert callable(dispatcher.dispatch)
    assert not inspect.iscoroutinefunction(dispatcher.dispatch)


def test_every_receipt_names_its_target_and_repeats_exactly(dispatcher: Dispatcher) -> None:
    for target in TARGETS:
        for packet in PACKETS:
            receipt = dispatcher.dispatch(target, packet.envelope, packet.payload)
            assert isinstance(receipt, DispatchReceipt)
            assert receipt.target == target
            assert dispatcher.dispatch(target, packet.envelope, packet.payload) == receipt
