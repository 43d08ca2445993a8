"""Done means: a third-party plugin, built as a real wheel and installed into a fresh
virtual environment with decision-gate, is selected by config and used, and passes the kit.

The plugin is tests/decision_gate/plugins/acme_plugin (an audit sink, a
tenant authorizer, a quota meter and a runpack storage, written only against
the public API). One virtual environment per test session: building it is the
slow part. Each test runs Python inside it, so nothing here imports the plugin.

The server is `decision-gate serve` over stdio with a decision-gate.toml
selecting the plugin's authorizer, meter, audit sinks and runpack storage
(`[runpack_storage] type = "acme_vault"`: a type the reference does not
define selects an installed implementation, which checks its own keys).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[2]
DECISION_GATE = REPO / "packages" / "decision_gate_oss"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"


def _run(
    *command: str | os.PathLike[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [os.fspath(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the acme wheel, decision-gate and the test tools; its python."""
    work = tmp_path_factory.mktemp("third-party")
    source = work / "acme_plugin"
    shutil.copytree(HERE / "acme_plugin", source, ignore=shutil.ignore_patterns("__pycache__"))
    _run(UV, "build", "--wheel", "--out-dir", work / "dist", source)
    [wheel] = (work / "dist").glob("acme_decision_gate-0.3.0-*.whl")
    venv = work / "venv"
    _run(UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(
        UV, "pip", "install", "--python", python,
        wheel, DECISION_GATE, "pytest", "pytest-asyncio",
    )  # fmt: skip
    return python


def _in_venv(python: Path, script: str, *args: str) -> Any:
    """Run `script` with the venv's python; it prints one JSON document."""
    return json.loads(_run(python, "-c", textwrap.dedent(script), *args))


def test_the_wheel_is_installed_as_a_plugin_next_to_decision_gate(plugin_venv: Path) -> None:
    listing = json.loads(_run(plugin_venv.parent / "decision-gate", "plugins", "--json"))
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert plugins["acme"]["distribution"] == "acme-decision-gate"
    assert plugins["acme"]["version"] == "0.3.0"
    assert plugins["acme"]["status"] == "loaded"
    assert plugins["acme"]["implementations"] == {
        "audit_sink": ["acme_log"],
        "runpack_storage": ["acme_vault"],
        "tenant_authorizer": ["acme_blocklist"],
        "usage_meter": ["acme_quota"],
    }
    assert plugins["builtin"]["distribution"] == "decision-gate"


SELECTED = """
import asyncio, json, sys
from decision_gate.plugins import load_seams
from decision_gate.seams.access import CallContext, Principal
from decision_gate.seams.usage_meter import UsageMetric, UsageRequest

async def main(root):
    seams = await load_seams({
        "tenant_authorizer": {"type": "acme_blocklist", "blocked_tenants": [13]},
        "usage_meter": {"type": "acme_quota", "limits": {"runs_started": 1}},
        "audit_sinks": [{"type": "acme_log", "path": root + "/acme-audit.jsonl"}],
        "runpack_storage": {"type": "acme_vault", "root": root},
    })
    blocked = await seams.tenant_authorizer.authorize(
        CallContext(Principal("mallory"), "scenario_start", 13, 2, "req-1"))
    allowed = await seams.tenant_authorizer.authorize(
        CallContext(Principal("alice"), "scenario_start", 1, 2, "req-2"))
    start = UsageRequest(CallContext(Principal("alice"), "scenario_start", 1, 2, "req-2"),
                         UsageMetric.RUNS_STARTED)
    first = await seams.usage_meter.check(start)
    await seams.usage_meter.record(start, "req-2:runs_started")
    await seams.usage_meter.record(start, "req-2:runs_started")
    second = await seams.usage_meter.check(start)
    print(json.dumps({
        "storage": type(seams.runpack_storage).__module__ + "."
                   + type(seams.runpack_storage).__name__,
        "inner": {name: type(getattr(seams, name).inner).__name__
                  for name in ("tenant_authorizer", "usage_meter")},
        "sinks": [type(s).__name__ for s in seams.audit_sinks],
        "blocked": [blocked.allowed, blocked.reason],
        "allowed": [allowed.allowed, allowed.reason],
        "quota": [first.allowed, second.allowed, second.reason],
    }))
    await seams.close()

asyncio.run(main(sys.argv[1]))
"""


def test_config_selects_the_plugins_implementations_and_they_decide(
    plugin_venv: Path, tmp_path: Path
) -> None:
    result = _in_venv(plugin_venv, SELECTED, str(tmp_path))
    assert result["storage"] == "acme_dg.plugin.AcmeRunpackVault"
    assert result["inner"] == {
        "tenant_authorizer": "AcmeAuthorizer",
        "usage_meter": "AcmeQuotaMeter",
    }
    assert result["sinks"] == ["AcmeAuditSink"]
    assert result["blocked"] == [False, "acme_tenant_blocked"]
    assert result["allowed"] == [True, "acme_allowed"]
    assert result["quota"] == [True, False, "acme_quota_exhausted"]
    events = [json.loads(line) for line in (tmp_path / "acme-audit.jsonl").read_text().splitlines()]
    assert [(e["acme"], e["event"], e.get("allowed")) for e in events] == [
        (True, "tenant_authz", False),
        (True, "tenant_authz", True),
        (True, "usage_audit", True),
        (True, "usage_audit", False),
    ]


EXPORTED = """
import asyncio, json, sys
from decision_gate.cli.quickstart import RUN_CONFIG, SCENARIO_ID, SPEC
from decision_gate.control_plane import ControlPlane
from decision_gate.core.model import Logical, RunConfig, ScenarioSpec, parse
from decision_gate.core.runlog import RunKey
from decision_gate.plugins import load_seams
from decision_gate.runpack_export import export_runpack

async def main(root):
    seams = await load_seams({
        "run_state_store": {"type": "sqlite", "path": root + "/runs.sqlite3"},
        "runpack_storage": {"type": "acme_vault", "root": root},
    })
    plane = ControlPlane(seams.run_state_store, seams.providers, policy=seams.policy,
                         dispatcher=seams.dispatcher)
    spec = dict(SPEC, conditions=[], stages=[dict(SPEC["stages"][1], gates=[])])
    await plane.define(parse(ScenarioSpec, spec, "spec"))
    config = parse(RunConfig, RUN_CONFIG, "run config")
    await plane.start(SCENARIO_ID, config, Logical(0))
    key = RunKey(config.tenant_id, config.namespace_id, config.run_id)
    exported = await export_runpack(seams.run_state_store, await plane.scenario(SCENARIO_ID), key,
                                    seams.runpack_storage, key, generated_at=Logical(1))
    print(json.dumps({"location": exported.location,
                      "passed": exported.report is not None and exported.report.passed}))
    await seams.close()

asyncio.run(main(sys.argv[1]))
"""


def test_the_plugins_runpack_storage_holds_the_exported_runpack(
    plugin_venv: Path, tmp_path: Path
) -> None:
    result = _in_venv(plugin_venv, EXPORTED, str(tmp_path))
    vault = tmp_path / "acme-vault" / "tenant" / "1" / "namespace" / "1" / "run" / "release-2026.11"
    assert result == {"location": str(vault), "passed": True}
    assert (vault / "manifest.json").is_file()
    assert (vault / "artifacts").is_dir()


def test_the_plugin_passes_the_conformance_kit_inside_its_environment(
    plugin_venv: Path, tmp_path: Path
) -> None:
    tests = tmp_path / "acme_plugin"
    shutil.copytree(HERE / "acme_plugin", tests, ignore=shutil.ignore_patterns("__pycache__"))
    output = _run(plugin_venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=tests)
    summary = output.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 40, output
    assert "failed" not in summary
    assert "error" not in summary


FENCE = re.compile(r"```(\w+) file=(\S+)\n(.*?)```", re.S)

HELLO = """
import asyncio, json, sys, tomllib
from decision_gate.plugins import load_seams
from decision_gate.seams.access import CallContext, Principal

async def main(config_path):
    with open(config_path, "rb") as config:
        seams = await load_seams(tomllib.load(config))
    answers = {}
    for tenant in (1, 7):
        call = CallContext(Principal("someone"), "scenario_start", tenant, 2, "req")
        decision = await seams.tenant_authorizer.authorize(call)
        answers[tenant] = [decision.allowed, decision.reason]
    print(json.dumps(answers))

asyncio.run(main(sys.argv[1]))
"""


def test_the_authoring_guide_builds_a_working_tested_plugin_from_an_empty_folder(
    plugin_venv: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "hello-dg"
    for _language, path, body in FENCE.findall((REPO / "docs" / "plugins.md").read_text("utf-8")):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(body, "utf-8")
    _run(UV, "build", "--wheel", "--out-dir", tmp_path / "dist", folder)
    [wheel] = (tmp_path / "dist").glob("hello_dg-0.1.0-*.whl")
    _run(UV, "pip", "install", "--python", plugin_venv, wheel)

    listing = json.loads(_run(plugin_venv.parent / "decision-gate", "plugins", "--json"))
    [hello] = [p for p in listing["plugins"] if p["name"] == "hello"]
    assert (hello["distribution"], hello["version"], hello["status"]) == (
        "hello-dg",
        "0.1.0",
        "loaded",
    )
    assert hello["implementations"] == {"tenant_authorizer": ["hello_allowlist"]}

    output = _run(plugin_venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=folder)
    assert " passed" in output.strip().splitlines()[-1]
    assert "failed" not in output.strip().splitlines()[-1]

    answers = _in_venv(plugin_venv, HELLO, str(folder / "decision-gate.toml"))
    assert answers == {"1": [True, "hello_listed"], "7": [False, "hello_not_listed"]}


# --------------------------------------------------------------------------- the server


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def _frames(data: bytes) -> list[Any]:
    frames = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.decode().split(":", 1)[1])
        frames.append(json.loads(rest[:length]))
        data = rest[length:]
    return frames


def _tool(request_id: int, name: str, arguments: dict[str, Any]) -> bytes:
    return _frame(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
    )


SERVER_SPEC: dict[str, Any] = {
    "scenario_id": "plugin-proof",
    "namespace_id": 2,
    "spec_version": "1",
    "default_tenant_id": 1,
    "policies": [],
    "schemas": [],
    "conditions": [],
    "stages": [
        {
            "stage_id": "only",
            "entry_packets": [],
            "gates": [],
            "advance_to": {"kind": "terminal"},
            "timeout": None,
            "on_timeout": "fail",
        }
    ],
}


def _start(run_id: str, tenant_id: int) -> dict[str, Any]:
    return {
        "scenario_id": "plugin-proof",
        "run_config": {
            "tenant_id": tenant_id,
            "namespace_id": 2,
            "run_id": run_id,
            "scenario_id": "plugin-proof",
            "dispatch_targets": [],
            "policy_tags": [],
        },
        "started_at": {"kind": "logical", "value": 0},
        "issue_entry_packets": False,
    }


def test_the_server_uses_the_plugins_authorizer_and_audit_sink(
    plugin_venv: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "acme-audit.jsonl"
    config = tmp_path / "decision-gate.toml"
    config.write_text(
        '[server]\ntransport = "stdio"\n'
        '[[providers]]\nname = "time"\ntype = "builtin"\n'
        '[tenant_authorizer]\ntype = "acme_blocklist"\nblocked_tenants = [13]\n'
        '[usage_meter]\ntype = "acme_quota"\n'
        f'[[audit_sinks]]\ntype = "acme_log"\npath = "{audit}"\n'
    )
    requests = (
        _tool(1, "scenario_define", {"spec": SERVER_SPEC})
        + _tool(2, "scenario_start", _start("blocked-run", 13))
        + _tool(3, "scenario_start", _start("allowed-run", 1))
    )
    completed = subprocess.run(
        [plugin_venv.parent / "decision-gate", "serve", "--config", config],
        input=requests,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    defined, blocked, allowed = _frames(completed.stdout)
    assert "error" not in defined, defined
    assert blocked["error"]["code"] == -32003
    assert blocked["error"]["message"] == "unauthorized"
    assert allowed["result"]["content"][0]["json"]["run_id"] == "allowed-run"

    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert all(event["acme"] for event in events)
    authz = [
        (e["tenant_id"], e["allowed"], e["reason"]) for e in events if e["event"] == "tenant_authz"
    ]
    assert authz == [
        ("1", True, "acme_allowed"),
        ("13", False, "acme_tenant_blocked"),
        ("1", True, "acme_allowed"),
    ]
    usage = [
        (e["tenant_id"], e["metric"], e["reason"]) for e in events if e["event"] == "usage_audit"
    ]
    assert ("1", "runs_started", "acme_unmetered") in usage
    assert {e["event"] for e in events} >= {"mcp_request", "tenant_authz", "usage_audit"}


def test_a_failing_plugin_audit_sink_fails_the_call_it_was_recording(
    plugin_venv: Path, tmp_path: Path
) -> None:
    config = tmp_path / "decision-gate.toml"
    config.write_text(
        '[server]\ntransport = "stdio"\n'
        f'[[audit_sinks]]\ntype = "acme_log"\npath = "{tmp_path / "ok.jsonl"}"\n'
        f'[[audit_sinks]]\ntype = "acme_log"\npath = "{tmp_path / "broken.jsonl"}"\n'
        'fail_on = ["tenant_authz"]\n'
    )
    requests = _tool(1, "scenario_define", {"spec": SERVER_SPEC}) + _tool(
        2, "scenarios_list", {"tenant_id": 1, "namespace_id": 2}
    )
    completed = subprocess.run(
        [plugin_venv.parent / "decision-gate", "serve", "--config", config],
        input=requests,
        capture_output=True,
        timeout=120,
        check=False,
    )
    defined, listed = _frames(completed.stdout)
    assert defined["error"]["data"]["kind"] == "internal"
    assert listed["error"]["data"]["kind"] == "internal"
    ok_events = [
        json.loads(line)["event"] for line in (tmp_path / "ok.jsonl").read_text().splitlines()
    ]
    assert ok_events.count("tenant_authz") == 2


def test_config_validate_names_the_table_only_the_plugin_can_check(
    plugin_venv: Path, tmp_path: Path
) -> None:
    config = tmp_path / "decision-gate.toml"
    config.write_text(f'[runpack_storage]\ntype = "acme_vault"\nroot = "{tmp_path}"\n')

    output = _run(plugin_venv.parent / "decision-gate", "config", "validate", config)

    assert output.splitlines() == [
        "Config valid.",
        "  runpack_storage.type = 'acme_vault': from plugin acme (acme-decision-gate 0.3.0); "
        "its keys are checked by the plugin when the server starts",
    ]


def test_serve_exports_runpacks_into_the_plugins_runpack_storage(
    plugin_venv: Path, tmp_path: Path
) -> None:
    config = tmp_path / "decision-gate.toml"
    config.write_text(
        '[server]\ntransport = "stdio"\n'
        f'[runpack_storage]\ntype = "acme_vault"\nroot = "{tmp_path}"\n'
        f'[[audit_sinks]]\ntype = "acme_log"\npath = "{tmp_path / "acme-audit.jsonl"}"\n'
    )
    export = {
        "scenario_id": "plugin-proof",
        "tenant_id": 1,
        "namespace_id": 2,
        "run_id": "allowed-run",
        "generated_at": {"kind": "logical", "value": 5},
        "include_verification": True,
        "manifest_name": None,
    }
    requests = (
        _tool(1, "scenario_define", {"spec": SERVER_SPEC})
        + _tool(2, "scenario_start", _start("allowed-run", 1))
        + _tool(3, "runpack_export", export)
    )
    completed = subprocess.run(
        [plugin_venv.parent / "decision-gate", "serve", "--config", config],
        input=requests,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    define, start, exported = _frames(completed.stdout)
    assert "error" not in define, define
    assert "error" not in start, start
    result = exported["result"]["content"][0]["json"]
    vault = tmp_path / "acme-vault" / "tenant" / "1" / "namespace" / "2" / "run" / "allowed-run"
    assert result["storage_uri"] == str(vault)
    assert result["report"]["status"] == "pass"
    assert (vault / "manifest.json").is_file()
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "acme-audit.jsonl").read_text().splitlines()
    ]
    assert events.count("mcp_request") == 3
