"""The 18 tools as published in contract/tooling.json, and their argument checks.

The contract is the single source of the tool list: names and order
(`tools/list` order is the file's order), descriptions, and the JSON Schemas
of arguments and results. Arguments are validated against the published
input schema before anything else looks at them, so an unknown field, a
wrong type or an out-of-range id is refused with -32602 and the JSON path of
the problem - stricter than the reference, which ignores unknown fields, and
what its schemas (`additionalProperties: false`) promise. Output schemas are
exposed for tests and for the standard-MCP `outputSchema`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs
import jsonschema
import referencing
from jsonschema.exceptions import ValidationError, best_match
from referencing.jsonschema import DRAFT202012

from decision_gate.contract import load_json
from decision_gate.core.errors import InvalidInput


@attrs.frozen
class ToolContract:
    name: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    examples: tuple[Mapping[str, Any], ...]

    def definition(self) -> dict[str, Any]:
        """The reference's `tools/list` entry (snake_case `input_schema`)."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


@functools.cache
def tool_contracts() -> tuple[ToolContract, ...]:
    """Every tool of the contract, in canonical order."""
    return tuple(
        ToolContract(
            name=entry["name"],
            description=entry["description"],
            input_schema=entry["input_schema"],
            output_schema=entry["output_schema"],
            examples=tuple(entry.get("examples", ())),
        )
        for entry in load_json("tooling.json")
    )


MAX_MESSAGE_CHARS: Final = 512
TOOL_NAMES: Final = tuple(contract.name for contract in tool_contracts())
DOCS_SEARCH_TOOL: Final = "decision_gate_docs_search"


@functools.cache
def contract_for(name: str) -> ToolContract | None:
    for contract in tool_contracts():
        if contract.name == name:
            return contract
    return None


@functools.cache
def _registry() -> referencing.Registry[Any]:
    """The contract's schemas under their `$id`s (tool schemas `$ref` the scenario schema)."""
    scenario: dict[str, Any] = load_json("scenario.schema.json")
    resource: referencing.Resource[Any] = referencing.Resource.from_contents(scenario, DRAFT202012)
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        scenario["$id"], resource
    )
    return registry


@functools.cache
def _validator(name: str, which: str) -> jsonschema.protocols.Validator:
    contract = contract_for(name)
    assert contract is not None
    schema = contract.input_schema if which == "input" else contract.output_schema
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, registry=_registry())


def check_arguments(name: str, arguments: Any) -> None:
    """Raise `InvalidInput` (-32602) naming the first problem in `arguments`."""
    error = best_match(_validator(name, "input").iter_errors(arguments))
    if error is not None:
        raise InvalidInput(f"invalid arguments for {name}: {describe(error)}")


def output_problems(name: str, output: Any) -> list[str]:
    """Every way `output` breaks the tool's published output schema (for tests)."""
    return [describe(error) for error in _validator(name, "output").iter_errors(output)]


def describe(error: ValidationError) -> str:
    """`<json path>: <what is wrong>`, naming unknown fields one by one."""
    error = _deepest(error)
    path = error.json_path
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        if unknown:
            names = ", ".join(json.dumps(key) for key in unknown)
            return _bounded(f"{path}: unknown field(s) {names}")
    if error.validator == "required" and isinstance(error.instance, dict):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [key for key in required if key not in error.instance]
        if missing:
            return _bounded(f"{path}: missing field {json.dumps(missing[0])}")
    return _bounded(f"{path}: {error.message}")


def _bounded(message: str) -> str:
    """Messages echo parts of the input; a huge value must not make a huge error."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."


def _deepest(error: ValidationError) -> ValidationError:
    while error.validator in ("oneOf", "anyOf") and error.context:
        chosen = best_match(error.context)
        if chosen is None:
            break
        error = chosen
    return error
