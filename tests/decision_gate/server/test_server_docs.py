"""docs/server.md runs as written: its config loads and its client example passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from server_harness import run_server

from decision_gate.config import parse_config

PAGE = Path(__file__).resolve().parents[3] / "docs" / "server.md"
FENCE = re.compile(r"```([^\n]*)\n(.*?)```", re.S)
DOC_ENDPOINT = "http://127.0.0.1:4000/rpc"


def block(info: str) -> str:
    (body,) = [body for head, body in FENCE.findall(PAGE.read_text()) if head.strip() == info]
    return body


def test_the_quickstart_config_is_valid() -> None:
    config = parse_config(block("toml file=decision-gate.toml"))

    assert config.server.bind == "127.0.0.1:4000"


def test_the_client_example_runs_to_a_verified_runpack(capsys: pytest.CaptureFixture[str]) -> None:
    code = block("python")
    assert DOC_ENDPOINT in code
    with run_server(block("toml file=decision-gate.toml")) as server:
        exec(  # noqa: S102 - the documented example, run as a reader would
            compile(code.replace(DOC_ENDPOINT, f"{server.base_url}/rpc"), str(PAGE), "exec"),
            {"__name__": "docs_example"},
        )

    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"[0-9a-f]{64}", lines[0])
    assert lines[1:] == ["t1 hold active", "t2 complete completed", "pass"]
