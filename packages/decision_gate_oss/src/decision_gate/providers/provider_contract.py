"""Provider contracts of external (MCP) providers: the file a provider ships to say
what it answers, loaded once at startup.

A contract is what every spec and query naming the provider is checked against
(params, comparators, expected values), so a bad one must stop the server
rather than let it run with checks it cannot enforce. Loading therefore fails
with a `ProviderContractError` naming the file or the provider and the JSON
path of the problem when: the file is over 1 MiB or unreadable, it is not
JSON, any field of the reference's contract shape is missing or has the wrong
type, it carries a field that shape does not have (the reference drops such
fields silently; refusing them means a misspelt key is noticed), its
`provider_id` is not the configured name, its transport is not `mcp`, a
check's comparators are empty or out of canonical order, two checks share an
id, or a schema does not compile as JSON Schema draft 2020-12.
The loaded contract is returned as plain JSON data, exactly as written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

from decision_gate.core.comparators import Comparator
from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonDecodeError, JsonValue, loads

MAX_CONTRACT_BYTES: Final = 1024 * 1024
MAX_PATH_CHARS: Final = 4096
MAX_PATH_COMPONENT_CHARS: Final = 255
_COMPARATOR_ORDER: Final = {comparator.value: index for index, comparator in enumerate(Comparator)}

_STRING: Final = {"type": "string"}
_STRINGS: Final = {"type": "array", "items": _STRING}
_EXAMPLE: Final = {
    "type": "object",
    "required": ["description", "params", "result"],
    "additionalProperties": False,
    "properties": {"description": _STRING, "params": True, "result": True},
}
_CHECK: Final = {
    "type": "object",
    "required": [
        "check_id",
        "description",
        "determinism",
        "params_required",
        "params_schema",
        "result_schema",
        "allowed_comparators",
        "anchor_types",
        "content_types",
        "examples",
    ],
    "additionalProperties": False,
    "properties": {
        "check_id": _STRING,
        "description": _STRING,
        "determinism": {"enum": ["deterministic", "time_dependent", "external"]},
        "params_required": {"type": "boolean"},
        "params_schema": True,
        "result_schema": True,
        "allowed_comparators": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(_COMPARATOR_ORDER)},
        },
        "anchor_types": _STRINGS,
        "content_types": _STRINGS,
        "examples": {"type": "array", "items": _EXAMPLE},
    },
}
CONTRACT_SHAPE: Final = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "provider_id",
        "name",
        "description",
        "transport",
        "config_schema",
        "checks",
        "notes",
    ],
    "additionalProperties": False,
    "properties": {
        "provider_id": _STRING,
        "name": _STRING,
        "description": _STRING,
        "transport": _STRING,
        "config_schema": True,
        "checks": {"type": "array", "items": _CHECK},
        "notes": _STRINGS,
    },
}
"""The shape of a provider contract file (the reference's `ProviderContract`)."""

_SHAPE_VALIDATOR: Final = jsonschema.Draft202012Validator(CONTRACT_SHAPE)


class ProviderContractError(InvalidInput):
    """A provider contract that cannot be used; the server must not start with it."""


def load_provider_contract(path: str | os.PathLike[str], provider_id: str) -> dict[str, JsonValue]:
    """The contract in the file at `path`, checked for the provider configured as `provider_id`."""
    shown = os.fspath(path)
    _check_path(shown)
    try:
        with open(shown, "rb") as handle:
            content = handle.read(MAX_CONTRACT_BYTES + 1)
    except OSError as error:
        raise ProviderContractError(
            f"provider capability contract read failed: {shown}: {error.strerror or error}"
        ) from None
    if len(content) > MAX_CONTRACT_BYTES:
        raise _invalid(provider_id, "capability contract exceeds size limit")
    try:
        document = loads(content)
    except JsonDecodeError as error:
        raise ProviderContractError(
            f"provider capability contract parse failed: {shown}: {error}"
        ) from None
    return check_provider_contract(document, provider_id)


def check_provider_contract(document: JsonValue, provider_id: str) -> dict[str, JsonValue]:
    """`document` itself if it is a valid contract for `provider_id`."""
    problem = best_match(_SHAPE_VALIDATOR.iter_errors(document))
    if problem is not None:
        raise _invalid(provider_id, f"{problem.message} (at {problem.json_path})")
    if not isinstance(document, dict):  # unreachable: the shape requires an object
        raise _invalid(provider_id, "contract must be an object")
    contract: dict[str, Any] = document
    if contract["provider_id"] != provider_id:
        raise _invalid(
            provider_id,
            f"provider id mismatch (expected {provider_id}, got {contract['provider_id']})",
        )
    if contract["transport"] != "mcp":
        raise _invalid(provider_id, "external providers must declare transport=mcp")
    _check_schema(contract["config_schema"], provider_id, "config_schema")
    seen: set[str] = set()
    for check in contract["checks"]:
        check_id = check["check_id"]
        if check_id in seen:
            raise _invalid(provider_id, f"check {check_id} is declared twice")
        seen.add(check_id)
        order = [_COMPARATOR_ORDER[name] for name in check["allowed_comparators"]]
        if order != sorted(order):
            raise _invalid(provider_id, f"check {check_id} comparators not in canonical order")
        _check_schema(check["params_schema"], provider_id, check_id)
        _check_schema(check["result_schema"], provider_id, check_id)
    return document


def contract_check_ids(contract: Mapping[str, Any]) -> tuple[str, ...]:
    """The check ids a loaded contract declares, in its order."""
    return tuple(check["check_id"] for check in contract["checks"])


def _check_schema(schema: Any, provider_id: str, label: str) -> None:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ProviderContractError(
            f"schema compilation failed for {provider_id}.{label}: {error.message}"
        ) from None


def _check_path(path: str) -> None:
    if len(path) > MAX_PATH_CHARS:
        raise ProviderContractError(
            "provider capability contract path invalid: path exceeds max length"
        )
    for part in Path(path).parts:
        if len(part) > MAX_PATH_COMPONENT_CHARS:
            raise ProviderContractError(
                f"provider capability contract path invalid: {path}: path component too long"
            )


def _invalid(provider_id: str, detail: str) -> ProviderContractError:
    return ProviderContractError(f"provider capability contract invalid: {provider_id}: {detail}")
