"""Standard MCP: the official `mcp` client against a running server, over `/mcp` and stdio.

Every call goes through the SDK's own client (`streamable_http_client` or
`stdio_client` + `ClientSession`), so these tests see exactly what any MCP
host sees: the handshake, `tools/list` with the contract's schemas, and
`tools/call` results whose `structuredContent` the client itself checks
against the published `outputSchema`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult
from server_harness import RunningServer, run_server, server_config

from decision_gate.config.model import AuthConfig, AuthMode, ServerConfig, Transport
from decision_gate.server.auth import Authenticator
from decision_gate.server.catalogue import TOOL_NAMES, output_problems, tool_contracts
from decision_gate.server.errors import Unauthenticated
from decision_gate.server.mcp_standard import (
    BoundedLines,
    StdioFraming,
    caller_for,
    detect_stdio_framing,
    transport_security,
)

TOKEN = "mcp-test-token-0123456789abcdef"
STAGES = ("build", "ship")
SPEC: dict[str, Any] = {
    "scenario_id": "mcp-release",
    "spec_version": "1",
    "namespace_id": 1,
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
            "stage_id": stage,
            "advance_to": {"kind": "terminal" if stage == STAGES[-1] else "linear"},
            "entry_packets": [],
            "gates": [{"gate_id": f"{stage}-gate", "requirement": {"Condition": "after"}}],
            "on_timeout": "fail",
            "timeout": None,
        }
        for stage in STAGES
    ],
}
RUN = {"tenant_id": 1, "namespace_id": 1, "run_id": "run-1"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(server_config(str(tmp_path))) as running:
        yield running


@contextlib.asynccontextmanager
async def mcp_over_http(
    base_url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def mcp_over_stdio(config_path: Path) -> AsyncIterator[ClientSession]:
    """`decision-gate serve` as a child process; its stderr goes next to the config."""
    command = StdioServerParameters(
        command=sys.executable, args=["-m", "decision_gate", "serve", "--config", str(config_path)]
    )
    with (config_path.parent / "server-stderr.log").open("w") as errlog:
        async with (
            stdio_client(command, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def structured(name: str, result: object) -> dict[str, Any]:
    """The result's structuredContent, checked the way a careful client would."""
    assert isinstance(result, CallToolResult)
    assert not result.is_error, result.content
    value = result.structured_content
    assert isinstance(value, dict)
    assert output_problems(name, value) == []
    (text,) = result.content
    assert text.type == "text"
    assert json.loads(text.text) == value
    return value


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error
    assert result.structured_content is None
    (text,) = result.content
    assert text.type == "text"
    error: dict[str, Any] = json.loads(text.text)
    return error


async def run_scenario(session: ClientSession | Client, runpack_dir: Path) -> list[str]:
    """Define, start, advance until completed, export and verify; the tools called."""
    called: list[str] = []

    async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        called.append(name)
        return structured(name, await session.call_tool(name, arguments))

    defined = await call("scenario_define", {"spec": SPEC})
    assert defined["scenario_id"] == "mcp-release"
    started = await call(
        "scenario_start",
        {
            "scenario_id": "mcp-release",
            "run_config": {
                **RUN,
                "scenario_id": "mcp-release",
                "dispatch_targets": [{"kind": "agent", "agent_id": "agent-alpha"}],
                "policy_tags": [],
            },
            "started_at": {"kind": "logical", "value": 1},
            "issue_entry_packets": False,
        },
    )
    assert started["status"] == "active"
    assert started["current_stage_id"] == "build"
    status = started["status"]
    for step in range(2, 2 + 2 * len(STAGES)):
        if status == "completed":
            break
        advanced = await call(
            "scenario_next",
            {
                "scenario_id": "mcp-release",
                "request": {
                    **RUN,
                    "agent_id": "agent-alpha",
                    "correlation_id": None,
                    "time": {"kind": "logical", "value": step},
                    "trigger_id": f"next-{step}",
                },
            },
        )
        status = advanced["status"]
    assert status == "completed"
    exported = await call(
        "runpack_export",
        {
            **RUN,
            "scenario_id": "mcp-release",
            "output_dir": str(runpack_dir),
            "manifest_name": "manifest.json",
            "generated_at": {"kind": "logical", "value": 100},
            "include_verification": True,
        },
    )
    assert exported["manifest"]["run_id"] == "run-1"
    verified = await call(
        "runpack_verify", {"runpack_dir": str(runpack_dir), "manifest_path": "manifest.json"}
    )
    assert verified["status"] == "pass"
    return called


# --------------------------------------------------------------------------- /mcp


async def test_the_handshake_names_the_server_and_offers_tools(server: RunningServer) -> None:
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        streamable_http_client(f"{server.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        result = await session.initialize()

    assert result.server_info.name == "decision-gate"
    assert result.capabilities.tools is not None


async def test_tools_list_publishes_the_18_contract_tools_with_their_schemas(
    server: RunningServer,
) -> None:
    async with mcp_over_http(server.base_url) as session:
        listed = await session.list_tools()

    contracts = tool_contracts()
    assert [tool.name for tool in listed.tools] == [c.name for c in contracts]
    assert len(listed.tools) == 18
    for tool, contract in zip(listed.tools, contracts, strict=True):
        assert tool.description == contract.description
        assert tool.input_schema == contract.input_schema
        assert tool.output_schema == contract.output_schema


async def test_a_scenario_runs_to_completion_over_mcp_http(
    server: RunningServer, tmp_path: Path
) -> None:
    async with mcp_over_http(server.base_url) as session:
        called = await run_scenario(session, tmp_path / "runpack")

    assert called[:2] == ["scenario_define", "scenario_start"]
    assert called[-2:] == ["runpack_export", "runpack_verify"]
    assert "scenario_next" in called
    assert (tmp_path / "runpack" / "manifest.json").is_file()


async def test_a_scenario_runs_to_completion_over_the_2026_protocol(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = f'\n[server.audit]\nenabled = true\npath = "{audit}"\n'
    with run_server(server_config(str(tmp_path), extra)) as running:
        async with Client(f"{running.base_url}/mcp") as client:
            version = client.session.protocol_version
            called = await run_scenario(client, tmp_path / "runpack")

    assert version == "2026-07-28"
    assert called[-1] == "runpack_verify"
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    requests = [(e["method"], e["tool"]) for e in events if e.get("event") == "mcp_request"]
    assert requests.count(("ToolsList", None)) <= 1
    assert [tool for method, tool in requests if method == "ToolsCall"] == called


async def test_the_docs_pages_are_mcp_resources(server: RunningServer) -> None:
    async with mcp_over_http(server.base_url) as session:
        listed = await session.list_resources()
        uri = str(listed.resources[0].uri)
        read = await session.read_resource(uri)
        with pytest.raises(MCPError) as unknown:
            await session.read_resource("decision-gate://docs/no-such-page")

    assert all(str(r.uri).startswith("decision-gate://docs/") for r in listed.resources)
    (content,) = read.contents
    assert content.mime_type == "text/markdown"
    assert content.text
    assert unknown.value.code == -32602


async def test_a_run_started_over_mcp_is_the_run_rpc_sees(
    server: RunningServer, tmp_path: Path
) -> None:
    async with mcp_over_http(server.base_url) as session:
        await run_scenario(session, tmp_path / "runpack")

    status = server.call(
        "scenario_status",
        {
            "scenario_id": "mcp-release",
            "request": {
                **RUN,
                "requested_at": {"kind": "logical", "value": 50},
                "correlation_id": None,
            },
        },
    )
    assert status["status"] == "completed"


async def test_a_tool_error_is_an_error_result_with_the_code_and_kind_rpc_gives(
    server: RunningServer,
) -> None:
    arguments = {"scenario_id": "nowhere", "unexpected": 1}
    _, rpc_error = server.error("scenario_status", arguments)

    async with mcp_over_http(server.base_url) as session:
        result = await session.call_tool("scenario_status", arguments)

    error = error_of(result)
    assert error["code"] == rpc_error["code"] == -32602
    assert error["message"] == rpc_error["message"]
    assert error["data"]["kind"] == rpc_error["data"]["kind"] == "invalid_params"
    assert error["data"]["retryable"] is False


async def test_a_domain_error_is_an_error_result_not_a_crash(server: RunningServer) -> None:
    async with mcp_over_http(server.base_url) as session:
        missing = await session.call_tool(
            "scenario_next",
            {
                "scenario_id": "never-defined",
                "request": {
                    **RUN,
                    "agent_id": "a",
                    "correlation_id": None,
                    "time": {"kind": "logical", "value": 1},
                    "trigger_id": "t",
                },
            },
        )
        still_serving = await session.call_tool("providers_list", {})

    error = error_of(missing)
    assert (error["code"], error["data"]["kind"]) == (-32004, "not_found")
    assert not still_serving.is_error


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def test_any_arguments_get_a_schema_valid_result_or_a_well_formed_error(tmp_path: Path) -> None:
    async def call(base_url: str, name: str, arguments: dict[str, Any]) -> CallToolResult:
        async with mcp_over_http(base_url) as session:
            result = await session.call_tool(name, arguments)
        assert isinstance(result, CallToolResult)
        return result

    with run_server(server_config(str(tmp_path))) as running:

        @settings(max_examples=100, deadline=None)
        @given(
            st.sampled_from((*TOOL_NAMES, "no_such_tool")),
            st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5),
        )
        def answers(name: str, arguments: dict[str, Any]) -> None:
            result = asyncio.run(call(running.base_url, name, arguments))
            if not result.is_error:
                structured(name, result)
                return
            error = error_of(result)
            assert isinstance(error["code"], int)
            assert error["code"] < 0
            assert isinstance(error["message"], str)
            assert isinstance(error["data"]["kind"], str)
            assert isinstance(error["data"]["retryable"], bool)

        answers()


async def test_an_unknown_tool_is_an_error_result_naming_method_not_found(
    server: RunningServer,
) -> None:
    async with mcp_over_http(server.base_url) as session:
        result = await session.call_tool("no_such_tool", {})

    error = error_of(result)
    assert error["code"] == -32601
    assert error["data"]["kind"] == "method_not_found"


async def test_mcp_requires_the_bearer_token_rpc_requires(tmp_path: Path) -> None:
    auth = f'\n[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["{TOKEN}"]\n'
    with run_server(server_config(str(tmp_path), auth)) as running:
        async with mcp_over_http(running.base_url) as anonymous:
            with pytest.raises(MCPError) as refused_list:
                await anonymous.list_tools()
            refused_call = await anonymous.call_tool("providers_list", {})
        headers = {"authorization": f"Bearer {TOKEN}"}
        async with mcp_over_http(running.base_url, headers) as authenticated:
            listed = await authenticated.list_tools()
            allowed = await authenticated.call_tool("providers_list", {})

    assert refused_list.value.code == -32001
    assert refused_list.value.message == "unauthenticated"
    assert error_of(refused_call)["data"]["kind"] == "unauthenticated"
    assert len(listed.tools) == 18
    assert not allowed.is_error


async def test_the_tool_allowlist_applies_to_mcp_calls(tmp_path: Path) -> None:
    auth = '\n[server.auth]\nmode = "local_only"\nallowed_tools = ["providers_list"]\n'
    with run_server(server_config(str(tmp_path), auth)) as running:
        async with mcp_over_http(running.base_url) as session:
            denied = await session.call_tool("scenarios_list", {"tenant_id": 1, "namespace_id": 1})
            allowed = await session.call_tool("providers_list", {})

    assert error_of(denied)["code"] == -32003
    assert not allowed.is_error


async def test_rpc_and_mcp_share_one_rate_limit_budget(tmp_path: Path) -> None:
    limits = "\n[server.limits.rate_limit]\nmax_requests = 4\nwindow_ms = 60000\nmax_entries = 16\n"
    with run_server(server_config(str(tmp_path), limits)) as running:
        running.call("providers_list", {})
        running.call("providers_list", {})
        async with mcp_over_http(running.base_url) as session:
            await session.list_tools()
            last_allowed = await session.call_tool("providers_list", {})
            limited = await session.call_tool("providers_list", {})

    assert not last_allowed.is_error
    error = error_of(limited)
    assert error["code"] == -32071
    assert error["data"]["kind"] == "rate_limited"
    assert error["data"]["retryable"] is True
    assert error["data"]["retry_after_ms"] > 0


async def test_an_invalid_client_correlation_id_is_refused(server: RunningServer) -> None:
    async with mcp_over_http(server.base_url, {"x-correlation-id": "bad id!"}) as session:
        result = await session.call_tool("providers_list", {})

    error = error_of(result)
    assert error["code"] == -32073
    assert error["data"]["kind"] == "invalid_correlation_id"


async def test_every_mcp_call_is_audited_like_an_rpc_call(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = f'\n[server.audit]\nenabled = true\npath = "{audit}"\n'
    with run_server(server_config(str(tmp_path), extra)) as running:
        async with mcp_over_http(running.base_url, {"x-correlation-id": "mcp-42"}) as session:
            await session.call_tool("providers_list", {})
            await session.call_tool("scenario_status", {"bogus": True})

    events = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = [e for e in events if e.get("event") == "mcp_request" and e["method"] == "ToolsCall"]
    assert [(e["tool"], e["outcome"], e["error_code"]) for e in calls] == [
        ("providers_list", "Ok", None),
        ("scenario_status", "Error", -32602),
    ]
    assert {e["unsafe_client_correlation_id"] for e in calls} == {"mcp-42"}
    assert all(e["server_correlation_id"].startswith("dg-") for e in calls)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
ACCEPT = {"accept": "application/json, text/event-stream"}


@contextlib.contextmanager
def audited_server(tmp_path: Path) -> Iterator[tuple[RunningServer, Path]]:
    audit = tmp_path / "audit.jsonl"
    extra = f'\n[server.audit]\nenabled = true\npath = "{audit}"\n'
    with run_server(server_config(str(tmp_path), extra)) as running:
        yield running, audit


def audit_events(audit: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


def test_a_foreign_host_header_is_refused_and_audited(tmp_path: Path) -> None:
    with audited_server(tmp_path) as (running, audit):
        response = httpx.post(
            f"{running.base_url}/mcp",
            json=INITIALIZE,
            headers={**ACCEPT, "host": "attacker.example"},
        )

    assert response.status_code == 421
    events = audit_events(audit)
    assert [e["kind"] for e in events if e.get("event") == "security_audit"] == [
        "transport_security_rejected"
    ]
    (refused,) = [e for e in events if e.get("event") == "mcp_request"]
    assert (refused["outcome"], refused["error_kind"]) == ("Error", "invalid_request")


def test_a_get_stream_is_not_offered(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/mcp", headers=ACCEPT, timeout=10)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_an_http_message_without_its_request_gets_no_local_trust() -> None:
    caller, _ = caller_for(Transport.HTTP, None, ServerConfig())

    with pytest.raises(Unauthenticated):
        Authenticator(AuthConfig(mode=AuthMode.LOCAL_ONLY)).authenticate(caller)


@pytest.mark.parametrize("bind", ["127.0.0.1:4000", "[::1]:4000", None])
def test_a_loopback_bind_checks_host_and_origin(bind: str | None) -> None:
    settings = transport_security(bind)

    assert settings is not None
    assert settings.enable_dns_rebinding_protection
    assert settings.allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def test_an_exposed_bind_leaves_host_checks_to_authentication() -> None:
    assert transport_security("0.0.0.0:4000") is None


def test_an_oversized_mcp_body_is_refused_before_parsing_and_audited(tmp_path: Path) -> None:
    with audited_server(tmp_path) as (running, audit):
        response = httpx.post(
            f"{running.base_url}/mcp",
            content=b"{" + b" " * 2_000_000,
            headers={**ACCEPT, "content-type": "application/json"},
        )

    assert response.status_code == 413
    (refused,) = [e for e in audit_events(audit) if e.get("event") == "mcp_request"]
    assert (refused["error_code"], refused["error_kind"]) == (-32070, "request_too_large")


# --------------------------------------------------------------------------- stdio


@pytest.fixture
def stdio_config(tmp_path: Path) -> Path:
    path = tmp_path / "decision-gate.toml"
    text = server_config(str(tmp_path)).replace('transport = "http"', 'transport = "stdio"')
    path.write_text(text.replace('bind = "127.0.0.1:0"\n', ""))
    return path


async def test_stdio_lists_the_18_tools_with_their_schemas(stdio_config: Path) -> None:
    async with mcp_over_stdio(stdio_config) as session:
        listed = await session.list_tools()

    assert {tool.name: (tool.input_schema, tool.output_schema) for tool in listed.tools} == {
        c.name: (c.input_schema, c.output_schema) for c in tool_contracts()
    }


async def test_a_scenario_runs_to_completion_over_stdio(stdio_config: Path, tmp_path: Path) -> None:
    async with mcp_over_stdio(stdio_config) as session:
        called = await run_scenario(session, tmp_path / "runpack")
        error = error_of(await session.call_tool("scenario_status", {"bogus": 1}))

    assert called[-1] == "runpack_verify"
    assert error["data"]["kind"] == "invalid_params"


async def test_the_2026_protocol_works_over_stdio(stdio_config: Path) -> None:
    command = StdioServerParameters(
        command=sys.executable, args=["-m", "decision_gate", "serve", "--config", str(stdio_config)]
    )
    async with Client(command) as client:
        version = client.session.protocol_version
        listed = structured("providers_list", await client.call_tool("providers_list", {}))

    assert version == "2026-07-28"
    assert [p["provider_id"] for p in listed["providers"]] == ["env", "json", "time"]


def test_serve_over_stdio_exits_cleanly_when_stdin_closes_first(stdio_config: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "decision_gate", "serve", "--config", str(stdio_config)],
        input=b"",
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == 0
    assert completed.stdout == b""


# --------------------------------------------------------------------------- framing


def reader(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


@pytest.mark.parametrize(
    ("first_bytes", "framing"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"initialize"}\n', StdioFraming.NEWLINE_JSON),
        (b"Content-Length: 42\r\n\r\n{}", StdioFraming.CONTENT_LENGTH),
        (b"content-length: 42\r\n\r\n{}", StdioFraming.CONTENT_LENGTH),
        (b"\r\n\n  {}\n", StdioFraming.NEWLINE_JSON),
    ],
)
def test_the_stdio_framing_is_told_by_the_first_bytes(
    first_bytes: bytes, framing: StdioFraming
) -> None:
    assert detect_stdio_framing(reader(first_bytes)) is framing


def test_detecting_the_framing_consumes_no_message_bytes() -> None:
    stream = reader(b"Content-Length: 2\r\n\r\n{}")

    detect_stdio_framing(stream)

    assert stream.read() == b"Content-Length: 2\r\n\r\n{}"


def test_an_empty_stdin_has_no_framing() -> None:
    assert detect_stdio_framing(reader(b"")) is None


def test_header_framed_input_of_any_header_goes_to_the_reference_reader() -> None:
    assert detect_stdio_framing(reader(b"X-Other: 1\r\n\r\n{}")) is StdioFraming.CONTENT_LENGTH


async def test_an_oversized_stdio_line_is_dropped_and_the_next_served() -> None:
    errors = io.StringIO()
    lines = BoundedLines(io.StringIO("{}\n" + "x" * 100 + "\n" + '{"a":1}\n'), 16, errors)

    served = [line async for line in lines]

    assert served == ["{}\n", '{"a":1}\n']
    assert "over 16 characters was dropped" in errors.getvalue()


# --------------------------------------------------------------------------- docs

DOCS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "transports" / "mcp.md"
DOC_URL = "http://127.0.0.1:4000/mcp"
FENCE = re.compile(r"```([^\n]*)\n(.*?)```", re.S)


def doc_files() -> dict[str, str]:
    """The page's `lang file=NAME` blocks by file name."""
    return {
        head.split("file=", 1)[1].strip(): body
        for head, body in FENCE.findall(DOCS_PAGE.read_text(encoding="utf-8"))
        if "file=" in head
    }


def run_doc_script(folder: Path, name: str, replace: tuple[str, str] = ("", "")) -> str:
    """Write the page's files into `folder`, run one of its scripts there; its stdout."""
    for file_name, body in doc_files().items():
        (folder / file_name).write_text(body.replace(*replace), encoding="utf-8")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    completed = subprocess.run(
        [sys.executable, name],
        cwd=folder,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_the_documented_http_client_runs_a_scenario_to_a_verified_runpack(
    tmp_path: Path,
) -> None:
    files = doc_files()
    assert DOC_URL in files["mcp_http_client.py"]

    with run_server(files["decision-gate.toml"]) as running:
        output = run_doc_script(
            tmp_path, "mcp_http_client.py", (DOC_URL, f"{running.base_url}/mcp")
        )

    assert output.splitlines() == ["18 tools", "t1 hold active", "t2 complete completed", "pass"]


def test_the_documented_stdio_client_runs_against_decision_gate_serve(tmp_path: Path) -> None:
    output = run_doc_script(tmp_path, "mcp_stdio_client.py")

    assert output.splitlines() == ["['time']"]
