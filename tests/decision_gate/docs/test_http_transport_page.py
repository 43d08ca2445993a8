"""docs/transports/http.md runs as written against a real server on 127.0.0.1.

The page's config is served by uvicorn on a free port; its curl transcript
and its httpx client run as subprocesses with `DECISION_GATE_URL` pointing
at that server, and must print exactly what the page shows.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route
from tests.decision_gate.docs.doc_pages import (
    blocks_of,
    file_block,
    output_of,
    page_text,
    run_script,
    run_transcript,
    transcript,
)
from tests.decision_gate.server.server_harness import run_server

from decision_gate.config import parse_config
from decision_gate.server.http import create_app
from decision_gate.server.launch import check_bind_policy

PAGE = "transports/http.md"
CONFIG = file_block(PAGE, "decision-gate.toml")
BEARER = '\n[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["docs-example-token"]\n'


def test_the_config_serves_where_the_examples_look_by_default() -> None:
    config = parse_config(CONFIG)

    assert config.server.bind == "127.0.0.1:4000"
    assert 'os.environ.get("DECISION_GATE_URL", "http://127.0.0.1:4000")' in file_block(
        PAGE, "http_client.py"
    )


def test_the_serve_transcript_is_what_serve_prints_for_this_config() -> None:
    (serve, *_) = transcript(blocks_of(PAGE, "console")[0].body)

    assert serve.line == "decision-gate serve --config decision-gate.toml"
    assert list(serve.expected) == check_bind_policy(parse_config(CONFIG), allow_non_loopback=False)


def test_the_curl_transcript_prints_what_the_page_shows(tmp_path: Path) -> None:
    curl = transcript(blocks_of(PAGE, "console")[1].body)
    assert all(command.line.startswith("curl ") for command in curl)

    with run_server(CONFIG) as server:
        run_transcript(curl, tmp_path, {"DECISION_GATE_URL": server.base_url})


def test_the_httpx_client_prints_what_the_page_shows(tmp_path: Path) -> None:
    (tmp_path / "http_client.py").write_text(file_block(PAGE, "http_client.py"))

    with run_server(CONFIG) as server:
        completed = run_script("http_client.py", tmp_path, {"DECISION_GATE_URL": server.base_url})

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == output_of(PAGE, "http_client.py")


def test_the_httpx_client_runs_twice_against_one_server(tmp_path: Path) -> None:
    (tmp_path / "http_client.py").write_text(file_block(PAGE, "http_client.py"))

    with run_server(CONFIG) as server:
        environment = {"DECISION_GATE_URL": server.base_url}
        first = run_script("http_client.py", tmp_path, environment)
        second = run_script("http_client.py", tmp_path, environment)

    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout == second.stdout


def test_the_httpx_client_authenticates_with_the_documented_token_variable(tmp_path: Path) -> None:
    (tmp_path / "http_client.py").write_text(file_block(PAGE, "http_client.py"))

    with run_server(CONFIG.replace("\n[namespace]", BEARER + "\n[namespace]")) as server:
        url = {"DECISION_GATE_URL": server.base_url}
        refused = run_script("http_client.py", tmp_path, url)
        accepted = run_script(
            "http_client.py", tmp_path, {**url, "DECISION_GATE_TOKEN": "docs-example-token"}
        )

    assert "HTTP 401 -32001 unauthenticated: unauthenticated" in refused.stderr
    assert "docs-example-token" not in refused.stderr
    assert accepted.stdout.splitlines() == output_of(PAGE, "http_client.py")


def test_the_route_table_lists_every_route_the_server_serves() -> None:
    documented = set(re.findall(r"^\| `(GET|POST) (/[a-z./]*)`", page_text(PAGE), re.M))
    app = create_app(parse_config(CONFIG))

    routes = [route for route in app.routes if isinstance(route, Route)]
    served = {
        (method, route.path)
        for route in routes
        for method in ("GET", "POST")
        if method in (route.methods or ())
    }

    assert len(routes) == len(app.routes)

    assert {path for _, path in documented} == {path for _, path in served}
    assert documented <= served


def test_the_openapi_document_needs_no_credentials_and_metrics_do() -> None:
    bearer = CONFIG.replace("\n[namespace]", BEARER + "\n[namespace]")
    with run_server(bearer) as server:
        document = server.client.get("/openapi.json")
        metrics = server.client.get("/metrics")

    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
    assert metrics.status_code == 401
