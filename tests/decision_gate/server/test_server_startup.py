"""`decision-gate serve` start-up: implementations beyond the reference, and failures.

A selecting table (`[runpack_storage]`, `[run_state_store]`,
`[schema_registry]`) whose `type` is not the reference's selects an installed
implementation, here the built-in `filesystem` runpack storage, which
`runpack_export` then writes to without an `output_dir`. `config validate`
resolves every selected name among the installed plugins. Every start-up
failure of `serve` is one line on stderr and a non-zero exit, never a
traceback; each runs as a real subprocess.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from decision_gate.config import ConfigError, parse_config

HTTP = '[server]\ntransport = "http"\nbind = "127.0.0.1:0"\n'


def decision_gate(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "decision_gate", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "decision-gate.toml"
    path.write_text(text, "utf-8")
    return str(path)


# --------------------------------------------------------------------------- the loader


def test_a_non_reference_runpack_storage_type_reaches_its_factory_as_written() -> None:
    config = parse_config('[runpack_storage]\ntype = "filesystem"\nroot = "/srv/runpacks"\n')

    assert config.sections["runpack_storage"] == {"type": "filesystem", "root": "/srv/runpacks"}


def test_a_plugin_run_state_store_keeps_keys_the_reference_does_not_know() -> None:
    config = parse_config('[run_state_store]\ntype = "acme_postgres"\ndsn_env = "ACME_DSN"\n')

    assert config.sections["run_state_store"] == {"type": "acme_postgres", "dsn_env": "ACME_DSN"}


def test_a_reference_type_is_still_validated_against_the_schema() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config('[runpack_storage]\ntype = "object_store"\nbucket = "b"\nroot = "/x"\n')

    assert "runpack_storage.root: unknown key" in str(raised.value)


def test_a_plugin_schema_registry_keeps_the_servers_acl_checked_by_the_schema() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            '[schema_registry]\ntype = "acme_registry"\n[schema_registry.acl]\nmode = "x"\n'
        )

    assert 'schema_registry.acl.mode: must be one of "builtin", "custom"' in str(raised.value)


# --------------------------------------------------------------------------- config validate


def test_config_validate_accepts_the_builtin_filesystem_runpack_storage(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'[runpack_storage]\ntype = "filesystem"\nroot = "{tmp_path}"\n')

    completed = decision_gate("config", "validate", path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode().strip() == "Config valid."


def test_config_validate_names_an_unknown_implementation_and_the_installed_ones(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path, '[runpack_storage]\ntype = "acme_vaul"\n')

    completed = decision_gate("config", "validate", path)

    assert completed.returncode == 2
    assert completed.stderr.decode().splitlines() == [
        f"invalid config: {path}",
        "  runpack_storage.type: unknown runpack_storage type 'acme_vaul'; installed: filesystem",
    ]


def test_config_validate_says_object_store_belongs_to_the_enterprise_distribution(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path, '[runpack_storage]\ntype = "object_store"\nprovider = "s3"\nbucket = "b"\n'
    )

    completed = decision_gate("config", "validate", path)

    assert completed.returncode == 2
    assert completed.stderr.decode().splitlines()[1] == (
        "  runpack_storage.type: runpack_storage type object_store is provided by "
        "decision-gate-enterprise; installed: filesystem"
    )


# --------------------------------------------------------------------------- serve


def frame(request_id: int, tool: str, arguments: dict[str, Any]) -> bytes:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
    ).encode()
    return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def frames(data: bytes) -> list[Any]:
    replies = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.decode().split(":", 1)[1])
        replies.append(json.loads(rest[:length]))
        data = rest[length:]
    return replies


SPEC: dict[str, Any] = {
    "scenario_id": "storage-proof",
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
START: dict[str, Any] = {
    "scenario_id": "storage-proof",
    "run_config": {
        "tenant_id": 1,
        "namespace_id": 2,
        "run_id": "run-1",
        "scenario_id": "storage-proof",
        "dispatch_targets": [],
        "policy_tags": [],
    },
    "started_at": {"kind": "logical", "value": 0},
    "issue_entry_packets": False,
}
EXPORT: dict[str, Any] = {
    "scenario_id": "storage-proof",
    "tenant_id": 1,
    "namespace_id": 2,
    "run_id": "run-1",
    "generated_at": {"kind": "logical", "value": 5},
    "include_verification": True,
    "manifest_name": None,
}


def test_serve_exports_into_the_filesystem_runpack_storage_without_an_output_dir(
    tmp_path: Path,
) -> None:
    root = tmp_path / "runpacks"
    path = write_config(
        tmp_path,
        f'[server]\ntransport = "stdio"\n[runpack_storage]\ntype = "filesystem"\nroot = "{root}"\n',
    )
    requests = (
        frame(1, "scenario_define", {"spec": SPEC})
        + frame(2, "scenario_start", START)
        + frame(3, "runpack_export", EXPORT)
    )

    completed = decision_gate("serve", "--config", path, stdin=requests)

    assert completed.returncode == 0, completed.stderr.decode()
    defined, started, exported = frames(completed.stdout)
    assert "error" not in defined, defined
    assert "error" not in started, started
    result = exported["result"]["content"][0]["json"]
    runpack = root / "tenant" / "1" / "namespace" / "2" / "run" / "run-1"
    assert result["storage_uri"] == str(runpack)
    assert result["report"]["status"] == "pass"
    assert (runpack / "manifest.json").is_file()


STARTUP_FAILURES = {
    "object_store without the enterprise plugin": (
        '[runpack_storage]\ntype = "object_store"\nprovider = "s3"\nbucket = "b"\n',
        "error: runpack_storage type object_store is provided by decision-gate-enterprise; "
        "installed: filesystem",
    ),
    "a json provider whose root is missing": (
        '[[providers]]\nname = "json"\ntype = "builtin"\n'
        '[providers.config]\nroot = "{missing}"\nroot_id = "evidence"\n',
        "error: evidence_provider 'json'",
    ),
    "TLS files that do not exist": (
        '[server.tls]\ncert_path = "{missing}/cert.pem"\nkey_path = "{missing}/key.pem"\n',
        "error: [server.tls] cannot be loaded (cert_path = {missing}/cert.pem",
    ),
    "a docs extra path that does not exist": (
        '[docs]\nextra_paths = ["{missing}"]\n',
        "error: docs extra path {missing}",
    ),
}


@pytest.mark.parametrize("case", sorted(STARTUP_FAILURES))
def test_a_serve_start_up_failure_is_one_line_on_stderr(case: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    table, expected = (text.format(missing=missing) for text in STARTUP_FAILURES[case])
    path = write_config(tmp_path, HTTP + table)

    completed = decision_gate("serve", "--config", path)

    stderr = completed.stderr.decode()
    assert completed.returncode != 0
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(expected), stderr


def test_serve_on_an_address_in_use_is_one_line_on_stderr(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        path = write_config(tmp_path, f'[server]\ntransport = "http"\nbind = "127.0.0.1:{port}"\n')

        completed = decision_gate("serve", "--config", path)

    stderr = completed.stderr.decode()
    assert completed.returncode != 0
    assert stderr.splitlines() == [stderr.strip()]
    assert stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_serve_over_http_announces_the_bound_port_and_answers_there(tmp_path: Path) -> None:
    path = write_config(tmp_path, HTTP)
    process = subprocess.Popen(
        [sys.executable, "-m", "decision_gate", "serve", "--config", path],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        notice = process.stderr.readline()
        match = re.fullmatch(
            r"decision-gate: serving http on loopback 127\.0\.0\.1:(\d+)\n", notice
        )
        assert match is not None, notice
        port = int(match.group(1))
        assert port != 0
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert health.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=20)
        rest = process.stderr.read() if process.stderr is not None else ""
    assert returncode == 130, rest
    assert rest.strip() == "aborted"
