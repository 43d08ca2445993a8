"""scenario_next feedback: the gate evaluations of the request's trigger id, at a cost
that does not grow with the run (server.md §2.2 scenario_next, ARCHITECTURE).

The server is built from a config as `serve` builds it, with its run-state
store a real SQLite file whose connection reports every SQL statement and
SQLite VM step it runs; requests go through the server's JSON-RPC service (the
layer every transport shares) as a loopback HTTP client, which gets trace
feedback by default.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.decision_gate.stores.test_sqlite_run_state_store import WorkLog, query_plans

from decision_gate.config import parse_config
from decision_gate.plugins import load_seams
from decision_gate.server.app import DecisionGateServer, seam_sections
from decision_gate.server.auth import Caller
from decision_gate.server.rpc import RpcRequestInfo
from decision_gate.stores import SqliteRunStateStore

CONFIG = """
[server.audit]
enabled = false

[namespace]
allow_default = true
default_tenants = [1]

[[providers]]
name = "time"
type = "builtin"
"""
EVIDENCE_FEEDBACK = """
[server.feedback.scenario_next]
max = "evidence"
evidence_subjects = ["loopback"]
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
            "condition_id": "after",
            "query": {"provider_id": "time", "check_id": "after", "params": {"timestamp": 0}},
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
        },
        {
            "condition_id": "never",
            "query": {"provider_id": "time", "check_id": "before", "params": {"timestamp": 0}},
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
        },
    ],
    "stages": [
        {
            "stage_id": "wait",
            "entry_packets": [],
            "gates": [
                {"gate_id": "ready", "requirement": {"Condition": "after"}},
                {"gate_id": "held", "requirement": {"Condition": "never"}},
            ],
            "advance_to": {"kind": "terminal"},
            "timeout": None,
            "on_timeout": "fail",
        }
    ],
}
START = {
    "scenario_id": "s",
    "issue_entry_packets": False,
    "started_at": {"kind": "logical", "value": 1},
    "run_config": {
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": "r1",
        "scenario_id": "s",
        "dispatch_targets": [],
        "policy_tags": [],
    },
}
RUN_LENGTH = 300


def next_arguments(n: int, *, time: int | None = None, feedback: str | None = None) -> Any:
    arguments: dict[str, Any] = {
        "scenario_id": "s",
        "request": {
            "tenant_id": 1,
            "namespace_id": 1,
            "run_id": "r1",
            "trigger_id": f"t{n:04d}",
            "agent_id": "agent",
            "time": {"kind": "logical", "value": 1 + (n if time is None else time)},
            "correlation_id": None,
        },
    }
    if feedback is not None:
        arguments["feedback"] = feedback
    return arguments


class LoopbackClient:
    """Tool calls as a loopback HTTP client sends them, answered by the RPC service."""

    def __init__(self, server: DecisionGateServer) -> None:
        self.server = server
        self.ids = 0

    async def call(self, tool: str, arguments: Any) -> Any:
        self.ids += 1
        body = {
            "jsonrpc": "2.0",
            "id": self.ids,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        caller = Caller(transport="http", peer_ip="127.0.0.1")
        info = RpcRequestInfo(caller=caller, server_correlation_id=f"dg-test-{self.ids}")
        reply = await self.server.rpc.handle(json.dumps(body).encode(), info)
        assert reply.error is None, reply.body
        (item,) = reply.body["result"]["content"]
        return item["json"]


async def serve(
    db_path: Path, work: WorkLog, extra_config: str = ""
) -> tuple[DecisionGateServer, LoopbackClient]:
    config = parse_config(CONFIG + extra_config)
    seams = await load_seams(seam_sections(config))
    store = SqliteRunStateStore(db_path, synchronous="normal", on_connect=work.attach)
    server = DecisionGateServer(
        config, attrs.evolve(seams, run_state_store=store), auth_log=io.StringIO()
    )
    client = LoopbackClient(server)
    await client.call("scenario_define", {"spec": SPEC})
    await client.call("scenario_start", START)
    return server, client


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[LoopbackClient, WorkLog, Path]]:
    work = WorkLog()
    db_path = tmp_path / "runs.sqlite3"
    server, client = await serve(db_path, work)
    yield client, work, db_path
    await server.close()


async def test_the_store_work_of_a_traced_next_does_not_grow_with_the_run(
    served: tuple[LoopbackClient, WorkLog, Path],
) -> None:
    client, work, db_path = served
    fresh: dict[int, tuple[list[str], int]] = {}
    replayed: dict[int, tuple[list[str], int]] = {}
    for n in range(1, RUN_LENGTH + 1):
        work.take()
        result = await client.call("scenario_next", next_arguments(n))
        fresh[n] = work.take()
        assert result["feedback"]["level"] == "trace"
        assert [e["gate_id"] for e in result["feedback"]["gate_evaluations"]] == [
            "ready",
            "held",
        ]
        if n in (10, RUN_LENGTH):
            # A replay of a trigger some way back (not the run's last trigger id in
            # index order, whose probe has no next entry to step onto).
            replay = await client.call("scenario_next", next_arguments(n - 5, time=n))
            replayed[n] = work.take()
            assert replay["feedback"]["gate_evaluations"] == result["feedback"]["gate_evaluations"]

    early, late = fresh[10], fresh[RUN_LENGTH]
    assert len(late[0]) == len(early[0])
    assert late[1] == early[1]
    assert len(replayed[RUN_LENGTH][0]) == len(replayed[10][0])
    assert replayed[RUN_LENGTH][1] == replayed[10][1]
    plans = list(query_plans(db_path, late[0] + replayed[RUN_LENGTH][0]))
    assert plans
    assert not [plan for plan in plans if plan.startswith("SCAN")]


async def test_trace_feedback_shows_the_evaluations_of_the_requests_trigger_only(
    served: tuple[LoopbackClient, WorkLog, Path],
) -> None:
    client, _, _ = served
    first = await client.call("scenario_next", next_arguments(1))
    second = await client.call("scenario_next", next_arguments(2))

    assert first["feedback"] == second["feedback"]
    assert first["feedback"] == {
        "level": "trace",
        "gate_evaluations": [
            {
                "gate_id": "ready",
                "status": "True",
                "trace": [{"condition_id": "after", "status": "True"}],
            },
            {
                "gate_id": "held",
                "status": "False",
                "trace": [{"condition_id": "never", "status": "False"}],
            },
        ],
    }


async def test_a_replayed_next_gets_the_decision_and_feedback_of_its_first_call(
    served: tuple[LoopbackClient, WorkLog, Path],
) -> None:
    client, _, _ = served
    first = await client.call("scenario_next", next_arguments(1))
    await client.call("scenario_next", next_arguments(2))

    replayed = await client.call("scenario_next", next_arguments(1, time=5))

    assert replayed == first


async def test_a_summary_next_has_no_gate_evaluations(
    served: tuple[LoopbackClient, WorkLog, Path],
) -> None:
    client, _, _ = served
    result = await client.call("scenario_next", next_arguments(1, feedback="summary"))

    assert result["feedback"] == {"level": "summary"}


async def test_a_replayed_next_gets_the_evidence_feedback_of_its_first_call(
    tmp_path: Path,
) -> None:
    server, client = await serve(tmp_path / "runs.sqlite3", WorkLog(), EVIDENCE_FEEDBACK)
    try:
        first = await client.call("scenario_next", next_arguments(1, feedback="evidence"))
        await client.call("scenario_next", next_arguments(2, feedback="evidence"))
        replayed = await client.call(
            "scenario_next", next_arguments(1, time=5, feedback="evidence")
        )
    finally:
        await server.close()

    assert first["feedback"]["level"] == "evidence"
    records = first["feedback"]["gate_records"]
    assert [record["evaluation"]["gate_id"] for record in records] == ["ready", "held"]
    assert {record["trigger_id"] for record in records} == {"t0001"}
    assert all(e["result"]["value"] is None for r in records for e in r["evidence"])
    assert replayed == first
