"""The built-in dispatch policies and the recording dispatcher, built through the plugin
hooks, pass the kit's dispatch suites."""

from __future__ import annotations

import pytest

from decision_gate.core.engine import Dispatcher, PolicyDecider
from decision_gate.testing import build_implementation
from decision_gate.testing.dispatch import *  # noqa: F403


@pytest.fixture(params=["permit_all", "deny_all"])
async def policy_decider(request: pytest.FixtureRequest) -> PolicyDecider:
    policy: PolicyDecider = await build_implementation("policy_decider", {"engine": request.param})
    return policy


@pytest.fixture
async def dispatcher() -> Dispatcher:
    recording: Dispatcher = await build_implementation("dispatcher", {"type": "record"})
    return recording
