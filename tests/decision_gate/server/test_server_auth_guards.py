"""Authentication, tool allowlists and visibility, namespaces, audit (server.md §2.1, §3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

TOKEN = "dg-test-token-7f3a"
BEARER = f"""
[server.auth]
mode = "bearer_token"
bearer_tokens = ["{TOKEN}"]
"""
SPEC: dict[str, Any] = {
    "scenario_id": "guarded",
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
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def bearer_server(evidence_root: str) -> Iterator[RunningServer]:
    with run_server(server_config(evidence_root, BEARER)) as running:
        yield running


def spec_in(namespace_id: int, tenant_id: int | None = 1) -> dict[str, Any]:
    return {**SPEC, "namespace_id": namespace_id, "default_tenant_id": tenant_id}


# ------------------------------------------------------------------ bearer tokens


def test_bearer_mode_without_a_token_is_401_with_a_challenge(bearer_server: RunningServer) -> None:
    response = bearer_server.call_raw("providers_list", {})

    error = response.json()["error"]
    assert response.status_code == 401
    assert (error["code"], error["message"]) == (-32001, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="decision-gate"'


@pytest.mark.parametrize(
    "header", ["Bearer wrong-token", "Basic xyz", "Bearer", f"Bearer {'x' * 8200}"]
)
def test_bad_credentials_are_401_without_saying_why(
    bearer_server: RunningServer, header: str
) -> None:
    response = bearer_server.call_raw("providers_list", {}, headers={"authorization": header})

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "unauthenticated"


def test_the_scheme_is_case_insensitive(bearer_server: RunningServer) -> None:
    response = bearer_server.call_raw(
        "providers_list", {}, headers={"authorization": f"bearer {TOKEN}"}
    )

    assert response.status_code == 200


def test_an_unknown_tool_is_reported_before_authentication(bearer_server: RunningServer) -> None:
    status, error = bearer_server.error("nonexistent_tool", {})

    assert (status, error["message"]) == (400, "unknown tool")


def test_tools_list_needs_authentication_too(bearer_server: RunningServer) -> None:
    assert bearer_server.rpc("tools/list").status_code == 401


# ------------------------------------------------------------------ mtls subject header


def test_mtls_mode_without_a_subject_is_401_without_a_challenge(evidence_root: str) -> None:
    extra = '[server.auth]\nmode = "mtls"\nmtls_subjects = ["CN=agent"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        response = server.call_raw("providers_list", {})
        allowed = server.call_raw(
            "providers_list", {}, headers={"x-decision-gate-client-subject": "CN=agent"}
        )

    assert response.status_code == 401
    assert "www-authenticate" not in response.headers
    assert allowed.status_code == 200


def test_mtls_subject_not_listed_is_403(evidence_root: str) -> None:
    extra = '[server.auth]\nmode = "mtls"\nmtls_subjects = ["CN=agent"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        response = server.call_raw(
            "providers_list", {}, headers={"x-decision-gate-client-subject": "CN=intruder"}
        )

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": -32003,
        "message": "unauthorized",
        "data": {"kind": "unauthorized", "retryable": False, "request_id": "1"},
    }


# ------------------------------------------------------------------ allowlists and visibility


def test_the_auth_allowlist_refuses_other_tools_but_lists_them_all(evidence_root: str) -> None:
    extra = '[server.auth]\nallowed_tools = ["scenario_define"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        status, error = server.error("decision_gate_docs_search", {"query": "trust"})
        listed = server.rpc("tools/list").json()["result"]["tools"]

    assert (status, error["message"]) == (403, "unauthorized")
    assert len(listed) == 18


def test_a_denylisted_tool_is_hidden_and_unknown(evidence_root: str) -> None:
    extra = '[server.tools]\ndenylist = ["scenario_define"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        names = [t["name"] for t in server.rpc("tools/list").json()["result"]["tools"]]
        status, error = server.error("scenario_define", {"spec": SPEC})

    assert "scenario_define" not in names
    assert len(names) == 17
    assert (status, error["message"]) == (400, "unknown tool")


def test_allowlist_with_denylist_leaves_only_the_difference(evidence_root: str) -> None:
    extra = (
        '[server.tools]\nallowlist = ["providers_list", "scenarios_list"]\n'
        'denylist = ["providers_list"]\n'
    )
    with run_server(server_config(evidence_root, extra)) as server:
        names = [t["name"] for t in server.rpc("tools/list").json()["result"]["tools"]]
        status, _ = server.error("providers_list", {})

    assert names == ["scenarios_list"]
    assert status == 400


def test_passthrough_lists_everything_but_still_refuses_hidden_calls(evidence_root: str) -> None:
    extra = '[server.tools]\nmode = "passthrough"\ndenylist = ["providers_list"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        names = [t["name"] for t in server.rpc("tools/list").json()["result"]["tools"]]
        status, error = server.error("providers_list", {})

    assert len(names) == 18
    assert (status, error["message"]) == (400, "unknown tool")


# ------------------------------------------------------------------ namespaces


def test_the_default_namespace_is_refused_when_disabled(evidence_root: str) -> None:
    config = server_config(evidence_root).replace("allow_default = true", "allow_default = false")
    with run_server(config) as server:
        status, error = server.error("scenario_define", {"spec": spec_in(1)})

    assert (status, error["message"]) == (403, "unauthorized")


def test_a_tenant_outside_the_default_tenants_is_refused(bearer_server: RunningServer) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}

    status, _ = bearer_server.error("scenario_define", {"spec": spec_in(1, 2)}, headers=auth)
    null_status, _ = bearer_server.error(
        "scenario_define", {"spec": spec_in(1, None)}, headers=auth
    )

    assert (status, null_status) == (403, 403)


def test_a_non_default_namespace_passes_the_guard(bearer_server: RunningServer) -> None:
    result = bearer_server.call(
        "scenario_define", {"spec": spec_in(2)}, headers={"authorization": f"Bearer {TOKEN}"}
    )

    assert result["scenario_id"] == "guarded"


# ------------------------------------------------------------------ audit and secrets


def test_each_request_leaves_one_mcp_request_audit_line(evidence_root: str, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = f'[server.audit]\npath = "{audit}"\n'
    with run_server(server_config(evidence_root, extra)) as server:
        server.rpc("tools/list")
        server.call(
            "evidence_query",
            {
                "query": {"provider_id": "time", "check_id": "now"},
                "context": {
                    "tenant_id": 1,
                    "namespace_id": 2,
                    "run_id": "r",
                    "scenario_id": "s",
                    "stage_id": "main",
                    "trigger_id": "t",
                    "trigger_time": {"kind": "logical", "value": 4},
                },
            },
        )

    requests = [
        line
        for line in map(json.loads, audit.read_text().splitlines())
        if line["event"] == "mcp_request"
    ]
    assert [(r["method"], r["tool"], r["redaction"]) for r in requests] == [
        ("ToolsList", None, "full"),
        ("ToolsCall", "evidence_query", "evidence"),
    ]
    assert all(r["outcome"] == "Ok" and isinstance(r["timestamp_ms"], int) for r in requests)


def test_evidence_values_are_redacted_by_default(bearer_server: RunningServer) -> None:
    result = bearer_server.call(
        "evidence_query",
        {
            "query": {"provider_id": "time", "check_id": "now"},
            "context": {
                "tenant_id": 1,
                "namespace_id": 2,
                "run_id": "r",
                "scenario_id": "s",
                "stage_id": "main",
                "trigger_id": "t",
                "trigger_time": {"kind": "logical", "value": 4},
            },
        },
        headers={"authorization": f"Bearer {TOKEN}"},
    )["result"]

    assert result["value"] is None
    assert result["content_type"] is None
    assert result["evidence_hash"]["algorithm"] == "sha256"
    assert (result["lane"], result["error"]) == ("verified", None)


def test_no_token_or_param_value_reaches_stderr_or_the_audit_log(
    evidence_root: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "audit.jsonl"
    marker = "param-value-9c1e"
    extra = BEARER + f'[server.audit]\npath = "{audit}"\n'
    with run_server(server_config(evidence_root, extra)) as server:
        auth = {"authorization": f"Bearer {TOKEN}"}
        server.call(
            "scenario_define", {"spec": {**spec_in(2), "spec_version": marker}}, headers=auth
        )
        server.error("scenario_define", {"spec": {**spec_in(2), "spec_version": marker}})
        server.call_raw("providers_list", {}, headers={"authorization": f"Bearer {marker}"})

    captured = capfd.readouterr()
    logs = captured.err + captured.out + audit.read_text()
    assert TOKEN not in logs
    assert marker not in logs
    assert hashlib.sha256(TOKEN.encode()).hexdigest() in logs


def test_the_dev_permissive_warning_is_an_audit_event(evidence_root: str, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = f'[dev]\npermissive = true\n[server.audit]\npath = "{audit}"\n'
    with run_server(server_config(evidence_root, extra)):
        pass

    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert events[0]["event"] == "security_audit"
    assert events[0]["message"] == "dev-permissive mode enabled"


def test_the_reference_assetcore_authority_table_guards_namespaces(evidence_root: str) -> None:
    extra = (
        '[namespace.authority]\nmode = "assetcore_http"\n'
        '[namespace.authority.assetcore]\nbase_url = "http://127.0.0.1:9"\n'
        "connect_timeout_ms = 100\nrequest_timeout_ms = 500\n"
    )
    with run_server(server_config(evidence_root, extra)) as server:
        status, error = server.error("scenario_define", {"spec": spec_in(2)})

    assert (status, error["message"]) == (403, "unauthorized")


def test_a_spec_without_default_tenant_outside_namespace_one_is_accepted(
    bearer_server: RunningServer,
) -> None:
    result = bearer_server.call(
        "scenario_define",
        {"spec": spec_in(2, None)},
        headers={"authorization": f"Bearer {TOKEN}"},
    )

    assert result["scenario_id"] == "guarded"
