"""External MCP evidence providers configured in `decision-gate.toml`, end to end over `/rpc`.

The provider is the real stub process of the provider tests
(`tests/decision_gate/providers/mcp_stub_provider.py`), spawned by the server
over stdio or run beside it over HTTP, with a contract file written for the
test. What a client sees: the provider is listed and disclosed like a
built-in, specs are checked against its contract when defined, its evidence
drives gates and is redacted by default, and under `require_signature` only
results signed by a configured ed25519 key count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from server_harness import RunningServer, run_server, server_config

from decision_gate.core.canonical import hash_canonical

STUB = str(Path(__file__).parents[1] / "providers" / "mcp_stub_provider.py")
CHECKS = ("echo", "rpc_error")
TOKEN = "provider-token-5ecret"


def contract(provider_id: str) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        "name": f"Stub {provider_id}",
        "description": "The test stub provider.",
        "transport": "mcp",
        "config_schema": {"type": "object"},
        "checks": [
            {
                "check_id": check_id,
                "description": f"the stub's {check_id} behaviour",
                "determinism": "external",
                "params_required": False,
                "params_schema": {"type": "object"},
                "result_schema": {"type": "object"},
                "allowed_comparators": ["equals", "exists"],
                "anchor_types": ["stub"],
                "content_types": ["application/json"],
                "examples": [],
            }
            for check_id in CHECKS
        ],
        "notes": [],
    }


def mcp_entry(folder: Path, name: str, *, command: list[str] | None = None, **keys: Any) -> str:
    """A `[[providers]]` entry of type mcp, its contract written to `folder`."""
    path = folder / f"{name}.contract.json"
    path.write_text(json.dumps(contract(name)))
    lines = [
        "[[providers]]",
        f'name = "{name}"',
        'type = "mcp"',
        f"capabilities_path = {json.dumps(str(path))}",
    ]
    if command is not None:
        lines.append(f"command = {json.dumps(command)}")
    for key, value in keys.items():
        lines.append(f"{key} = {value}")
    return "\n" + "\n".join(lines) + "\n"


def stdio_command(*options: str) -> list[str]:
    return [sys.executable, STUB, "stdio", *options]


@pytest.fixture
def http_stub() -> Iterator[str]:
    """The URL of a stub provider process serving HTTP on 127.0.0.1."""
    process = subprocess.Popen(
        [sys.executable, STUB, "http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/rpc"
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def external_config(tmp_path: Path, evidence_root: str, http_stub: str) -> str:
    """The built-ins plus `stub` (stdio, spawned by the server) and `remote` (HTTP)."""
    return server_config(
        evidence_root,
        mcp_entry(tmp_path, "stub", command=stdio_command())
        + mcp_entry(
            tmp_path,
            "remote",
            url=json.dumps(http_stub),
            allow_insecure_http="true",
            auth=f'{{ bearer_token = "{TOKEN}" }}',
        ),
    )


@pytest.fixture
def server(external_config: str) -> Iterator[RunningServer]:
    with run_server(external_config) as running:
        yield running


def spec(
    provider: str, check: str = "echo", comparator: str = "exists", expected: Any = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "condition_id": "external",
        "comparator": comparator,
        "policy_tags": [],
        "query": {"provider_id": provider, "check_id": check, "params": {"ask": "fact"}},
    }
    if expected is not None:
        condition["expected"] = expected
    return {
        "scenario_id": f"gate-{provider}",
        "namespace_id": 1,
        "spec_version": "1",
        "default_tenant_id": 1,
        "policies": [],
        "schemas": [],
        "conditions": [condition],
        "stages": [
            {
                "stage_id": "main",
                "entry_packets": [],
                "gates": [{"gate_id": "fact", "requirement": {"Condition": "external"}}],
                "advance_to": {"kind": "terminal"},
                "on_timeout": "fail",
                "timeout": None,
            }
        ],
    }


def run_gate(server: RunningServer, provider: str) -> dict[str, Any]:
    """Define a one-gate scenario on `provider`'s echo check, start it, call next once."""
    scenario_id = f"gate-{provider}"
    server.call("scenario_define", {"spec": spec(provider)})
    server.call(
        "scenario_start",
        {
            "scenario_id": scenario_id,
            "run_config": {
                "tenant_id": 1,
                "namespace_id": 1,
                "run_id": "run-1",
                "scenario_id": scenario_id,
                "dispatch_targets": [],
                "policy_tags": [],
            },
            "started_at": {"kind": "logical", "value": 0},
            "issue_entry_packets": False,
        },
    )
    result: dict[str, Any] = server.call(
        "scenario_next",
        {
            "scenario_id": scenario_id,
            "request": {
                "run_id": "run-1",
                "tenant_id": 1,
                "namespace_id": 1,
                "trigger_id": "t1",
                "agent_id": "agent",
                "time": {"kind": "logical", "value": 1},
                "correlation_id": None,
            },
        },
    )
    return result


def query(server: RunningServer, provider: str, check: str = "echo") -> dict[str, Any]:
    result: dict[str, Any] = server.call(
        "evidence_query",
        {
            "query": {"provider_id": provider, "check_id": check, "params": {"ask": "fact"}},
            "context": {
                "tenant_id": 1,
                "namespace_id": 1,
                "run_id": "r",
                "scenario_id": "s",
                "stage_id": "main",
                "trigger_id": "t",
                "trigger_time": {"kind": "logical", "value": 5},
                "correlation_id": None,
            },
        },
    )["result"]
    return result


def signing_material(folder: Path) -> tuple[str, str]:
    """A fresh ed25519 key: the seed file the stub signs with, the public key file we trust."""
    key = nacl.signing.SigningKey.generate()
    seed, public = folder / "signer.seed", folder / "signer.pub"
    seed.write_bytes(key.encode())
    public.write_bytes(key.verify_key.encode())
    return str(seed), str(public)


# ------------------------------------------------------------------ discovery


def test_providers_list_shows_the_external_providers_as_mcp(server: RunningServer) -> None:
    listed = {p["provider_id"]: p for p in server.call("providers_list", {})["providers"]}

    assert listed["stub"] == {"provider_id": "stub", "transport": "mcp", "checks": list(CHECKS)}
    assert listed["remote"] == {"provider_id": "remote", "transport": "mcp", "checks": list(CHECKS)}
    assert listed["time"]["transport"] == "builtin"


def test_provider_contract_get_discloses_the_contract_file(server: RunningServer) -> None:
    disclosed = server.call("provider_contract_get", {"provider_id": "remote"})

    assert disclosed["contract"] == contract("remote")
    assert disclosed["source"] == "file"
    assert disclosed["contract_hash"] == hash_canonical(contract("remote")).to_json()


def test_provider_check_schema_get_describes_an_external_check(server: RunningServer) -> None:
    check = server.call("provider_check_schema_get", {"provider_id": "stub", "check_id": "echo"})

    assert check["allowed_comparators"] == ["equals", "exists"]
    assert check["determinism"] == "external"
    assert check["params_schema"] == {"type": "object"}
    assert check["contract_hash"] == hash_canonical(contract("stub")).to_json()


# ------------------------------------------------------------------ define-time contract checks


def test_a_spec_naming_a_check_outside_the_contract_is_refused(server: RunningServer) -> None:
    status, error = server.error("scenario_define", {"spec": spec("stub", check="weather")})

    assert (status, error["code"]) == (400, -32602)
    assert error["message"] == "check_missing: check not supported: stub.weather"


def test_a_comparator_outside_the_contract_is_refused(server: RunningServer) -> None:
    refused = spec("remote", comparator="greater_than", expected={})

    status, error = server.error("scenario_define", {"spec": refused})

    assert (status, error["code"]) == (400, -32602)
    assert (
        error["message"]
        == "comparator_not_allowed: comparator not allowed for remote.echo: greater_than"
    )


def test_params_outside_the_contract_schema_are_refused(server: RunningServer) -> None:
    arguments = {
        "query": {"provider_id": "stub", "check_id": "echo", "params": "not an object"},
        "context": {
            "tenant_id": 1,
            "namespace_id": 1,
            "run_id": "r",
            "scenario_id": "s",
            "stage_id": "main",
            "trigger_id": "t",
            "trigger_time": {"kind": "logical", "value": 5},
            "correlation_id": None,
        },
    }

    status, error = server.error("evidence_query", arguments)

    assert status == 400
    assert error["message"].startswith("params_invalid: check params invalid for stub.echo")


# ------------------------------------------------------------------ evidence


@pytest.mark.parametrize("provider", ["stub", "remote"], ids=["stdio", "http"])
def test_a_gate_passes_on_evidence_from_the_external_provider(
    server: RunningServer, provider: str
) -> None:
    result = run_gate(server, provider)

    assert (result["decision"]["outcome"]["kind"], result["status"]) == ("complete", "completed")


@pytest.mark.parametrize("provider", ["stub", "remote"], ids=["stdio", "http"])
def test_external_evidence_is_redacted_by_default(server: RunningServer, provider: str) -> None:
    result = query(server, provider)

    assert result["error"] is None
    assert (result["value"], result["content_type"]) == (None, None)
    assert result["evidence_hash"]["algorithm"] == "sha256"
    assert result["evidence_anchor"] == {"anchor_type": "stub", "anchor_value": "1"}
    assert result["lane"] == "verified"


def test_a_provider_error_is_a_provider_error_result(server: RunningServer) -> None:
    result = query(server, "remote", "rpc_error")

    assert result["error"] == {
        "code": "provider_error",
        "message": "evidence provider error: provider says no",
        "details": None,
    }


def test_raw_external_evidence_needs_both_opt_ins_and_carries_the_bearer_token(
    tmp_path: Path, evidence_root: str, http_stub: str
) -> None:
    config = server_config(
        evidence_root,
        "[evidence]\nallow_raw_values = true\n"
        + mcp_entry(
            tmp_path,
            "remote",
            url=json.dumps(http_stub),
            allow_insecure_http="true",
            auth=f'{{ bearer_token = "{TOKEN}" }}',
            allow_raw="true",
        ),
    )
    with run_server(config) as running:
        result = query(running, "remote")

    seen = result["value"]["value"]
    assert seen["query"] == {"provider_id": "remote", "check_id": "echo", "params": {"ask": "fact"}}
    assert seen["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_the_stdio_provider_process_ends_with_the_server(
    tmp_path: Path, evidence_root: str
) -> None:
    config = server_config(
        evidence_root,
        "[evidence]\nallow_raw_values = true\n"
        + mcp_entry(tmp_path, "stub", command=stdio_command(), allow_raw="true"),
    )
    with run_server(config) as running:
        pid = query(running, "stub")["value"]["value"]["pid"]
        os.kill(pid, 0)  # alive while the server runs

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"the provider process {pid} outlived the server")


# ------------------------------------------------------------------ trust


@pytest.fixture
def signing_config(tmp_path: Path, evidence_root: str) -> str:
    """`require_signature` by default: `signed` signs with the trusted key, `unsigned`
    does not sign, and `audited` is unsigned too but overrides the policy with audit."""
    seed, public = signing_material(tmp_path)
    return server_config(
        evidence_root,
        "[trust]\n"
        f"default_policy = {{ require_signature = {{ keys = [{json.dumps(public)}] }} }}\n"
        + mcp_entry(tmp_path, "signed", command=stdio_command("--sign", seed, public))
        + mcp_entry(tmp_path, "unsigned", command=stdio_command())
        + mcp_entry(tmp_path, "audited", command=stdio_command(), trust='"audit"'),
    )


def test_a_result_signed_by_a_trusted_key_is_accepted(signing_config: str) -> None:
    with run_server(signing_config) as running:
        result = query(running, "signed")
        gate = run_gate(running, "signed")

    assert result["error"] is None
    assert result["signature"]["scheme"] == "ed25519"
    assert result["evidence_hash"] is not None
    assert gate["status"] == "completed"


def test_an_unsigned_result_is_a_provider_error_that_holds_the_gate(signing_config: str) -> None:
    with run_server(signing_config) as running:
        result = query(running, "unsigned")
        gate = run_gate(running, "unsigned")

    assert result["error"] == {
        "code": "provider_error",
        "message": "evidence provider error: missing evidence signature",
        "details": None,
    }
    assert (result["value"], result["evidence_hash"]) == (None, None)
    assert (gate["decision"]["outcome"]["kind"], gate["status"]) == ("hold", "active")


def test_a_provider_trust_override_takes_precedence_over_the_default(signing_config: str) -> None:
    with run_server(signing_config) as running:
        result = query(running, "audited")

    assert result["error"] is None
    assert result["signature"] is None
