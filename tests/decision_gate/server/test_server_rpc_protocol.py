"""The /rpc wire contract (server.md §0-1, §8 items 1-20): envelope, errors, headers, limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

SERVER_ID = re.compile(r"^dg-[0-9a-f]{16}-[0-9a-f]{16}$")


@pytest.fixture
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def server(evidence_root: str) -> Iterator[RunningServer]:
    with run_server(server_config(evidence_root)) as running:
        yield running


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert "result" not in body
    return body["error"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------ envelope


def test_tools_list_returns_the_eighteen_tools_with_snake_case_input_schema(
    server: RunningServer,
) -> None:
    response = server.rpc("tools/list")

    tools = response.json()["result"]["tools"]
    assert response.status_code == 200
    assert len(tools) == 18
    assert all(set(tool) == {"name", "description", "input_schema"} for tool in tools)
    assert tools[0]["name"] == "scenario_define"
    assert tools[-1]["name"] == "decision_gate_docs_search"


def test_a_successful_call_has_exactly_one_json_content_item(server: RunningServer) -> None:
    response = server.call_raw("providers_list", {})

    body = response.json()
    assert response.status_code == 200
    assert body["id"] == 1
    assert len(body["result"]["content"]) == 1
    assert body["result"]["content"][0]["type"] == "json"
    assert set(body["result"]["content"][0]) == {"type", "json"}


def test_probes_answer_without_correlation_headers(server: RunningServer) -> None:
    health = server.client.get("/healthz")
    ready = server.client.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert "x-server-correlation-id" not in health.headers


def test_every_rpc_response_carries_a_distinct_server_correlation_id(
    server: RunningServer,
) -> None:
    first = server.rpc("tools/list").headers["x-server-correlation-id"]
    second = server.post(b"junk").headers["x-server-correlation-id"]

    assert SERVER_ID.match(first)
    assert SERVER_ID.match(second)
    assert first != second


def test_a_valid_client_correlation_id_is_echoed(server: RunningServer) -> None:
    response = server.rpc("tools/list", headers={"x-correlation-id": "abc-123"})

    assert response.headers["x-correlation-id"] == "abc-123"


@pytest.mark.parametrize("value", ["bad value", "a" * 129, "a/b", 'a"b', "a;b"])
def test_an_invalid_client_correlation_id_is_refused(server: RunningServer, value: str) -> None:
    response = server.rpc("tools/list", headers={"x-correlation-id": value})

    error = error_of(response)
    assert response.status_code == 400
    assert (error["code"], error["message"]) == (-32073, "invalid correlation id")
    assert error["data"] == {
        "kind": "invalid_correlation_id",
        "retryable": False,
        "request_id": None,
    }
    assert response.json()["id"] is None
    assert SERVER_ID.match(response.headers["x-server-correlation-id"])
    assert "x-correlation-id" not in response.headers


# ------------------------------------------------------------------ malformed requests fail closed


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"jsonrpc":"2.0","method":"tools/list"}',
        b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]',
        b'{"jsonrpc":"2.0","id":1}',
        b'{"id":1,"method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":1,"method":7}',
        b'{"jsonrpc":"2.0","id":NaN,"method":"tools/list"}',
        b"",
    ],
    ids=["not-json", "no-id", "batch", "no-method", "no-version", "method-type", "nan", "empty"],
)
def test_a_body_that_is_not_a_json_rpc_request_is_invalid_request(
    server: RunningServer, body: bytes
) -> None:
    response = server.post(body)

    error = error_of(response)
    assert response.status_code == 400
    assert response.json()["id"] is None
    assert (error["code"], error["message"]) == (-32600, "invalid json-rpc request")
    assert error["data"] == {"kind": "invalid_request", "retryable": False, "request_id": None}


def test_a_deeply_nested_body_is_invalid_request_not_a_crash(server: RunningServer) -> None:
    response = server.post(b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 100_000)

    assert response.status_code == 400
    assert error_of(response)["code"] == -32600


def test_a_wrong_json_rpc_version_echoes_the_id(server: RunningServer) -> None:
    response = server.post({"jsonrpc": "1.0", "id": 9, "method": "tools/list"})

    error = error_of(response)
    assert response.status_code == 400
    assert response.json()["id"] == 9
    assert (error["code"], error["message"]) == (-32600, "invalid json-rpc version")


@pytest.mark.parametrize("method", ["initialize", "ping", "tools/delete", ""])
def test_an_unknown_method_is_method_not_found(server: RunningServer, method: str) -> None:
    response = server.rpc(method)

    error = error_of(response)
    assert response.status_code == 400
    assert (error["code"], error["message"], error["data"]["kind"]) == (
        -32601,
        "method not found",
        "method_not_found",
    )


@pytest.mark.parametrize(
    "params",
    [None, {"name": "providers_list"}, {"arguments": {}}, [], {"name": 3, "arguments": {}}],
    ids=["no-params", "no-arguments", "no-name", "array", "name-type"],
)
def test_tools_call_without_name_and_arguments_is_invalid_tool_params(
    server: RunningServer, params: Any
) -> None:
    response = server.rpc("tools/call", params)

    error = error_of(response)
    assert response.status_code == 400
    assert (error["code"], error["message"]) == (-32602, "invalid tool params")


def test_an_unknown_tool_is_unknown_tool(server: RunningServer) -> None:
    status, error = server.error("nonexistent_tool", {})

    assert status == 400
    assert (error["code"], error["message"]) == (-32601, "unknown tool")


def test_an_unknown_argument_field_is_refused_with_its_path(server: RunningServer) -> None:
    status, error = server.error(
        "scenario_status",
        {
            "scenario_id": "s",
            "request": {
                "run_id": "r",
                "tenant_id": 1,
                "namespace_id": 1,
                "requested_at": {"kind": "logical", "value": 1},
                "correlation_id": None,
                "tenent": 2,
            },
        },
    )

    assert status == 400
    assert error["code"] == -32602
    assert error["data"]["kind"] == "invalid_params"
    assert error["message"] == (
        'invalid arguments for scenario_status: $.request: unknown field(s) "tenent"'
    )


def test_a_missing_argument_field_is_named(server: RunningServer) -> None:
    status, error = server.error("provider_check_schema_get", {"provider_id": "time"})

    assert status == 400
    assert error["message"] == (
        'invalid arguments for provider_check_schema_get: $: missing field "check_id"'
    )


def test_tenant_zero_is_invalid_params(server: RunningServer) -> None:
    status, error = server.error(
        "schemas_list", {"tenant_id": 0, "namespace_id": 1, "cursor": None, "limit": 5}
    )

    assert (status, error["code"]) == (400, -32602)
    assert "$.tenant_id" in error["message"]


@pytest.mark.parametrize(("request_id", "text"), [(5, "5"), ("abc", '"abc"'), (None, "null")])
def test_error_data_carries_the_json_text_of_the_request_id(
    server: RunningServer, request_id: Any, text: str
) -> None:
    response = server.post(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "nope", "arguments": {}},
        }
    )

    assert response.json()["id"] == request_id
    assert error_of(response)["data"]["request_id"] == text


def test_domain_errors_are_http_200(server: RunningServer) -> None:
    status, error = server.error(
        "scenario_status",
        {
            "scenario_id": "undefined",
            "request": {
                "run_id": "r",
                "tenant_id": 1,
                "namespace_id": 1,
                "requested_at": {"kind": "logical", "value": 1},
                "correlation_id": None,
            },
        },
    )

    assert (status, error["code"], error["message"]) == (200, -32004, "scenario not defined")
    assert error["data"]["kind"] == "not_found"


# ------------------------------------------------------------------ body size


def test_an_oversized_body_is_refused_with_413_before_parsing(evidence_root: str) -> None:
    with run_server(server_config(evidence_root, server_keys="max_body_bytes = 512")) as server:
        response = server.post(b"x" * 800)

    assert response.status_code == 413
    assert "too large" in response.text
    assert "x-server-correlation-id" not in response.headers


def test_a_body_of_exactly_the_limit_is_processed(evidence_root: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": ""}}
    size = len(json.dumps(body, separators=(",", ":")).encode())
    body["params"] = {"pad": "x" * (512 - size)}
    data = json.dumps(body, separators=(",", ":")).encode()
    assert len(data) == 512
    with run_server(server_config(evidence_root, server_keys="max_body_bytes = 512")) as server:
        response = server.post(data, headers={"content-type": "application/json"})

    assert response.status_code == 200
    assert len(response.json()["result"]["tools"]) == 18


def test_a_chunked_body_over_the_limit_is_refused(evidence_root: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":"'
        for _ in range(10):
            yield b"x" * 100
        yield b'"}'

    with run_server(server_config(evidence_root, server_keys="max_body_bytes = 512")) as server:
        response = server.client.post("/rpc", content=chunks())

    assert response.status_code == 413


# ------------------------------------------------------------------ limits


def test_the_rate_limit_refuses_the_third_request_in_a_window(evidence_root: str) -> None:
    extra = "[server.limits.rate_limit]\nmax_requests = 2\nwindow_ms = 60000\n"
    with run_server(server_config(evidence_root, extra)) as server:
        first, second, third = (server.rpc("tools/list") for _ in range(3))

    error = error_of(third)
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert (error["code"], error["message"]) == (-32071, "rate limit exceeded")
    assert error["data"]["kind"] == "rate_limited"
    assert error["data"]["retryable"] is True
    assert 0 < error["data"]["retry_after_ms"] <= 60000


# ------------------------------------------------------------------ SSE


def test_sse_mode_sends_the_response_as_one_data_event(evidence_root: str) -> None:
    with run_server(server_config(evidence_root, transport="sse")) as server:
        response = server.rpc("tools/list")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("data: ")
    assert response.text.endswith("\n\n")
    payload = json.loads(response.text[len("data: ") :])
    assert len(payload["result"]["tools"]) == 18


def test_sse_mode_keeps_error_statuses(evidence_root: str) -> None:
    with run_server(server_config(evidence_root, transport="sse")) as server:
        response = server.rpc("initialize")

    assert response.status_code == 400
    assert json.loads(response.text[len("data: ") :])["error"]["code"] == -32601


# ------------------------------------------------------------------ docs resources


def test_resources_list_names_markdown_docs_under_the_docs_scheme(server: RunningServer) -> None:
    resources = server.rpc("resources/list").json()["result"]["resources"]

    assert resources
    assert all(item["uri"].startswith("decision-gate://docs/") for item in resources)
    assert all(item["mimeType"] == "text/markdown" for item in resources)


def test_resources_read_returns_the_page(server: RunningServer) -> None:
    response = server.rpc("resources/read", {"uri": "decision-gate://docs/evidence-flow"})

    (content,) = response.json()["result"]["contents"]
    assert "# Evidence Flow + Execution Model" in content["text"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "resources.read requires uri"),
        ({"uri": "file:///etc/passwd"}, "resource uri must start with decision-gate://docs/"),
        ({"uri": "decision-gate://docs/x"}, "unknown resource uri: decision-gate://docs/x"),
    ],
)
def test_resources_read_refuses_bad_uris(
    server: RunningServer, params: dict[str, Any], message: str
) -> None:
    response = server.rpc("resources/read", params)

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["message"]) == (-32602, message)


def test_disabled_docs_hide_search_and_resources(evidence_root: str) -> None:
    with run_server(server_config(evidence_root, "[docs]\nenabled = false\n")) as server:
        names = [tool["name"] for tool in server.rpc("tools/list").json()["result"]["tools"]]
        search_status, search_error = server.error("decision_gate_docs_search", {"query": "x"})
        resources = server.rpc("resources/list")

    assert "decision_gate_docs_search" not in names
    assert (search_status, search_error["message"]) == (400, "unknown tool")
    assert (resources.status_code, error_of(resources)["message"]) == (400, "method not found")


def test_an_invalid_params_message_stays_short_for_a_huge_value(server: RunningServer) -> None:
    status, error = server.error("provider_contract_get", {"provider_id": ["x" * 200_000]})

    assert status == 400
    assert error["message"].startswith("invalid arguments for provider_contract_get: $.provider_id")
    assert len(error["message"]) <= 600
