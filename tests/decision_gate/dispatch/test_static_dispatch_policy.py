"""The `static` dispatch policy (server.md §3.15): first matching rule wins, else the default."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from decision_gate.core.engine import PolicyFailure
from decision_gate.core.errors import InvalidInput
from decision_gate.core.model import (
    AgentTarget,
    ChannelTarget,
    DispatchTarget,
    ExternalTarget,
    PacketEnvelope,
    SessionTarget,
    VisibilityPolicy,
)
from decision_gate.dispatch_policy import StaticDispatchPolicy
from decision_gate.plugins import PluginError, load_seams
from decision_gate.testing.run_state_store import packet_record

PACKET = packet_record("packet-1", "decision-1")
ENVELOPE = attrs.evolve(
    PACKET.envelope, visibility=VisibilityPolicy(labels=("internal",), policy_tags=("pii",))
)
AGENT = AgentTarget("release-bot")


def _decide(config: dict[str, Any], target: DispatchTarget = AGENT, **envelope: Any) -> bool:
    policy = StaticDispatchPolicy.from_config(config)
    return policy.authorize(target, attrs.evolve(ENVELOPE, **envelope), PACKET.payload)


def _permit_if(**selector: Any) -> dict[str, Any]:
    return {"default": "deny", "rules": [{"effect": "permit", **selector}]}


def test_with_no_rules_the_default_decides() -> None:
    assert _decide({}) is False
    assert _decide({"default": "permit"}) is True


def test_the_first_matching_rule_wins() -> None:
    config = {
        "default": "permit",
        "rules": [
            {"effect": "deny", "target_kinds": ["agent"]},
            {"effect": "permit", "target_kinds": ["agent"]},
        ],
    }
    assert _decide(config) is False
    assert _decide(config, ChannelTarget("ops")) is True


@pytest.mark.parametrize(
    ("selector", "matching", "other"),
    [
        ({"target_kinds": ["session"]}, SessionTarget("s"), AGENT),
        (
            {"targets": [{"target_kind": "agent", "target_id": "release-bot"}]},
            AGENT,
            AgentTarget("x"),
        ),
        ({"targets": [{"target_kind": "agent"}]}, AgentTarget("any"), ChannelTarget("ops")),
        (
            {"targets": [{"target_kind": "channel", "target_id": "ops"}]},
            ChannelTarget("ops"),
            ChannelTarget("dev"),
        ),
        (
            {"targets": [{"target_kind": "external", "system": "jira"}]},
            ExternalTarget("jira", "q"),
            ExternalTarget("git", "q"),
        ),
        (
            {"targets": [{"target_kind": "external", "target": "q1"}]},
            ExternalTarget("x", "q1"),
            ExternalTarget("x", "q2"),
        ),
    ],
)
def test_target_selectors(
    selector: dict[str, Any], matching: DispatchTarget, other: DispatchTarget
) -> None:
    assert _decide(_permit_if(**selector), matching) is True
    assert _decide(_permit_if(**selector), other) is False


@pytest.mark.parametrize(
    ("selector", "matching", "other"),
    [
        ({"require_labels": ["internal"]}, {}, {"visibility": VisibilityPolicy((), ("pii",))}),
        ({"forbid_labels": ["public"]}, {}, {"visibility": VisibilityPolicy(("public",), ())}),
        ({"require_policy_tags": ["pii"]}, {}, {"visibility": VisibilityPolicy(("internal",), ())}),
        ({"forbid_policy_tags": ["pii"]}, {"visibility": VisibilityPolicy((), ())}, {}),
        ({"content_types": ["application/json"]}, {}, {"content_type": "text/plain"}),
        ({"schema_ids": ["schema-1"]}, {}, {"schema_id": "schema-2"}),
        ({"packet_ids": ["packet-1"]}, {}, {"packet_id": "packet-2"}),
        ({"stage_ids": ["stage-1"]}, {}, {"stage_id": "stage-2"}),
        ({"scenario_ids": ["scenario-1"]}, {}, {"scenario_id": "scenario-2"}),
    ],
)
def test_packet_selectors(
    selector: dict[str, Any], matching: dict[str, Any], other: dict[str, Any]
) -> None:
    assert _decide(_permit_if(**selector), **matching) is True
    assert _decide(_permit_if(**selector), **other) is False


def test_every_selector_of_a_rule_must_match() -> None:
    config = _permit_if(target_kinds=["agent"], schema_ids=["schema-1"])
    assert _decide(config) is True
    assert _decide(config, schema_id="schema-2") is False
    assert _decide(config, SessionTarget("s")) is False


def test_an_error_rule_fails_the_disclosure_with_its_message() -> None:
    config = {
        "rules": [{"effect": "error", "error_message": "legal hold", "target_kinds": ["agent"]}]
    }
    with pytest.raises(PolicyFailure, match=r"^policy decision error: legal hold$"):
        _decide(config)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default": "error"}, "static policy default must be permit or deny"),
        ({"default": "maybe"}, "policy.static.default must be permit, deny or error"),
        ({"rules": [{"effect": "permit"}]}, r"policy.rules\[0\]: rule must include at least one"),
        (
            {"rules": [{"effect": "error", "target_kinds": ["agent"]}]},
            r"policy.rules\[0\]: error effect requires error_message",
        ),
        (
            {
                "rules": [
                    {"effect": "permit", "targets": [{"target_kind": "external", "target_id": "x"}]}
                ]
            },
            "external target must not set target_id",
        ),
        (
            {"rules": [{"effect": "permit", "targets": [{"target_kind": "external"}]}]},
            "external target requires system or target",
        ),
        (
            {"rules": [{"effect": "permit", "targets": [{"target_kind": "agent", "system": "x"}]}]},
            "non-external targets must not set system/target",
        ),
        ({"rules": [{"effect": "permit", "target_kinds": ["robot"]}]}, "must be one of agent"),
        ({"rules": [{"effect": "permit", "labels": ["x"]}]}, "unknown key labels"),
        ({"rulez": []}, "unknown key rulez"),
    ],
)
def test_bad_configs_are_refused_with_their_path(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        StaticDispatchPolicy.from_config(config)


async def test_selected_by_policy_engine_static() -> None:
    seams = await load_seams(
        {"policy": {"engine": "static", "static": _permit_if(target_kinds=["agent"])}},
        environ={},
    )
    envelope: PacketEnvelope = ENVELOPE
    assert seams.policy.authorize(AGENT, envelope, PACKET.payload) is True
    assert seams.policy.authorize(ChannelTarget("ops"), envelope, PACKET.payload) is False


async def test_engine_static_without_its_table_stops_start_up() -> None:
    with pytest.raises(PluginError, match=r"requires a \[policy.static\] table"):
        await load_seams({"policy": {"engine": "static"}}, environ={})
