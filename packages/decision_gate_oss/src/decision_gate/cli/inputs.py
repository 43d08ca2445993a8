"""Reading what a user hands the CLI: files and JSON arguments, with typed errors.

Every file is read with a size cap (no unbounded read of a path a user typed),
decoded with the core's JSON number model, and parsed into model values whose
errors name the file and the JSON path of the first bad field. A directory, a
missing file, a FIFO or invalid UTF-8 all become one clear `InvalidInput`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Final

from decision_gate.contract import check_scenario_schema
from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonDecodeError, JsonValue, loads
from decision_gate.core.model import (
    RunConfig,
    ScenarioSpec,
    Timestamp,
    TriggerEvent,
    parse,
)

MAX_INPUT_BYTES: Final = 16 * 1024 * 1024


def read_json_file(path: str | Path, what: str) -> JsonValue:
    """The JSON document in `path`, or `InvalidInput` saying which file and why."""
    name = os.fspath(path)
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InvalidInput(f"{what} file not found: {name}") from None
    except OSError as error:
        raise InvalidInput(f"cannot open {what} file {name}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InvalidInput(f"{what} path is not a regular file: {name}")
    except InvalidInput:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidInput(f"{what} file {name} is larger than {MAX_INPUT_BYTES} bytes")
    try:
        return loads(data)
    except JsonDecodeError as error:
        raise InvalidInput(f"{what} file {name} is not valid JSON: {error}") from None


def parse_json_argument(text: str, what: str) -> JsonValue:
    try:
        return loads(text)
    except JsonDecodeError as error:
        raise InvalidInput(f"{what} is not valid JSON: {error}") from None


def load_scenario(path: str | Path) -> ScenarioSpec:
    """A scenario spec file, checked against the published schema, then parsed."""
    document = read_json_file(path, "scenario")
    check_scenario_schema(document)
    return parse(ScenarioSpec, document, "scenario spec")


def load_run_config(path: str | Path) -> RunConfig:
    return parse(RunConfig, read_json_file(path, "run config"), "run config")


def load_triggers(path: str | Path) -> list[TriggerEvent]:
    """A JSON array of trigger events (the wire form of `scenario_trigger`'s `trigger`)."""
    document = read_json_file(path, "triggers")
    if not isinstance(document, list):
        raise InvalidInput(f"triggers file {os.fspath(path)} must hold a JSON array of triggers")
    return [
        parse(TriggerEvent, item, f"trigger #{index + 1}") for index, item in enumerate(document)
    ]


def parse_timestamp(text: str) -> Timestamp:
    """A timestamp argument: `logical:N`, `unix_millis:N`, or its wire JSON."""
    kind, _, number = text.partition(":")
    if kind in ("logical", "unix_millis") and number.lstrip("-").isdigit():
        document: Any = {"kind": kind, "value": int(number)}
    else:
        document = parse_json_argument(text, "timestamp")
    return parse(Timestamp, document, "timestamp")  # type: ignore[arg-type]
