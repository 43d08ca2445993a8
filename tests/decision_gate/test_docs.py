"""The user documentation's examples run as written.

docs/concepts.md's Python block is executed; docs/cli.md's `json file=NAME`
blocks are written to a scratch folder and every `$ decision-gate ...` line
of its console blocks is run there as a real subprocess and must exit 0.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"```([^\n]*)\n(.*?)```", re.S)


def _blocks(page: str) -> list[tuple[str, str]]:
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def test_concepts_python_example_runs() -> None:
    (code,) = [body for info, body in _blocks("concepts.md") if info.strip() == "python"]
    exec(compile(code, "docs/concepts.md", "exec"), {"__name__": "docs_example"})  # noqa: S102


def _cli_commands() -> list[str]:
    return [
        line[2:]
        for info, body in _blocks("cli.md")
        if info.strip() == "console"
        for line in body.splitlines()
        if line.startswith("$ ")
    ]


def test_cli_page_documents_every_command() -> None:
    documented = {" ".join(command.split()[:3]) for command in _cli_commands()}
    assert {
        "decision-gate quickstart --dir",
        "decision-gate scenario validate",
        "decision-gate scenario run",
        "decision-gate runpack export",
        "decision-gate runpack verify",
        "decision-gate plugins",
        "decision-gate config validate",
    } <= documented


def test_cli_page_examples_run_in_order(tmp_path: Path) -> None:
    for info, body in _blocks("cli.md"):
        if info.startswith(("json file=", "toml file=")):
            (tmp_path / info.split("=", 1)[1].strip()).write_text(body, encoding="utf-8")
    for command in _cli_commands():
        argv = shlex.split(command)
        assert argv[0] == "decision-gate"
        completed = subprocess.run(
            [sys.executable, "-m", "decision_gate", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, f"{command}\n{completed.stdout}\n{completed.stderr}"
        assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("page", ["concepts.md", "cli.md"])
def test_doc_page_links_resolve(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", text):
        assert (DOCS / target).is_file(), target
