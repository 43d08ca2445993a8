"""schemathesis fuzzes `POST /rpc` from our own `/openapi.json` against a real server.

Requests that follow the document (positive) and requests that break it
(negative) must never get a 5xx; every refusal is a JSON-RPC error of the
server.md §1.5 table under its HTTP status (413 being plain text); every 200
is exactly one of a result or a JSON-RPC error; and every answer conforms to
the document. Examples are fixed in number and derandomized, so CI sees the
same requests on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_harness import RunningServer, run_server, server_config

EXAMPLES: Final = 80
# server.md §1.5: code -> (kind, HTTP statuses it may travel under).
ERROR_TABLE: Final = {
    -32600: ("invalid_request", {400}),
    -32601: ("method_not_found", {400}),
    -32602: ("invalid_params", {400}),
    -32001: ("unauthenticated", {401}),
    -32003: ("unauthorized", {403}),
    -32004: ("not_found", {200}),
    -32009: ("conflict", {200}),
    -32020: ("evidence", {200}),
    -32030: ("control_plane", {200}),
    -32040: ("runpack", {200}),
    -32050: ("internal", {200}),
    -32060: ("serialization", {200}),
    -32070: ("request_too_large", {200, 413}),
    -32071: ("rate_limited", {200, 429}),
    -32072: ("inflight_limit", {503}),
    -32073: ("invalid_correlation_id", {400}),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "evidence").mkdir()
    with run_server(server_config(str(tmp_path / "evidence"))) as running:
        yield running


def assert_table_error(status: int, payload: Any) -> None:
    """`payload` is a JSON-RPC error of the §1.5 table, sent under one of its statuses."""
    assert isinstance(payload, dict), payload
    assert payload["jsonrpc"] == "2.0", payload
    assert "id" in payload, payload
    assert "result" not in payload, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "data"}, error
    kind, statuses = ERROR_TABLE[error["code"]]
    assert status in statuses, (status, error)
    assert isinstance(error["message"], str)
    data = error["data"]
    assert data["kind"] == kind, error
    assert data["retryable"] is (error["code"] in (-32071, -32072)), error
    assert data["request_id"] is None or isinstance(data["request_id"], str), error


def assert_fails_closed(response: Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 413:
        assert "too large" in response.text
        return
    payload = response.json()
    if response.status_code != 200:
        assert_table_error(response.status_code, payload)
    elif "error" in payload:
        assert_table_error(200, payload)
    else:
        assert set(payload) == {"jsonrpc", "id", "result"}, payload


def fuzz(server: RunningServer, mode: GenerationMode) -> int:
    """Send `EXAMPLES` derandomized requests of `mode`; returns how many were sent."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operation = schema["/rpc"]["POST"]
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one_request(case: schemathesis.Case) -> None:
        nonlocal sent
        response = case.call(base_url=server.base_url)
        sent += 1
        assert_fails_closed(response)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    one_request()
    return sent


def test_requests_that_follow_the_document_get_documented_answers(server: RunningServer) -> None:
    assert fuzz(server, GenerationMode.POSITIVE) >= EXAMPLES // 2


def test_requests_that_break_the_document_are_refused_in_the_table_shape(
    server: RunningServer,
) -> None:
    assert fuzz(server, GenerationMode.NEGATIVE) >= EXAMPLES // 2
