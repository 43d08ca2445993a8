"""Server-wide behaviour over time: the inflight cap under a held request, restarts on SQLite."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from server_harness import run_server, server_config

SPEC: dict[str, Any] = {
    "scenario_id": "durable",
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
            "gates": [{"gate_id": "wait", "requirement": {"Condition": "later"}}],
            "advance_to": {"kind": "terminal"},
            "on_timeout": "fail",
            "timeout": None,
        }
    ],
}


def json_query(file: str) -> dict[str, Any]:
    return {
        "query": {"provider_id": "json", "check_id": "path", "params": {"file": file}},
        "context": {
            "tenant_id": 1,
            "namespace_id": 1,
            "run_id": "r",
            "scenario_id": "s",
            "stage_id": "main",
            "trigger_id": "t",
            "trigger_time": {"kind": "logical", "value": 1},
            "correlation_id": None,
        },
    }


def open_writer_once_read(fifo: Path, deadline: float) -> int | None:
    """A write end of `fifo`, once the server has opened it for reading (None if it never does)."""
    while time.monotonic() < deadline:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            time.sleep(0.01)
    return None


def test_a_request_beyond_max_inflight_is_refused_with_503(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    root.mkdir()
    fifo = root / "held.json"
    os.mkfifo(fifo)
    config = server_config(str(root), "[server.limits]\nmax_inflight = 1\n")
    with run_server(config) as server:
        held: dict[str, Any] = {}
        deadline = time.monotonic() + 20

        def hold() -> None:
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "evidence_query", "arguments": json_query("held.json")},
            }
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                response = client.post("/rpc", json=body)
                while response.status_code == 503 and time.monotonic() < deadline:
                    response = client.post("/rpc", json=body)
                held["response"] = response

        holder = threading.Thread(target=hold)
        holder.start()
        writer = open_writer_once_read(fifo, deadline)
        assert writer is not None, "the held request never reached the provider"
        try:
            refused = server.rpc("tools/list")
        finally:
            os.write(writer, b'{"ok": true}')
            os.close(writer)
        holder.join(timeout=30)
        after = server.rpc("tools/list")

    error = refused.json()["error"]
    assert refused.status_code == 503
    assert (error["code"], error["message"]) == (-32072, "server overloaded")
    assert (error["data"]["kind"], error["data"]["retryable"]) == ("inflight_limit", True)
    assert held["response"].status_code == 200
    assert after.status_code == 200


def test_runs_schemas_and_scenarios_survive_a_restart_on_sqlite(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    stores = (
        f'[run_state_store]\ntype = "sqlite"\npath = "{tmp_path / "runs.db"}"\n'
        f'[schema_registry]\ntype = "sqlite"\npath = "{tmp_path / "registry.db"}"\n'
    )
    config = server_config(str(tmp_path / "evidence"), stores)
    status = {
        "scenario_id": "durable",
        "request": {
            "run_id": "run-1",
            "tenant_id": 1,
            "namespace_id": 1,
            "requested_at": {"kind": "logical", "value": 5},
            "correlation_id": None,
        },
    }
    with run_server(config) as first:
        first.call("scenario_define", {"spec": SPEC})
        first.call(
            "scenario_start",
            {
                "scenario_id": "durable",
                "run_config": {
                    "tenant_id": 1,
                    "namespace_id": 1,
                    "run_id": "run-1",
                    "scenario_id": "durable",
                    "dispatch_targets": [],
                    "policy_tags": [],
                },
                "started_at": {"kind": "logical", "value": 0},
                "issue_entry_packets": False,
            },
        )
        before = first.call("scenario_status", status)

    with run_server(config) as second:
        after = second.call("scenario_status", status)
        listed = second.call(
            "scenarios_list", {"tenant_id": 1, "namespace_id": 1, "cursor": None, "limit": 10}
        )

    assert before["status"] == after["status"] == "active"
    assert [item["scenario_id"] for item in listed["items"]] == ["durable"]
