"""The server.md §1.5 error table as a test oracle, written out independently of the server."""

from __future__ import annotations

import json
from typing import Any, Final

# code -> (data.kind, HTTP statuses it may travel under).
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
UNDISCLOSED: Final = {-32001: "unauthenticated", -32003: "unauthorized"}


def assert_table_error(status: int, payload: Any) -> None:
    """`payload` is a JSON-RPC error of the table, sent under one of its statuses."""
    assert isinstance(payload, dict), payload
    assert payload["jsonrpc"] == "2.0", payload
    assert "id" in payload, payload
    assert "result" not in payload, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "data"}, error
    kind, statuses = ERROR_TABLE[error["code"]]
    assert status in statuses, (status, error)
    assert isinstance(error["message"], str)
    if error["code"] in UNDISCLOSED:
        assert error["message"] == UNDISCLOSED[error["code"]], error
    data = error["data"]
    assert data["kind"] == kind, error
    assert data["retryable"] is (error["code"] in (-32071, -32072)), error
    assert data["request_id"] is None or isinstance(data["request_id"], str), error


def assert_fails_closed(status: int, content: bytes) -> None:
    """No 5xx; 413 is the plain-text body limit; anything else is a result or a table error."""
    assert status < 500, content[:500]
    if status == 413:
        assert b"too large" in content
        return
    payload = json.loads(content)
    if status != 200 or "error" in payload:
        assert_table_error(status, payload)
    else:
        assert set(payload) == {"jsonrpc", "id", "result"}, payload
