"""Our OpenAPI 3.1 description of the HTTP surface, built from the tool contract.

The reference publishes an OpenAPI view of `tools/call` only, with a `$ref`
to the scenario schema that no OpenAPI tool can resolve. Ours describes what
`POST /rpc` really accepts and answers: the request body is a `oneOf` over
one JSON-RPC envelope per tool (its `arguments` being the tool's published
`input_schema`) plus `tools/list` and, when docs resources are enabled,
`resources/list` and `resources/read`; a 200 carries either a result or a
JSON-RPC error, and every refusal status of the error table (server.md §1.5)
carries a JSON-RPC error whose `code` and `data.kind` are pinned to that
status. The 413 body limit answers in plain text, before any parsing, as the
reference does. The scenario schema's definitions become components, so the
document is self-contained.

The document follows the config: exactly the tools `tools/list` shows
(visibility filter, docs search switch), docs resources only when enabled,
SSE event bodies in SSE mode, and the bearer or mTLS-subject scheme and the
client certificate the server demands. It holds nothing but the published contract, so it is served
without credentials, like the probes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from decision_gate import __version__
from decision_gate.config.model import AuthMode, Transport
from decision_gate.contract import load_json
from decision_gate.server.catalogue import contract_for
from decision_gate.server.errors import RETRYABLE_CODES

if TYPE_CHECKING:
    from decision_gate.server.app import DecisionGateServer

SCENARIO_SCHEMA_ID: Final = "decision-gate://contract/schemas/scenario.schema.json"
COMPONENTS: Final = "#/components/schemas/"

# The error table (server.md §1.5): HTTP status -> (code, kind) pairs answered under it.
REFUSALS: Final[Mapping[int, tuple[tuple[int, str], ...]]] = {
    400: (
        (-32600, "invalid_request"),
        (-32601, "method_not_found"),
        (-32602, "invalid_params"),
        (-32073, "invalid_correlation_id"),
    ),
    401: ((-32001, "unauthenticated"),),
    403: ((-32003, "unauthorized"),),
    429: ((-32071, "rate_limited"),),
    503: ((-32072, "inflight_limit"),),
}
ANSWERED_ERRORS: Final[tuple[tuple[int, str], ...]] = (
    (-32004, "not_found"),
    (-32009, "conflict"),
    (-32020, "evidence"),
    (-32030, "control_plane"),
    (-32040, "runpack"),
    (-32050, "internal"),
    (-32060, "serialization"),
    (-32070, "request_too_large"),
    (-32071, "rate_limited"),
)
SECURITY_SCHEMES: Final[Mapping[AuthMode, Mapping[str, str]]] = {
    AuthMode.BEARER_TOKEN: {"type": "http", "scheme": "bearer"},
    AuthMode.MTLS: {"type": "apiKey", "in": "header", "name": "x-decision-gate-client-subject"},
}
UNDISCLOSED: Final = {-32001: "unauthenticated", -32003: "unauthorized"}
_STATUS_TEXT: Final = {
    400: "Malformed request, unknown method or tool, invalid params or correlation id.",
    401: "Missing or invalid credentials; the reason is never disclosed.",
    403: "Authenticated but not allowed; the reason is never disclosed.",
    429: "Rate limit exceeded; `data.retry_after_ms` says when to retry.",
    503: "No inflight permit free, or the rate limiter's key table is full.",
}


def _pascal(tool: str) -> str:
    return "".join(part.capitalize() for part in tool.split("_"))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def _portable(schema: Any) -> Any:
    """A contract schema rewritten for the document: scenario refs point at components."""
    if isinstance(schema, list):
        return [_portable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    rewritten: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref" and isinstance(value, str):
            if value == SCENARIO_SCHEMA_ID:
                value = COMPONENTS + "ScenarioSpec"
            elif value.startswith("#/$defs/"):
                value = COMPONENTS + value.removeprefix("#/$defs/")
        rewritten[key] = _portable(value)
    return rewritten


def _scenario_components() -> dict[str, Any]:
    scenario = copy.deepcopy(load_json("scenario.schema.json"))
    definitions: dict[str, Any] = scenario.pop("$defs")
    components = {name: _portable(schema) for name, schema in definitions.items()}
    components["ScenarioSpec"] = _portable(scenario)
    return components


def _envelope(method: str, params: Mapping[str, Any] | None, *, params_required: bool) -> Any:
    properties: dict[str, Any] = {
        "jsonrpc": {"const": "2.0"},
        "id": _ref("JsonRpcId"),
        "method": {"const": method},
    }
    if params is not None:
        properties["params"] = params
    required = ["jsonrpc", "id", "method"] + (["params"] if params_required else [])
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _error_schema(pairs: Iterable[tuple[int, str]], *, retry_after: bool = False) -> Any:
    """A JSON-RPC error whose (code, kind, retryable) is one row of the table."""
    rows = []
    for code, kind in pairs:
        row: dict[str, Any] = {
            "properties": {
                "code": {"const": code},
                "data": {
                    "properties": {
                        "kind": {"const": kind},
                        "retryable": {"const": code in RETRYABLE_CODES},
                    }
                },
            }
        }
        if code in UNDISCLOSED:
            row["properties"]["message"] = {"const": UNDISCLOSED[code]}
        rows.append(row)
    data: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "retryable", "request_id"],
        "properties": {
            "kind": {"type": "string"},
            "retryable": {"type": "boolean"},
            "request_id": {"type": ["string", "null"]},
            "retry_after_ms": {"type": "integer", "minimum": 1},
        },
    }
    if retry_after:
        data["required"].append("retry_after_ms")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["jsonrpc", "id", "error"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": _ref("EchoedId"),
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message", "data"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "data": data,
                },
                "anyOf": rows,
            },
        },
    }


def _result_schema(result: Any) -> Any:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["jsonrpc", "id", "result"],
        "properties": {"jsonrpc": {"const": "2.0"}, "id": _ref("EchoedId"), "result": result},
    }


def _json_content(output_schema: Any) -> Any:
    return {
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "json"],
                    "properties": {"type": {"const": "json"}, "json": output_schema},
                },
            }
        },
    }


def _string_object(*keys: str) -> Any:
    return {
        "type": "object",
        "required": list(keys),
        "properties": {key: {"type": "string"} for key in keys},
    }


def _json_body(schema: Any, description: str, *, sse: bool = False) -> Any:
    if sse:
        # One `data: <JSON-RPC response>` event per request (server.md §1.2).
        content = {"text/event-stream": {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": schema}}
    return {"description": description, "content": content}


def served_document(server: DecisionGateServer) -> dict[str, Any]:
    """The document for a running server: its listed tools, docs, transport and auth mode."""
    config = server.config.server
    return openapi_document(
        server.router.listed_tools(),
        resources=server.docs.resources_enabled,
        sse=config.transport is Transport.SSE,
        auth_mode=config.auth_or_default.mode,
        client_certificate=config.tls is not None
        and config.tls.client_ca_path is not None
        and config.tls.require_client_cert,
    )


def openapi_document(
    tools: Sequence[str],
    *,
    resources: bool,
    sse: bool = False,
    auth_mode: AuthMode = AuthMode.LOCAL_ONLY,
    client_certificate: bool = False,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server listing `tools` (and docs resources or not),
    answering in SSE events or plain JSON, under one authentication mode, with or
    without a client certificate required at the TLS handshake."""
    schemas: dict[str, Any] = _scenario_components()
    requests: list[Any] = []
    results: list[Any] = []
    examples: dict[str, Any] = {}
    for tool in tools:
        contract = contract_for(tool)
        if contract is None:
            raise KeyError(tool)
        name = _pascal(tool)
        schemas[f"{name}Arguments"] = _portable(copy.deepcopy(contract.input_schema))
        schemas[f"{name}Output"] = _portable(copy.deepcopy(contract.output_schema))
        schemas[f"{name}Call"] = _envelope(
            "tools/call",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "arguments"],
                "properties": {"name": {"const": tool}, "arguments": _ref(f"{name}Arguments")},
            },
            params_required=True,
        )
        requests.append(_ref(f"{name}Call"))
        results.append(_json_content(_ref(f"{name}Output")))
        for index, example in enumerate(contract.examples):
            examples[f"{tool}-{index}"] = {
                "summary": str(example.get("description", tool)),
                "value": {
                    "jsonrpc": "2.0",
                    "id": index + 1,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": example["input"]},
                },
            }
    schemas["ToolsListCall"] = _envelope("tools/list", {}, params_required=False)
    requests.append(_ref("ToolsListCall"))
    results.append(
        {
            "type": "object",
            "required": ["tools"],
            "properties": {
                "tools": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "description", "input_schema"],
                        "properties": {
                            "name": {"enum": list(tools)},
                            "description": {"type": "string"},
                            "input_schema": {"type": "object"},
                        },
                    },
                }
            },
        }
    )
    if resources:
        schemas["ResourcesListCall"] = _envelope("resources/list", {}, params_required=False)
        schemas["ResourcesReadCall"] = _envelope(
            "resources/read",
            {
                "type": "object",
                "required": ["uri"],
                "properties": {"uri": {"type": "string", "pattern": "^decision-gate://docs/"}},
            },
            params_required=True,
        )
        requests += [_ref("ResourcesListCall"), _ref("ResourcesReadCall")]
        results.append(
            {
                "type": "object",
                "required": ["resources"],
                "properties": {
                    "resources": {
                        "type": "array",
                        "items": _string_object("uri", "name", "description", "mimeType"),
                    }
                },
            }
        )
        results.append(
            {
                "type": "object",
                "required": ["contents"],
                "properties": {
                    "contents": {
                        "type": "array",
                        "items": _string_object("uri", "mimeType", "text"),
                    }
                },
            }
        )
    schemas["JsonRpcId"] = {"type": ["string", "number", "null"]}
    schemas["EchoedId"] = {
        "description": "The request's id, echoed verbatim whatever JSON it was; null if unparsed."
    }
    schemas["JsonRpcRequest"] = {"oneOf": requests}
    schemas["JsonRpcAnswer"] = {
        "oneOf": [
            _result_schema({"anyOf": results}),
            _error_schema(ANSWERED_ERRORS),
        ]
    }
    responses: dict[str, Any] = {
        "200": _json_body(
            _ref("JsonRpcAnswer"),
            "A result, or a JSON-RPC error answering the request (not found, conflict, ...).",
            sse=sse,
        ),
        "413": {
            "description": "Body over `max_body_bytes`, refused before it is parsed.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    }
    for status, pairs in REFUSALS.items():
        schema_name = f"JsonRpcError{status}"
        schemas[schema_name] = _error_schema(pairs, retry_after=status == 429)
        responses[str(status)] = _json_body(_ref(schema_name), _STATUS_TEXT[status], sse=sse)
    status_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    }
    rpc: dict[str, Any] = {
        "operationId": "rpc",
        "summary": "One JSON-RPC 2.0 request: a tool call, tools/list or a resource.",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _ref("JsonRpcRequest"), "examples": examples}
            },
        },
        "responses": responses,
    }
    components: dict[str, Any] = {"schemas": schemas}
    schemes: dict[str, Any] = {}
    if auth_mode in SECURITY_SCHEMES:
        schemes[auth_mode.value] = dict(SECURITY_SCHEMES[auth_mode])
    if client_certificate:
        schemes["client_certificate"] = {"type": "mutualTLS"}
    if schemes:
        components["securitySchemes"] = schemes
        rpc["security"] = [{name: [] for name in schemes}]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Decision Gate",
            "version": __version__,
            "description": "JSON-RPC 2.0 over HTTP: the MCP tools, tools/list and docs resources.",
        },
        "paths": {
            "/rpc": {"post": rpc},
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness.",
                    "responses": {"200": _json_body(status_schema, "Alive.")},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: both stores answer.",
                    "responses": {
                        "200": _json_body(status_schema, "Ready."),
                        "503": _json_body(status_schema, "A store does not answer."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": _json_body({"type": "object"}, "OpenAPI 3.1.")},
                }
            },
        },
        "components": components,
    }
