"""docs/transports/sse.md runs as written against a real server in SSE mode.

The page's config is served by uvicorn on a free port; its curl transcript
and its httpx client (with its event-stream parser) run as subprocesses with
`DECISION_GATE_URL` pointing at that server and must print what the page shows.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.decision_gate.docs.doc_pages import (
    blocks_of,
    file_block,
    output_of,
    run_script,
    run_transcript,
    transcript,
)
from tests.decision_gate.server.server_harness import run_server

from decision_gate.config import parse_config
from decision_gate.server.launch import check_bind_policy

PAGE = "transports/sse.md"
CONFIG = file_block(PAGE, "decision-gate.toml")


def test_the_config_is_sse_where_the_examples_look_by_default() -> None:
    config = parse_config(CONFIG)
    (serve, *_) = transcript(blocks_of(PAGE, "console")[0].body)

    assert config.server.transport.value == "sse"
    assert list(serve.expected) == check_bind_policy(config, allow_non_loopback=False)
    assert '"http://127.0.0.1:4000"' in file_block(PAGE, "sse_client.py")


def test_the_curl_transcript_prints_one_data_event(tmp_path: Path) -> None:
    curl = transcript(blocks_of(PAGE, "console")[1].body)

    with run_server(CONFIG) as server:
        run_transcript(curl, tmp_path, {"DECISION_GATE_URL": server.base_url})


def test_the_httpx_client_prints_what_the_page_shows(tmp_path: Path) -> None:
    (tmp_path / "sse_client.py").write_text(file_block(PAGE, "sse_client.py"))

    with run_server(CONFIG) as server:
        completed = run_script("sse_client.py", tmp_path, {"DECISION_GATE_URL": server.base_url})

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == output_of(PAGE, "sse_client.py")


def test_the_documented_headers_and_statuses_hold_in_sse_mode() -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "no/such/method"}
    small_bodies = CONFIG.replace("[namespace]", "max_body_bytes = 4096\n\n[namespace]")
    with run_server(small_bodies) as server:
        refused = server.post(body, headers={"x-correlation-id": "ci-7"})
        too_large = server.post(b"x" * 4097)

    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("text/event-stream")
    assert refused.headers["cache-control"] == "no-cache"
    assert refused.headers["x-correlation-id"] == "ci-7"
    assert refused.headers["x-server-correlation-id"].startswith("dg-")
    assert refused.text.startswith("data: {")
    assert refused.text.endswith("}\n\n")
    assert too_large.status_code == 413
    assert too_large.headers["content-type"].startswith("text/plain")


def test_probes_and_mcp_are_served_in_sse_mode() -> None:
    with run_server(CONFIG) as server:
        health = server.client.get("/healthz")
        ready = server.client.get("/readyz")
        mcp = server.client.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"accept": "application/json, text/event-stream"},
        )

    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
    assert mcp.status_code == httpx.codes.OK
