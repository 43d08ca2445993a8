"""The user documentation's code blocks, read and run the way a reader would.

A fenced block's info string is a language and optional `key=value`
attributes: `file=NAME` is a file the reader saves under NAME, and
`output=NAME` is what running NAME prints, and a bare `invalid` marks an
example that is wrong on purpose. A `console` block is a transcript:
each `$ ` line is a command run with bash, the lines after it are what it
prints. Commands run with this interpreter's scripts first on PATH (so
`decision-gate` and `python` are the ones under test), without any
`DECISION_GATE_*` variable of the test's own environment, and with what the
test hands them: the pages document `DECISION_GATE_URL` and
`DECISION_GATE_TOKEN`, which the test sets to reach the server it started.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

DOCS = Path(__file__).resolve().parents[3] / "docs"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)


@attrs.frozen
class Block:
    language: str
    attributes: Mapping[str, str]
    body: str


@attrs.frozen
class Command:
    line: str
    expected: tuple[str, ...]


def page_text(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def blocks(page: str) -> list[Block]:
    found = []
    for info, body in _FENCE.findall(page_text(page)):
        language, *pairs = info.split()
        attributes = {key: value for key, _, value in (pair.partition("=") for pair in pairs)}
        found.append(Block(language, attributes, body))
    return found


def blocks_of(page: str, language: str) -> list[Block]:
    return [block for block in blocks(page) if block.language == language]


def file_block(page: str, name: str) -> str:
    (body,) = [b.body for b in blocks(page) if b.attributes.get("file") == name]
    return body


def output_of(page: str, name: str) -> list[str]:
    (body,) = [b.body for b in blocks(page) if b.attributes.get("output") == name]
    return body.splitlines()


def transcript(body: str) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:], ()))
        elif commands:
            last = commands[-1]
            commands[-1] = Command(last.line, (*last.expected, line))
    return commands


def reader_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The real environment without any `DECISION_GATE_*` variable, plus `extra`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DECISION_GATE_")}
    scripts = str(Path(sys.executable).parent)
    environment["PATH"] = scripts + os.pathsep + environment.get("PATH", "")
    environment.update(extra or {})
    return environment


def run_command(
    line: str, cwd: Path, extra: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`line` under bash; stdout carries stderr too, in the order a terminal shows them."""
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=reader_environment(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_transcript(
    commands: Sequence[Command],
    cwd: Path,
    extra: Mapping[str, str] | None = None,
    *,
    skip: tuple[str, ...] = (),
) -> None:
    """Run every command not starting with a `skip` prefix; each must print what the page shows."""
    for command in commands:
        if command.line.startswith(skip):
            continue
        completed = run_command(command.line, cwd, extra)
        printed = completed.stdout.splitlines()
        assert printed == list(command.expected), (command.line, completed)


def run_script(
    name: str, cwd: Path, extra: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python NAME` in `cwd`, as the page tells the reader to run it."""
    return subprocess.run(
        [sys.executable, name],
        cwd=cwd,
        env=reader_environment(extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
