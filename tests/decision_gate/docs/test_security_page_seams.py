"""Claims of docs/security.md about the server's seams, checked on a real server in-process.

The server is built from a config as `serve` builds it, with one seam
swapped for an instrumented one through the same fail-closed guard the
server uses, and requests go through its JSON-RPC service (the layer every
transport shares): usage is recorded only after a call succeeded, a quota
denial is `unauthorized`, an unexpected failure is answered and logged
without its text, and every authentication decision leaves an
`mcp_tool_authz` line with the fields the page lists.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from tests.decision_gate.docs.doc_pages import page_text

from decision_gate.config import parse_config
from decision_gate.plugins import load_seams
from decision_gate.plugins.guards import FailClosedMeter
from decision_gate.seams.usage_meter import UsageDecision, UsageMetric, UsageRequest
from decision_gate.server.app import DecisionGateServer, seam_sections
from decision_gate.server.auth import Caller
from decision_gate.server.rpc import RpcReply, RpcRequestInfo
from decision_gate.stores import MemoryRunStateStore

CONFIG = """
[namespace]
allow_default = true
default_tenants = [1]

[[providers]]
name = "time"
type = "builtin"
"""
SPEC = {
    "scenario_id": "s",
    "namespace_id": 1,
    "spec_version": "1",
    "default_tenant_id": 1,
    "policies": [],
    "schemas": [],
    "conditions": [
        {
            "condition_id": "later",
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
            "query": {"provider_id": "time", "check_id": "after", "params": {"timestamp": 1}},
        }
    ],
    "stages": [
        {
            "stage_id": "main",
            "entry_packets": [],
            "on_timeout": "fail",
            "timeout": None,
            "advance_to": {"kind": "terminal"},
            "gates": [{"gate_id": "wait", "requirement": {"Condition": "later"}}],
        }
    ],
}
START = {
    "scenario_id": "s",
    "issue_entry_packets": False,
    "started_at": {"kind": "logical", "value": 0},
    "run_config": {
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": "r1",
        "scenario_id": "s",
        "dispatch_targets": [],
        "policy_tags": [],
    },
}


class QuotaWithoutRuns:
    """A meter that refuses `runs_started` and remembers what it was asked to record."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str | None]] = []

    async def check(self, request: UsageRequest) -> UsageDecision:
        return UsageDecision(request.metric is not UsageMetric.RUNS_STARTED, "quota")

    async def record(self, request: UsageRequest, idempotency_key: str) -> None:
        self.recorded.append((request.metric.value, request.call.tool))


class BrokenListing(MemoryRunStateStore):
    async def list_scenarios(self) -> Any:
        raise RuntimeError("secret-detail-5b1f")


class Harness:
    def __init__(self, server: DecisionGateServer, log: io.StringIO) -> None:
        self.server = server
        self.log = log
        self.ids = 0

    async def call(self, tool: str, arguments: Any, authorization: str | None = None) -> RpcReply:
        self.ids += 1
        body = {
            "jsonrpc": "2.0",
            "id": self.ids,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        caller = Caller(transport="http", peer_ip="127.0.0.1", authorization=authorization)
        info = RpcRequestInfo(caller=caller, server_correlation_id=f"dg-test-{self.ids}")
        return await self.server.rpc.handle(json.dumps(body).encode(), info)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture
async def metered() -> AsyncIterator[tuple[Harness, QuotaWithoutRuns]]:
    config = parse_config("[server.audit]\nenabled = false\n" + CONFIG)
    seams = await load_seams(seam_sections(config))
    meter = QuotaWithoutRuns()
    seams = attrs.evolve(seams, usage_meter=FailClosedMeter(meter, seams.audit))
    log = io.StringIO()
    harness = Harness(DecisionGateServer(config, seams, auth_log=log), log)
    yield harness, meter
    await harness.server.close()


async def test_usage_is_recorded_only_for_calls_that_succeeded(
    metered: tuple[Harness, QuotaWithoutRuns],
) -> None:
    harness, meter = metered

    defined = await harness.call("scenario_define", {"spec": SPEC})
    missing = await harness.call(
        "scenario_status",
        {
            "scenario_id": "nope",
            "request": {
                "tenant_id": 1,
                "namespace_id": 1,
                "run_id": "r1",
                "requested_at": {"kind": "logical", "value": 1},
                "correlation_id": None,
            },
        },
    )

    assert defined.error is None
    assert missing.error is not None
    assert meter.recorded == [("tool_calls", "scenario_define")]


async def test_a_quota_denial_is_unauthorized_and_records_nothing(
    metered: tuple[Harness, QuotaWithoutRuns],
) -> None:
    harness, meter = metered
    await harness.call("scenario_define", {"spec": SPEC})

    refused = await harness.call("scenario_start", START)

    assert refused.error is not None
    assert (refused.status, refused.error.kind, refused.error.message) == (
        403,
        "unauthorized",
        "unauthorized",
    )
    assert ("runs_started", "scenario_start") not in meter.recorded
    assert ("tool_calls", "scenario_start") not in meter.recorded


async def test_an_unexpected_failure_is_answered_and_logged_without_its_text() -> None:
    config = parse_config("[server.audit]\nenabled = false\n" + CONFIG)
    seams = await load_seams(seam_sections(config))
    seams = attrs.evolve(seams, run_state_store=BrokenListing())
    log = io.StringIO()
    harness = Harness(DecisionGateServer(config, seams, auth_log=log), log)

    reply = await harness.call(
        "scenarios_list", {"tenant_id": 1, "namespace_id": 1, "cursor": None, "limit": 5}
    )
    await harness.server.close()

    assert reply.error is not None
    assert (reply.error.kind, reply.error.message) == ("internal", "internal error")
    assert "secret-detail-5b1f" not in reply.encoded().decode()
    (internal,) = [line for line in harness.lines() if line["event"] == "internal_error"]
    assert internal["exception"] == "RuntimeError"
    assert "secret-detail-5b1f" not in log.getvalue()


async def test_every_authentication_decision_leaves_an_authorization_line() -> None:
    token = "docs-authz-token"
    config = parse_config(
        '[server]\ntransport = "http"\nbind = "127.0.0.1:4000"\n'
        f'[server.audit]\nenabled = false\n[server.auth]\nmode = "bearer_token"\n'
        f'bearer_tokens = ["{token}"]\n' + CONFIG
    )
    seams = await load_seams(seam_sections(config))
    log = io.StringIO()
    harness = Harness(DecisionGateServer(config, seams, auth_log=log), log)

    await harness.call("providers_list", {}, authorization=f"Bearer {token}")
    await harness.call("providers_list", {}, authorization="Bearer wrong-token")
    await harness.server.close()

    allowed, denied = [line for line in harness.lines() if line["event"] == "mcp_tool_authz"]
    assert (allowed["decision"], allowed["reason"]) == ("allow", None)
    assert denied["decision"] == "deny"
    assert denied["reason"].startswith("unauthenticated")
    assert token not in log.getvalue()
    assert "wrong-token" not in log.getvalue()
    documented = (
        "action", "transport", "peer_ip", "auth_method", "subject", "token_fingerprint", "reason"
    )  # fmt: skip
    assert set(documented) <= set(allowed)
    assert '`"event":"mcp_tool_authz"`' in page_text("security.md")
