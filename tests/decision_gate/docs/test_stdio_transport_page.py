"""docs/transports/stdio.md runs as written: its client starts `python -m decision_gate serve`.

The page's config and client are saved under the names the page gives, in a
scratch folder, and the client is run there; it must print what the page
shows. The framing rules the page states (bare LF accepted, other headers
ignored, an oversized frame stops the server without an answer, stdout
carrying frames only) are checked against the same command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.decision_gate.docs.doc_pages import blocks_of, file_block, output_of, run_script

from decision_gate.config import parse_config

PAGE = "transports/stdio.md"
CONFIG_NAME = "decision-gate-stdio.toml"
TOOLS_LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'


def serve(
    folder: Path, stdin: bytes, config: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    (folder / CONFIG_NAME).write_text(config or file_block(PAGE, CONFIG_NAME))
    return subprocess.run(
        [sys.executable, "-m", "decision_gate", "serve", "--config", CONFIG_NAME],
        cwd=folder,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def only_frame(stdout: bytes) -> Any:
    header, separator, body = stdout.partition(b"\r\n\r\n")
    assert separator
    assert header.startswith(b"Content-Length: ")
    assert int(header.split(b":")[1]) == len(body)
    return json.loads(body)


def test_the_config_is_stdio_with_local_only_auth() -> None:
    config = parse_config(file_block(PAGE, CONFIG_NAME))

    assert config.server.transport.value == "stdio"
    assert config.server.auth_or_default.mode.value == "local_only"


def test_the_client_prints_what_the_page_shows(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text(file_block(PAGE, CONFIG_NAME))
    (tmp_path / "stdio_client.py").write_text(file_block(PAGE, "stdio_client.py"))

    completed = run_script("stdio_client.py", tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == output_of(PAGE, "stdio_client.py")


def test_the_framing_example_is_a_frame_the_server_answers(tmp_path: Path) -> None:
    (example,) = [block.body for block in blocks_of(PAGE, "text") if "\\r\\n" in block.body]
    frame = example.replace("\\r\\n\n", "\r\n").rstrip("\n").encode()

    completed = serve(tmp_path, frame)

    assert completed.returncode == 0
    assert len(only_frame(completed.stdout)["result"]["tools"]) == 18


def test_bare_newlines_and_other_headers_are_accepted(tmp_path: Path) -> None:
    frame = b"Content-Length: %d\nX-Ignored: yes\n\n" % len(TOOLS_LIST) + TOOLS_LIST

    completed = serve(tmp_path, frame)

    assert len(only_frame(completed.stdout)["result"]["tools"]) == 18


def test_a_frame_over_max_body_bytes_stops_the_server_unanswered(tmp_path: Path) -> None:
    config = file_block(PAGE, CONFIG_NAME).replace(
        'transport = "stdio"', 'transport = "stdio"\nmax_body_bytes = 16'
    )

    completed = serve(
        tmp_path, b"Content-Length: %d\r\n\r\n" % len(TOOLS_LIST) + TOOLS_LIST, config
    )

    assert completed.returncode != 0
    assert completed.stdout == b""
    assert b"exceeds max_body_bytes" in completed.stderr


def test_input_ending_inside_a_frame_stops_the_server_unanswered(tmp_path: Path) -> None:
    completed = serve(tmp_path, b"Content-Length: 100\r\n\r\n{")

    assert completed.returncode != 0
    assert completed.stdout == b""


def test_audit_lines_go_to_stderr_and_stdout_holds_only_the_frame(tmp_path: Path) -> None:
    completed = serve(tmp_path, b"Content-Length: %d\r\n\r\n" % len(TOOLS_LIST) + TOOLS_LIST)

    only_frame(completed.stdout)
    assert b'"mcp_request"' in completed.stderr
