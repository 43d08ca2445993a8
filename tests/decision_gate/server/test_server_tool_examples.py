"""Every `examples` entry of tooling.json, called over /rpc on a running server.

Each example runs against a fresh server holding the state it presumes (the
example scenario defined and its run started, the example schema registered).
Two inputs are adapted, and only where the example cannot run anywhere:
`scenario_define`'s spec names no tenant in the default namespace, which the
namespace guard refuses under every configuration (pinned below), so it is
defined with tenant 1; and the runpack examples' `/var/lib/...` directory is
replaced by a temporary one. The precheck example's data shape describes no
condition of the example scenario, which strict validation (the default, as
in the reference) refuses (pinned below), so that one example runs with
`validation.strict = false`. Every result must satisfy the tool's published
output schema.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

from decision_gate.server.catalogue import output_problems, tool_contracts

EXAMPLES = [
    pytest.param(contract.name, index, dict(example["input"]), id=f"{contract.name}-{index}")
    for contract in tool_contracts()
    for index, example in enumerate(contract.examples)
]
EXAMPLE_SCENARIO = "example-scenario"


def example_input(tool: str, index: int = 0) -> dict[str, Any]:
    for contract in tool_contracts():
        if contract.name == tool:
            return copy.deepcopy(dict(contract.examples[index]["input"]))
    raise KeyError(tool)


def example_spec() -> dict[str, Any]:
    spec = example_input("scenario_define")["spec"]
    spec["default_tenant_id"] = 1
    return spec


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "evidence").mkdir()
    with run_server(server_config(str(tmp_path / "evidence"))) as running:
        yield running


def define_and_start(server: RunningServer) -> None:
    server.call("scenario_define", {"spec": example_spec()})
    server.call("scenario_start", example_input("scenario_start"))


def prepare(server: RunningServer, tool: str, arguments: dict[str, Any], tmp_path: Path) -> None:
    """Bring the server into the state the example presumes; adapt its paths."""
    if tool == "scenario_define":
        arguments["spec"]["default_tenant_id"] = 1
    elif tool == "scenario_start":
        server.call("scenario_define", {"spec": example_spec()})
    elif tool in ("scenario_status", "scenario_next", "scenario_submit", "scenario_trigger"):
        define_and_start(server)
    elif tool == "runpack_export":
        define_and_start(server)
        arguments["output_dir"] = str(tmp_path / "runpack")
    elif tool == "runpack_verify":
        define_and_start(server)
        export = example_input("runpack_export")
        export["output_dir"] = str(tmp_path / "runpack")
        server.call("runpack_export", export)
        arguments["runpack_dir"] = str(tmp_path / "runpack")
    elif tool == "scenarios_list":
        server.call("scenario_define", {"spec": example_spec()})
    elif tool == "schemas_get":
        server.call("schemas_register", example_input("schemas_register"))
    elif tool == "precheck":
        server.call("scenario_define", {"spec": example_spec()})
        server.call("schemas_register", example_input("schemas_register"))


def test_every_tool_has_an_example() -> None:
    assert {param.values[0] for param in EXAMPLES} == {c.name for c in tool_contracts()}


PERMISSIVE = "[validation]\nstrict = false\nallow_permissive = true\n"


@pytest.mark.parametrize(("tool", "index", "arguments"), EXAMPLES)
def test_the_example_call_succeeds_with_a_result_the_output_schema_accepts(
    tmp_path: Path, tool: str, index: int, arguments: dict[str, Any]
) -> None:
    arguments = copy.deepcopy(arguments)
    (tmp_path / "evidence").mkdir()
    extra = PERMISSIVE if tool == "precheck" else ""
    with run_server(server_config(str(tmp_path / "evidence"), extra)) as server:
        prepare(server, tool, arguments, tmp_path)

        result = server.call(tool, arguments)

    assert output_problems(tool, result) == []


def test_the_verbatim_precheck_example_is_refused_by_strict_validation(
    server: RunningServer,
) -> None:
    server.call("scenario_define", {"spec": example_spec()})
    server.call("schemas_register", example_input("schemas_register"))

    status, error = server.error("precheck", example_input("precheck"))

    assert (status, error["code"]) == (400, -32602)
    assert error["message"] == "condition env_is_prod missing from data shape schema"


def test_the_verbatim_define_example_is_refused_by_the_namespace_guard(
    server: RunningServer,
) -> None:
    status, error = server.error("scenario_define", example_input("scenario_define"))

    assert (status, error["code"], error["message"]) == (403, -32003, "unauthorized")


def test_the_example_scenario_lists_after_definition(server: RunningServer) -> None:
    server.call("scenario_define", {"spec": example_spec()})

    listed = server.call("scenarios_list", example_input("scenarios_list"))

    assert [item["scenario_id"] for item in listed["items"]] == [EXAMPLE_SCENARIO]


def test_the_example_run_completes_once_the_freeze_has_passed(server: RunningServer) -> None:
    define_and_start(server)
    arguments = example_input("scenario_next")
    arguments["request"]["time"] = {"kind": "unix_millis", "value": 1710000000001}

    result = server.call("scenario_next", arguments)

    assert result["status"] == "completed"
    assert result["decision"]["outcome"] == {"kind": "complete", "stage_id": "main"}


def test_the_example_export_verifies(server: RunningServer, tmp_path: Path) -> None:
    define_and_start(server)
    export = example_input("runpack_export")
    export["output_dir"] = str(tmp_path / "runpack")
    export["include_verification"] = True
    exported = server.call("runpack_export", export)

    verified = server.call(
        "runpack_verify",
        {"runpack_dir": str(tmp_path / "runpack"), "manifest_path": "manifest.json"},
    )

    assert exported["report"]["status"] == "pass"
    assert verified["status"] == "pass"
    assert exported["manifest"]["security"] == {
        "dev_permissive": False,
        "namespace_authority": "dg_registry",
    }
