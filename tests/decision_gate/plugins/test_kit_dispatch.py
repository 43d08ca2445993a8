"""The built-in dispatch policies and the recording dispatcher, built through the plugin
hooks, pass the kit's dispatch suites."""

from __future__ import annotations

import pytest

from decision_gate.core.engine import Dispatcher, PolicyDecider
from decision_gate.testing import build_implementation
from decision_gate.testing.dispatch import *  # noqa: F403

STATIC = {
    "default": "deny",
    "rules": [
        {"effect": "deny", "target_kinds": ["channel"]},
        {"effect": "permit", "targets": [{"target_kind": "external", "system": "ticketing"}]},
        {"effect": "permit", "target_kinds": ["agent"], "packet_ids": ["packet-1"]},
    ],
}


@pytest.fixture(params=["permit_all", "deny_all", "static"])
async def policy_decider(request: pytest.FixtureRequest) -> PolicyDecider:
    section = {"engine": request.param, "static": STATIC if request.param == "static" else None}
    policy: PolicyDecider = await build_implementation("policy_decider", section)
    return policy


@pytest.fixture
async def dispatcher() -> Dispatcher:
    recording: Dispatcher = await build_implementation("dispatcher", {"type": "record"})
    return recording
