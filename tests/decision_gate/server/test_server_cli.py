"""`decision-gate serve` and `decision-gate config validate` as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from decision_gate.config import load_config
from decision_gate.server.launch import startup_notices

PRESETS = resources.files("decision_gate.contract").joinpath("presets")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "decision_gate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "Traceback" not in completed.stderr
    return completed


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "decision-gate.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("preset", ["quickstart-dev.toml", "hardened.toml", "container-prod.toml"])
def test_config_validate_accepts_the_shipped_presets(preset: str) -> None:
    completed = run("config", "validate", str(PRESETS.joinpath(preset)))

    assert completed.returncode == 0
    assert completed.stdout.strip() == "Config valid."


def test_config_validate_lists_each_problem_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ntransport = "http"\nbnd = "127.0.0.1:1"\n')

    completed = run("config", "validate", "--config", path)

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"invalid config: {path}",
        "  server.bind: is required here",
        "  server.bnd: unknown key",
    ]


EXPOSED = (
    '[server]\ntransport = "http"\nbind = "0.0.0.0:0"\n'
    '[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["t"]\n'
)


def test_serve_refuses_a_non_loopback_bind_without_the_opt_in(tmp_path: Path) -> None:
    completed = run("serve", "--config", write(tmp_path, EXPOSED))

    assert completed.returncode == 2
    assert "refusing to bind 0.0.0.0:0" in completed.stderr
    assert "--allow-non-loopback" in completed.stderr


def test_serve_refuses_an_exposed_bind_without_tls_even_with_the_opt_in(tmp_path: Path) -> None:
    completed = run("serve", "--allow-non-loopback", "--config", write(tmp_path, EXPOSED))

    assert completed.returncode == 2
    assert "without TLS" in completed.stderr


def test_serve_rejects_a_malformed_opt_in_variable(tmp_path: Path) -> None:
    env = {**os.environ, "DECISION_GATE_ALLOW_NON_LOOPBACK": "maybe"}

    completed = run("serve", "--config", write(tmp_path, EXPOSED), env=env)

    assert completed.returncode == 2
    assert "DECISION_GATE_ALLOW_NON_LOOPBACK" in completed.stderr


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def read_frames(data: bytes) -> list[Any]:
    frames = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.decode().split(":", 1)[1])
        frames.append(json.loads(rest[:length]))
        data = rest[length:]
    return frames


def test_serve_over_stdio_answers_content_length_frames(tmp_path: Path) -> None:
    path = write(tmp_path, '[[providers]]\nname = "time"\ntype = "builtin"\n')
    requests = frame({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}) + frame(
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "providers_list", "arguments": {}},
        }
    )

    completed = subprocess.run(
        [sys.executable, "-m", "decision_gate", "serve", "--config", path],
        input=requests,
        capture_output=True,
        timeout=60,
    )

    first, second = read_frames(completed.stdout)
    assert completed.returncode == 0
    assert len(first["result"]["tools"]) == 18
    assert second["result"]["content"][0]["json"]["providers"][0]["provider_id"] == "time"


def test_serve_over_stdio_stops_on_a_frame_without_length(tmp_path: Path) -> None:
    path = write(tmp_path, "")

    completed = subprocess.run(
        [sys.executable, "-m", "decision_gate", "serve", "--config", path],
        input=b"X-Other: 1\r\n\r\n{}",
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == 2
    assert completed.stdout == b""
    assert b"frame without Content-Length" in completed.stderr


def test_dev_permissive_prints_a_warning_and_a_ttl_note_once_expired(tmp_path: Path) -> None:
    path = write(tmp_path, "[dev]\npermissive = true\npermissive_ttl_days = 7\n")
    config = load_config(path)
    fresh = startup_notices(config)
    old = time.time() - 8 * 86_400
    os.utime(path, (old, old))

    expired = startup_notices(config)

    assert len(fresh) == 1
    assert fresh[0].startswith("WARNING: dev-permissive mode enabled")
    assert len(expired) == 2
    assert "past its permissive_ttl_days of 7" in expired[1]


def test_dev_permissive_warning_can_be_silenced(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[dev]\npermissive = true\npermissive_warn = false\n"))

    assert startup_notices(config) == []
