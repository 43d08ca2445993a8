"""docs/security.md states only what the server does: its examples run and its claims hold.

The page's configs pass `config validate`; its refusal transcript is what
`decision-gate serve` prints; the banner and the dev-permissive warning are
what `serve` prints; its openssl recipe makes certificates that the TLS
example serves and curl checks as written; the audit fields and events it
lists are the ones written. Claims the server tests elsewhere do not pin
down (custom registry rules, schema and docs size limits, a non-loopback
peer under local_only, client certificates with bearer tokens, dev-permissive
in runpacks) are pinned here.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.decision_gate.docs.doc_pages import (
    blocks_of,
    file_block,
    output_of,
    page_text,
    run_transcript,
    transcript,
)
from tests.decision_gate.server.server_harness import run_server

from decision_gate.cli.app import cli
from decision_gate.config import load_config, parse_config
from decision_gate.core.errors import InvalidInput
from decision_gate.seams.audit_sink import AuditEventKind
from decision_gate.server.app import DecisionGateServer
from decision_gate.server.auth import Authenticator, Caller, token_fingerprint
from decision_gate.server.errors import Unauthenticated
from decision_gate.server.launch import (
    BindRefused,
    check_bind_policy,
    startup_notices,
    uvicorn_options,
)

PAGE = "security.md"
BASE = """
[namespace]
allow_default = true
default_tenants = [1]

[[providers]]
name = "time"
type = "builtin"
"""
SPEC = {
    "scenario_id": "s", "namespace_id": 1, "spec_version": "1", "default_tenant_id": 1,
    "policies": [], "schemas": [],
    "conditions": [{"condition_id": "later", "comparator": "equals", "expected": True,
                    "policy_tags": [], "query": {"provider_id": "time", "check_id": "after",
                                                 "params": {"timestamp": 1}}}],
    "stages": [{"stage_id": "main", "entry_packets": [], "on_timeout": "fail", "timeout": None,
                "advance_to": {"kind": "terminal"},
                "gates": [{"gate_id": "wait", "requirement": {"Condition": "later"}}]}],
}  # fmt: skip
SHAPE = {
    "tenant_id": 1,
    "namespace_id": 1,
    "schema_id": "shape",
    "version": "v1",
    "schema": {"type": "object"},
    "description": None,
    "created_at": {"kind": "logical", "value": 1},
}


def table_rows(heading: str) -> list[list[str]]:
    text = page_text(PAGE).split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in text.splitlines()
        if line.strip().startswith("| `")
    ]


def make_certificates(folder: Path) -> None:
    (recipe,) = blocks_of(PAGE, "bash")
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recipe.body], cwd=folder, check=True, capture_output=True
    )


def serving_options(config_text: str) -> dict[str, Any]:
    options = uvicorn_options(parse_config(config_text))
    del options["host"], options["port"]
    return options


@pytest.mark.parametrize("index", range(len(blocks_of(PAGE, "toml"))))
def test_the_toml_block_passes_config_validate(index: int, tmp_path: Path) -> None:
    path = tmp_path / "decision-gate.toml"
    path.write_text(blocks_of(PAGE, "toml")[index].body)

    result = CliRunner().invoke(cli, ["config", "validate", str(path)])

    assert (result.exit_code, result.output) == (0, "Config valid.\n")


def test_serve_refuses_the_exposed_config_as_the_page_shows(tmp_path: Path) -> None:
    (tmp_path / "exposed.toml").write_text(file_block(PAGE, "exposed.toml"))

    run_transcript(transcript(blocks_of(PAGE, "console")[0].body), tmp_path)


def test_the_banner_is_what_serve_prints_once_tls_is_upstream() -> None:
    upstream = file_block(PAGE, "exposed.toml").replace(
        'bind = "0.0.0.0:8443"', 'bind = "0.0.0.0:8443"\ntls_termination = "upstream"'
    )

    notices = check_bind_policy(parse_config(upstream), allow_non_loopback=True)

    assert notices == output_of(PAGE, "banner")


def test_the_fingerprint_command_prints_the_servers_principal_id(tmp_path: Path) -> None:
    (command,) = transcript(blocks_of(PAGE, "console")[1].body)
    token = command.line.split()[-1]

    assert command.expected == (f"token:{token_fingerprint(token)}",)
    run_transcript([command], tmp_path)


def test_local_only_refuses_a_peer_that_is_not_loopback() -> None:
    authenticator = Authenticator(parse_config("").server.auth_or_default)

    with pytest.raises(Unauthenticated):
        authenticator.authenticate(Caller(transport="http", peer_ip="10.0.0.5"))
    assert authenticator.authenticate(Caller(transport="http", peer_ip="::1")).subject == "loopback"


def test_the_tls_example_serves_what_curl_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_certificates(tmp_path)
    config = file_block(PAGE, "decision-gate-tls.toml")
    monkeypatch.chdir(tmp_path)

    with run_server(
        config, uvicorn_options=serving_options(config), client_options={"verify": False}
    ) as server:
        curl = transcript(blocks_of(PAGE, "console")[2].body)
        run_transcript(curl, tmp_path, {"DECISION_GATE_URL": server.base_url})


def test_a_client_certificate_and_a_bearer_token_work_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_certificates(tmp_path)
    (config,) = [b.body for b in blocks_of(PAGE, "toml") if "file" not in b.attributes]
    token = "replace-with-a-long-random-token"
    monkeypatch.chdir(tmp_path)
    anonymous = ssl.create_default_context(cafile="ca.pem")
    holder = ssl.create_default_context(cafile="ca.pem")
    holder.load_cert_chain("client.pem", "client.key")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    with run_server(
        config + BASE, uvicorn_options=serving_options(config), client_options={"verify": holder}
    ) as server:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{server.base_url}/rpc", json=body, verify=anonymous)
        without_token = server.post(body)
        with_token = server.post(body, headers={"authorization": f"Bearer {token}"})

    assert without_token.status_code == 401
    assert len(with_token.json()["result"]["tools"]) == 18


def test_custom_registry_rules_decide_and_every_decision_is_audited(tmp_path: Path) -> None:
    (custom,) = [
        b.body for b in blocks_of("configuration.md", "toml") if 'mode = "custom"' in b.body
    ]
    audit = tmp_path / "audit.jsonl"
    listing = {"tenant_id": 1, "namespace_id": 1, "cursor": None, "limit": 5}

    with run_server(f'[server.audit]\npath = "{audit}"\n' + custom + BASE) as server:
        listed = server.call("schemas_list", listing)
        status, error = server.error("schemas_register", {"record": SHAPE})

    assert listed["items"] == []
    assert (status, error["message"]) == (403, "unauthorized")
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    decisions = [(e["action"], e["allowed"]) for e in events if e["event"] == "registry_audit"]
    assert decisions == [("list", True), ("register", False)]


def test_a_schema_over_max_schema_bytes_is_refused() -> None:
    config = (
        "[schema_registry]\nmax_schema_bytes = 8\n[schema_registry.acl]\nallow_local_only = true\n"
        + BASE
    )

    with run_server(config) as server:
        status, error = server.error("schemas_register", {"record": SHAPE})

    assert status == 400
    assert error["message"].startswith("schema exceeds size limit")


async def test_docs_over_their_limits_stop_start_up() -> None:
    with pytest.raises(InvalidInput, match=r"exceeds docs\.max_doc_bytes"):
        await DecisionGateServer.start(parse_config("[docs]\nmax_doc_bytes = 1\n"))


def test_the_mcp_request_fields_are_the_ones_written(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    (row,) = [r for r in table_rows("Audit") if r[0] == "`mcp_request`"]
    documented = {field.strip("` ") for field in row[2].split(",")}

    with run_server(f'[server.audit]\npath = "{audit}"\n' + BASE) as server:
        server.rpc("tools/list")

    (line,) = [json.loads(raw) for raw in audit.read_text().splitlines()]
    assert line["event"] == "mcp_request"
    assert set(line) - {"event"} == documented


def test_the_audit_events_listed_are_the_event_kinds() -> None:
    documented = {row[0].strip("`") for row in table_rows("Audit")}

    assert documented == {kind.value for kind in AuditEventKind}


def test_the_dev_permissive_warning_is_what_serve_prints() -> None:
    notices = startup_notices(parse_config("[dev]\npermissive = true\n"))

    assert notices == output_of(PAGE, "dev-warning")


def test_turning_comparator_checks_off_prints_a_warning() -> None:
    config = parse_config("[validation]\nstrict = false\nallow_permissive = true\n")

    assert startup_notices(config) == [
        "WARNING: validation.strict=false: comparator type checks are off"
    ]


def test_dev_permissive_is_recorded_in_exported_runpacks(tmp_path: Path) -> None:
    run = {"tenant_id": 1, "namespace_id": 1, "run_id": "r1", "scenario_id": "s"}
    start = {
        "scenario_id": "s",
        "issue_entry_packets": False,
        "started_at": {"kind": "logical", "value": 0},
        "run_config": {**run, "dispatch_targets": [], "policy_tags": []},
    }
    export = {
        **run,
        "output_dir": str(tmp_path / "pack"),
        "manifest_name": None,
        "generated_at": {"kind": "logical", "value": 1},
        "include_verification": False,
    }
    with run_server("[dev]\npermissive = true\n" + BASE) as server:
        server.call("scenario_define", {"spec": SPEC})
        server.call("scenario_start", start)
        exported = server.call("runpack_export", export)

    assert exported["manifest"]["security"]["dev_permissive"] is True


def test_permissive_warn_false_silences_the_warning_but_not_the_audit_event(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    config = (
        f'[dev]\npermissive = true\npermissive_warn = false\n[server.audit]\npath = "{audit}"\n'
    )

    with run_server(config + BASE):
        pass

    assert startup_notices(parse_config(config)) == []
    kinds = [json.loads(line).get("kind") for line in audit.read_text().splitlines()]
    assert "dev_permissive_enabled" in kinds


def test_a_config_older_than_permissive_ttl_days_adds_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "decision-gate.toml"
    path.write_text("[dev]\npermissive = true\npermissive_ttl_days = 7\n")
    eight_days_ago = time.time() - 8 * 86_400
    os.utime(path, (eight_days_ago, eight_days_ago))

    notices = startup_notices(load_config(path))

    assert notices[0] == output_of(PAGE, "dev-warning")[0]
    assert "permissive_ttl_days of 7" in notices[1]


def test_an_empty_config_is_the_secure_default_the_page_describes() -> None:
    config = parse_config("")

    assert config.server.transport.value == "stdio"
    assert config.server.auth_or_default.mode.value == "local_only"
    assert config.namespace.allow_default is False
    assert config.evidence.allow_raw_values is False
    assert (config.server.audit.enabled, config.server.audit.path) == (True, None)
    assert "run_state_store" not in config.sections


def test_an_exposed_mtls_server_with_in_process_tls_needs_required_client_certificates() -> None:
    exposed = parse_config(
        '[server]\ntransport = "http"\nbind = "0.0.0.0:8443"\n'
        '[server.tls]\ncert_path = "s.pem"\nkey_path = "s.key"\n'
        '[server.auth]\nmode = "mtls"\nmtls_subjects = ["CN=ci-agent"]\n'
    )

    with pytest.raises(BindRefused, match="client_ca_path and require_client_cert"):
        check_bind_policy(exposed, allow_non_loopback=True)


def test_a_refused_correlation_id_is_a_security_audit_event(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"

    with run_server(f'[server.audit]\npath = "{audit}"\n' + BASE) as server:
        refused = server.rpc("tools/list", headers={"x-correlation-id": "has space"})

    assert refused.status_code == 400
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    (security,) = [e for e in events if e["event"] == "security_audit"]
    assert security["kind"] == "invalid_correlation_id"
    assert security["message"] == "correlation_id_rejected: contains_whitespace"
    assert "has space" not in audit.read_text()
