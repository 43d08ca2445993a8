"""`GET /openapi.json`: our OpenAPI 3.1 document of the HTTP surface, built from the contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
from openapi_spec_validator import validate
from referencing.jsonschema import DRAFT202012
from server_harness import RunningServer, run_server, server_config
from test_server_tls import client_context, pki, serving_options, tls_config

from decision_gate.server.catalogue import TOOL_NAMES, tool_contracts

__all__ = ["pki"]  # the fixture, shared with the TLS tests


@pytest.fixture
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def server(evidence_root: str) -> Iterator[RunningServer]:
    with run_server(server_config(evidence_root)) as running:
        yield running


def fetched(server: RunningServer) -> dict[str, Any]:
    response = server.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def request_validator(document: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for the `/rpc` request body that resolves refs inside the document."""
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        "urn:dg-openapi", referencing.Resource.from_contents(document, DRAFT202012)
    )
    schema = {"$ref": "urn:dg-openapi#/components/schemas/JsonRpcRequest"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def tool_calls(document: dict[str, Any]) -> list[str]:
    schemas = document["components"]["schemas"]
    names = []
    for branch in schemas["JsonRpcRequest"]["oneOf"]:
        envelope = schemas[branch["$ref"].rsplit("/", 1)[1]]
        if envelope["properties"]["method"]["const"] == "tools/call":
            names.append(envelope["properties"]["params"]["properties"]["name"]["const"])
    return names


def test_the_served_document_is_valid_openapi_3_1(server: RunningServer) -> None:
    document = fetched(server)

    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_tool_of_the_contract_has_a_call_envelope(server: RunningServer) -> None:
    assert tool_calls(fetched(server)) == list(TOOL_NAMES)


def test_every_contract_example_is_a_valid_request_body(server: RunningServer) -> None:
    document = fetched(server)
    examples = document["paths"]["/rpc"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    validator = request_validator(document)

    assert len(examples) == sum(len(contract.examples) for contract in tool_contracts())
    for example in examples.values():
        validator.validate(example["value"])


def test_a_call_with_unknown_arguments_is_not_a_valid_request_body(server: RunningServer) -> None:
    validator = request_validator(fetched(server))
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "providers_list", "arguments": {"surprise": True}},
    }

    assert not validator.is_valid(body)


def test_the_error_statuses_of_the_table_are_documented(server: RunningServer) -> None:
    responses = fetched(server)["paths"]["/rpc"]["post"]["responses"]

    assert sorted(responses) == ["200", "400", "401", "403", "413", "429", "503"]
    assert "text/plain" in responses["413"]["content"]


def test_hidden_tools_are_not_in_the_document(evidence_root: str) -> None:
    hidden = '[server.tools]\ndenylist = ["scenario_define"]\n'
    with run_server(server_config(evidence_root, hidden)) as server:
        names = tool_calls(fetched(server))

    assert "scenario_define" not in names
    assert len(names) == len(TOOL_NAMES) - 1


def test_the_document_needs_no_credentials_in_bearer_mode(evidence_root: str) -> None:
    bearer = '[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["dg-openapi-token"]\n'
    with run_server(server_config(evidence_root, bearer)) as server:
        response = server.client.get("/openapi.json")

    assert response.status_code == 200
    assert "dg-openapi-token" not in response.text


def test_bearer_mode_documents_the_bearer_scheme_on_rpc(evidence_root: str) -> None:
    bearer = '[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["dg-openapi-token"]\n'
    with run_server(server_config(evidence_root, bearer)) as server:
        document = fetched(server)

    validate(document)
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"bearer_token": {"type": "http", "scheme": "bearer"}}
    assert document["paths"]["/rpc"]["post"]["security"] == [{"bearer_token": []}]


def test_local_only_mode_documents_no_credentials(server: RunningServer) -> None:
    document = fetched(server)

    assert "securitySchemes" not in document["components"]
    assert "security" not in document["paths"]["/rpc"]["post"]


def test_sse_mode_documents_event_stream_answers(evidence_root: str) -> None:
    with run_server(server_config(evidence_root, transport="sse")) as server:
        document = fetched(server)
        answer = server.rpc("tools/list")

    validate(document)
    responses = document["paths"]["/rpc"]["post"]["responses"]
    assert set(responses["200"]["content"]) == {"text/event-stream"}
    assert set(responses["401"]["content"]) == {"text/event-stream"}
    assert answer.headers["content-type"].startswith("text/event-stream")


def test_a_required_client_certificate_is_documented_as_mutual_tls(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = tls_config(tmp_path, pki, client_ca=True)
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, "client")},
    ) as server:
        document = fetched(server)

    validate(document)
    assert document["components"]["securitySchemes"] == {
        "client_certificate": {"type": "mutualTLS"}
    }
    assert document["paths"]["/rpc"]["post"]["security"] == [{"client_certificate": []}]
