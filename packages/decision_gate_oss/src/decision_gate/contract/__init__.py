"""The published wire contract, shipped inside the package.

These files are copies of the reference's generated contract (tooling.json,
scenario.schema.json, config.schema.json, providers.json) and its config
presets; a test checks they stay identical to ../shared/contract/. They are
data: read them through `load_json`, never edit them.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from decision_gate.core.errors import InvalidInput

CONTRACT_FILES = ("tooling.json", "scenario.schema.json", "config.schema.json", "providers.json")


@functools.cache
def load_json(name: str) -> Any:
    """One contract file, parsed (cached: they never change at run time)."""
    if name not in CONTRACT_FILES:
        raise KeyError(name)
    return json.loads(resources.files(__package__).joinpath(name).read_text("utf-8"))


@functools.cache
def scenario_validator() -> jsonschema.protocols.Validator:
    schema = load_json("scenario.schema.json")
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def check_scenario_schema(document: Any) -> None:
    """Raise `InvalidInput` naming the JSON path of the most relevant schema violation."""
    error = best_match(scenario_validator().iter_errors(document))
    if error is not None:
        raise InvalidInput(f"invalid scenario spec: {error.message}", path=error.json_path)
