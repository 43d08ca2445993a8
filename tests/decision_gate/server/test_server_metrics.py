"""`GET /metrics`: counts that follow the traffic, labels from closed sets, access by auth mode."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families
from server_harness import RunningServer, run_server, server_config

from decision_gate.server.metrics import (
    OTHER,
    OUTCOMES,
    REASONS,
    TOOLS,
    TRANSPORTS,
    ServerMetrics,
    bounded,
)

TOKEN = "metrics-token-4b8e0c1d"
BEARER = f'[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["{TOKEN}"]\n'
MTLS = '[server.auth]\nmode = "mtls"\nmtls_subjects = ["CN=scraper"]\n'
SCENARIO_ID = "scenario-id-5e1d"
RUN_ID = "run-id-88aa"
CLIENT_CORRELATION_ID = "client-corr-77bb"
SPEC: dict[str, Any] = {
    "scenario_id": SCENARIO_ID,
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
            "stage_id": "only",
            "entry_packets": [],
            "gates": [{"gate_id": "g", "requirement": {"Condition": "after"}}],
            "advance_to": {"kind": "terminal"},
            "on_timeout": "fail",
            "timeout": None,
        }
    ],
}
Series = tuple[str, frozenset[tuple[str, str]]]


def scrape(server: RunningServer, **kwargs: Any) -> str:
    response = server.client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str) -> dict[Series, float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def requests_count(
    text: str, tool: str, outcome: str, transport: str, method: str = "tools/call"
) -> float:
    return value(
        text,
        "decision_gate_requests_total",
        method=method,
        tool=tool,
        outcome=outcome,
        transport=transport,
    )


def label_values(text: str, label: str) -> set[str]:
    return {dict(labels)[label] for _, labels in samples(text) if label in dict(labels)}


@pytest.fixture
def evidence_root(tmp_path: Path) -> Path:
    (tmp_path / "evidence").mkdir()
    return tmp_path / "evidence"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(server_config(str(tmp_path))) as running:
        yield running


@contextlib.asynccontextmanager
async def mcp_session(base_url: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def start_run(server: RunningServer, **kwargs: Any) -> None:
    server.call("scenario_define", {"spec": SPEC}, **kwargs)
    server.call(
        "scenario_start",
        {
            "scenario_id": SCENARIO_ID,
            "run_config": {
                "tenant_id": 1,
                "namespace_id": 1,
                "run_id": RUN_ID,
                "scenario_id": SCENARIO_ID,
                "dispatch_targets": [],
                "policy_tags": [],
            },
            "started_at": {"kind": "logical", "value": 1},
            "issue_entry_packets": False,
        },
        **kwargs,
    )


# ------------------------------------------------------------------ counts follow the traffic


def test_tool_calls_over_rpc_are_counted_by_tool_outcome_and_transport(
    server: RunningServer,
) -> None:
    before = scrape(server)
    server.call("providers_list", {})
    server.call("providers_list", {})
    server.error("scenario_status", {"scenario_id": "nope", "request": {}})
    after = scrape(server)

    assert requests_count(before, "providers_list", "ok", "http") == 0
    assert requests_count(after, "providers_list", "ok", "http") == 2
    assert requests_count(after, "scenario_status", "invalid_params", "http") == 1


def test_each_answered_call_is_timed_under_its_tool(server: RunningServer) -> None:
    for _ in range(3):
        server.call("providers_list", {})
    text = scrape(server)

    labels = {"method": "tools/call", "tool": "providers_list", "transport": "http"}
    assert value(text, "decision_gate_request_duration_seconds_count", **labels) == 3
    assert value(text, "decision_gate_request_duration_seconds_sum", **labels) > 0


def test_other_methods_are_counted_without_a_tool(server: RunningServer) -> None:
    server.rpc("tools/list")
    server.post(b"not json")
    text = scrape(server)

    assert requests_count(text, "unknown", "ok", "http", method="tools/list") == 1
    assert requests_count(text, "unknown", "invalid_request", "http", method="invalid") == 1


async def test_calls_over_mcp_are_counted_under_the_mcp_transport(server: RunningServer) -> None:
    async with mcp_session(server.base_url) as session:
        await session.call_tool("providers_list", {})
        await session.call_tool("providers_list", {})
        await session.call_tool("scenario_status", {"scenario_id": "x"})
    text = scrape(server)

    assert requests_count(text, "providers_list", "ok", "mcp") == 2
    assert requests_count(text, "scenario_status", "invalid_params", "mcp") == 1
    assert requests_count(text, "providers_list", "ok", "http") == 0


def test_nothing_is_left_in_flight_after_the_calls_return(server: RunningServer) -> None:
    for _ in range(5):
        server.call("providers_list", {})
    text = scrape(server)

    for transport in TRANSPORTS:
        assert value(text, "decision_gate_requests_inflight", transport=transport) == 0


def test_the_inflight_gauge_counts_requests_being_handled() -> None:
    metrics = ServerMetrics()
    with metrics.in_flight("http"), metrics.in_flight("http"), metrics.in_flight("mcp"):
        during = metrics.render().decode()
    after = metrics.render().decode()

    assert value(during, "decision_gate_requests_inflight", transport="http") == 2
    assert value(during, "decision_gate_requests_inflight", transport="mcp") == 1
    assert value(after, "decision_gate_requests_inflight", transport="http") == 0


def test_two_servers_in_one_process_keep_separate_counts(tmp_path: Path) -> None:
    config = server_config(str(tmp_path))
    with run_server(config) as busy, run_server(config) as idle:
        busy.call("providers_list", {})
        busy_text, idle_text = scrape(busy), scrape(idle)

    assert requests_count(busy_text, "providers_list", "ok", "http") == 1
    assert requests_count(idle_text, "providers_list", "ok", "http") == 0


# ------------------------------------------------------------------ refusals by reason


def rejected(text: str, reason: str, transport: str = "http") -> float:
    return value(text, "decision_gate_requests_rejected_total", reason=reason, transport=transport)


def test_refusals_are_counted_by_reason(tmp_path: Path) -> None:
    limits = "[server.limits.rate_limit]\nmax_requests = 3\nwindow_ms = 60000\nmax_entries = 16\n"
    config = server_config(str(tmp_path), BEARER + limits, server_keys="max_body_bytes = 512")
    auth = {"authorization": f"Bearer {TOKEN}"}
    with run_server(config) as server:
        assert server.call_raw("providers_list", {}).status_code == 401
        assert server.post(b"x" * 1024, headers=auth).status_code == 413
        for _ in range(3):
            assert server.call_raw("providers_list", {}, headers=auth).status_code == 200
        assert server.call_raw("providers_list", {}, headers=auth).status_code == 429
        assert server.call_raw("providers_list", {}, headers=auth).status_code == 429
        text = scrape(server, headers=auth)

    assert rejected(text, "unauthenticated") == 1
    assert rejected(text, "size") == 1
    assert rejected(text, "rate_limit") == 2
    assert rejected(text, "inflight") == 0


async def test_a_refused_mcp_call_is_counted_under_mcp(tmp_path: Path) -> None:
    config = server_config(str(tmp_path), '[server.auth]\nallowed_tools = ["providers_list"]\n')
    with run_server(config) as server:
        async with mcp_session(server.base_url) as session:
            await session.call_tool("scenarios_list", {"tenant_id": 1, "namespace_id": 1})
        text = scrape(server)

    assert rejected(text, "unauthorized", "mcp") == 1
    assert requests_count(text, "scenarios_list", "unauthorized", "mcp") == 1


# ------------------------------------------------------------------ bounded labels


HOSTILE_NAMES = [
    *(f"tool-{n}" for n in range(150)),
    "",
    " ",
    "scenario_status ",
    "SCENARIO_STATUS",
    'x"} 1\ndecision_gate_requests_total{tool="injected',
    "\u202escenario_next",
    "tool\x00name",
    "t" * 5000,
    "other",
    "unknown",
]


def test_a_flood_of_unknown_tool_names_creates_no_new_series(server: RunningServer) -> None:
    server.call_raw("no_such_tool", {})
    baseline = set(samples(scrape(server)))
    for name in HOSTILE_NAMES:
        assert server.call_raw(name, {}).json()["error"]["data"]["kind"] == "method_not_found"
    text = scrape(server)

    assert set(samples(text)) == baseline
    assert label_values(text, "tool") <= TOOLS | {OTHER}
    assert requests_count(text, OTHER, "method_not_found", "http") == len(HOSTILE_NAMES) + 1


def test_unknown_methods_and_transports_count_as_other() -> None:
    metrics = ServerMetrics()
    metrics.answered("SomethingNew", "scenario_status", "carrier-pigeon", None)
    metrics.handled("SomethingNew", "tool-9", "carrier-pigeon", 0.01)
    text = metrics.render().decode()

    assert label_values(text, "method") <= {"other"}
    assert label_values(text, "transport") <= TRANSPORTS | {OTHER}
    assert "carrier-pigeon" not in text
    assert "tool-9" not in text


@settings(max_examples=150)
@given(st.text())
def test_a_label_is_always_from_its_closed_set(raw: str) -> None:
    for allowed in (TOOLS, OUTCOMES, TRANSPORTS, REASONS):
        label = bounded(raw, allowed)
        assert label in allowed or label == OTHER
        assert label == raw or raw not in allowed


# ------------------------------------------------------------------ no ids, no secrets


def test_the_scrape_names_no_id_and_no_secret(evidence_root: Path, tmp_path: Path) -> None:
    auth = {"authorization": f"Bearer {TOKEN}", "x-correlation-id": CLIENT_CORRELATION_ID}
    with run_server(server_config(str(evidence_root), BEARER)) as server:
        start_run(server, headers=auth)
        server_id = server.call_raw("providers_list", {}, headers=auth).headers[
            "x-server-correlation-id"
        ]
        server.call_raw("providers_list", {}, headers={"authorization": "Bearer wrong-token-1"})
        text = scrape(server, headers={"authorization": f"Bearer {TOKEN}"})

    assert requests_count(text, "scenario_start", "ok", "http") == 1
    for leaked in (
        SCENARIO_ID,
        RUN_ID,
        CLIENT_CORRELATION_ID,
        server_id,
        TOKEN,
        "wrong-token-1",
        "127.0.0.1",
    ):
        assert leaked not in text


# ------------------------------------------------------------------ who may scrape


def test_local_only_serves_a_loopback_scraper_without_credentials(server: RunningServer) -> None:
    response = server.client.get("/metrics")

    assert response.status_code == 200
    assert "decision_gate_requests_rejected_total" in response.text


def test_local_only_refuses_a_scraper_that_is_not_loopback(tmp_path: Path) -> None:
    # uvicorn takes the peer from X-Forwarded-For when the proxy is trusted.
    proxy = {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}
    with run_server(server_config(str(tmp_path)), uvicorn_options=proxy) as server:
        response = server.client.get("/metrics", headers={"x-forwarded-for": "203.0.113.9"})

    assert response.status_code == 401
    assert response.text == "unauthenticated"


def test_bearer_mode_asks_for_the_token(tmp_path: Path) -> None:
    with run_server(server_config(str(tmp_path), BEARER)) as server:
        missing = server.client.get("/metrics")
        wrong = server.client.get("/metrics", headers={"authorization": "Bearer nope"})
        right = server.client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})

    assert (missing.status_code, missing.text) == (401, "unauthenticated")
    assert missing.headers["www-authenticate"] == 'Bearer realm="decision-gate"'
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_mtls_mode_asks_for_an_allowed_subject(tmp_path: Path) -> None:
    header = "x-decision-gate-client-subject"
    with run_server(server_config(str(tmp_path), MTLS)) as server:
        missing = server.client.get("/metrics")
        foreign = server.client.get("/metrics", headers={header: "CN=intruder"})
        allowed = server.client.get("/metrics", headers={header: "CN=scraper"})

    assert (missing.status_code, missing.text) == (401, "unauthenticated")
    assert (foreign.status_code, foreign.text) == (403, "unauthorized")
    assert allowed.status_code == 200


def test_a_refused_scrape_is_a_security_audit_event_without_the_token(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = BEARER + f'[server.audit]\npath = "{audit}"\n'
    with run_server(server_config(str(tmp_path), extra)) as server:
        server.client.get("/metrics", headers={"authorization": "Bearer guess-0f9e"})

    events = [json.loads(line) for line in audit.read_text().splitlines()]
    refusals = [e for e in events if e.get("kind") == "metrics_scrape_refused"]
    assert [e["event"] for e in refusals] == ["security_audit"]
    assert refusals[0]["message"] == "unauthenticated: unknown bearer token"
    assert "guess-0f9e" not in audit.read_text()
