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
from typing import Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from rpc_error_table import assert_fails_closed
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_harness import RunningServer, run_server, server_config

EXAMPLES: Final = 80


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "evidence").mkdir()
    with run_server(server_config(str(tmp_path / "evidence"))) as running:
        yield running


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
        assert_fails_closed(response.status_code, response.content)
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
