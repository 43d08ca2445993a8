"""A client that speaks exactly as the reference's Python SDK (server.md §1.6) works unchanged.

`SdkStyleClient` reproduces the SDK's wire behaviour with the standard
library, as the SDK does: `urllib` POSTs to `/rpc` with its headers, integer
ids counting from 1, `tools/call` only, `json.dumps` spacing; any non-2xx is
a transport error; a 2xx body with an `error` is an RPC error; otherwise the
first content item must be `{"type": "json", "json": ...}`.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

TOKEN = "sdk-test-token"


class TransportError(Exception):
    def __init__(self, status_code: int | None, body: str) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data or {}

    @property
    def kind(self) -> Any:
        return self.data.get("kind")


class SdkStyleClient:
    def __init__(self, endpoint: str, auth_token: str | None = None) -> None:
        self.endpoint = endpoint
        self.auth_token = auth_token
        self.sent_ids: list[int] = []
        self._ids = itertools.count(1)

    def call_tool(self, name: str, arguments: Any) -> Any:
        request_id = next(self._ids)
        self.sent_ids.append(request_id)
        payload = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "decision-gate-python-sdk/0.1.0",
        }
        if self.auth_token:
            headers["Authorization"] = f"Bearer {self.auth_token}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(payload).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            raise TransportError(error.code, error.read().decode("utf-8", "replace")) from error
        decoded = json.loads(body)
        assert isinstance(decoded, dict)
        assert decoded.get("jsonrpc") in (None, "2.0")
        if decoded.get("error") is not None:
            error_body = decoded["error"]
            assert isinstance(error_body["code"], int)
            assert isinstance(error_body["message"], str)
            raise RpcError(error_body["code"], error_body["message"], error_body.get("data"))
        content = decoded["result"]["content"]
        assert isinstance(content, list)
        assert content
        assert content[0]["type"] == "json"
        return content[0]["json"]


SPEC: dict[str, Any] = {
    "scenario_id": "sdk-scenario",
    "namespace_id": 2,
    "spec_version": "1",
    "default_tenant_id": 1,
    "policies": [],
    "schemas": [],
    "conditions": [
        {
            "condition_id": "after",
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
            "query": {"provider_id": "time", "check_id": "after", "params": {"timestamp": 0}},
        }
    ],
    "stages": [
        {
            "stage_id": "main",
            "entry_packets": [],
            "gates": [{"gate_id": "g", "requirement": {"Condition": "after"}}],
            "advance_to": {"kind": "terminal"},
            "on_timeout": "fail",
            "timeout": None,
        }
    ],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "evidence").mkdir()
    extra = f'[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["{TOKEN}"]\n'
    with run_server(server_config(str(tmp_path / "evidence"), extra)) as running:
        yield running


def client_for(server: RunningServer, token: str | None = TOKEN) -> SdkStyleClient:
    return SdkStyleClient(f"{server.base_url}/rpc", auth_token=token)


def start_arguments(run_id: str) -> dict[str, Any]:
    return {
        "scenario_id": "sdk-scenario",
        "run_config": {
            "tenant_id": 1,
            "namespace_id": 2,
            "run_id": run_id,
            "scenario_id": "sdk-scenario",
            "dispatch_targets": [],
            "policy_tags": [],
        },
        "started_at": {"kind": "logical", "value": 1},
        "issue_entry_packets": False,
    }


def test_the_sdk_flow_defines_starts_advances_and_reads_status(server: RunningServer) -> None:
    client = client_for(server)

    defined = client.call_tool("scenario_define", {"spec": SPEC})
    started = client.call_tool("scenario_start", start_arguments("run-1"))
    advanced = client.call_tool(
        "scenario_trigger",
        {
            "scenario_id": "sdk-scenario",
            "trigger": {
                "trigger_id": "t-1",
                "tenant_id": 1,
                "namespace_id": 2,
                "run_id": "run-1",
                "kind": "tick",
                "time": {"kind": "logical", "value": 2},
                "source_id": "sdk",
                "payload": None,
                "correlation_id": None,
            },
        },
    )
    status = client.call_tool(
        "scenario_status",
        {
            "scenario_id": "sdk-scenario",
            "request": {
                "run_id": "run-1",
                "tenant_id": 1,
                "namespace_id": 2,
                "requested_at": {"kind": "logical", "value": 3},
                "correlation_id": None,
            },
        },
    )

    assert defined["scenario_id"] == "sdk-scenario"
    assert started["status"] == "active"
    assert advanced["status"] == "completed"
    assert status["status"] == "completed"
    assert client.sent_ids == [1, 2, 3, 4]


def test_without_a_token_the_sdk_sees_a_transport_error_401(server: RunningServer) -> None:
    client = client_for(server, token=None)

    with pytest.raises(TransportError) as raised:
        client.call_tool("scenario_define", {"spec": SPEC})

    assert raised.value.status_code == 401
    assert json.loads(raised.value.body)["error"]["message"] == "unauthenticated"


def test_a_domain_error_reaches_the_sdk_as_an_rpc_error(server: RunningServer) -> None:
    client = client_for(server)
    client.call_tool("scenario_define", {"spec": SPEC})
    client.call_tool("scenario_start", start_arguments("run-1"))

    with pytest.raises(RpcError) as raised:
        client.call_tool("scenario_start", start_arguments("run-1"))

    assert raised.value.code == -32030
    assert str(raised.value) == "run already exists: run-1"
    assert raised.value.kind == "control_plane"


def test_redefining_the_same_spec_is_idempotent_and_a_changed_one_conflicts(
    server: RunningServer,
) -> None:
    client = client_for(server)
    first = client.call_tool("scenario_define", {"spec": SPEC})
    again = client.call_tool("scenario_define", {"spec": SPEC})

    with pytest.raises(RpcError) as raised:
        client.call_tool("scenario_define", {"spec": {**SPEC, "spec_version": "2"}})

    assert again == first
    assert (raised.value.code, str(raised.value)) == (-32009, "scenario already defined")
