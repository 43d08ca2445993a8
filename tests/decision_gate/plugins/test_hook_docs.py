"""Meta-tests: every hookspec is documented in docs/plugins.md with its exact signature
and a working example plugin, and has a test of its own in test_hooks.py (datasette's rule)."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from decision_gate.plugins import Seams, load_seams
from decision_gate.plugins.hookspecs import DecisionGateHookSpecs
from decision_gate.plugins.records import HOOK_NAMES

InstallPlugin = Callable[..., str]
HERE = Path(__file__).parent
DOCS = HERE.parents[2] / "docs" / "plugins.md"
DOCUMENTED = re.compile(r"^def (decision_gate_\w+)(\(.*\) -> [^:\n]+)$", re.M)
"""A reference signature line: annotated, no body (the examples' `def ...():` do not match)."""


def _hookspecs() -> dict[str, Callable[..., Any]]:
    return {
        name: member
        for name, member in vars(DecisionGateHookSpecs).items()
        if name.startswith("decision_gate_")
    }


def _signature(hook: Callable[..., Any]) -> str:
    """The hook as a plugin writes it: no `self`, annotations as written."""
    signature = inspect.signature(hook)
    parameters = [
        f"{p.name}: {p.annotation}" for p in signature.parameters.values() if p.name != "self"
    ]
    return f"({', '.join(parameters)}) -> {signature.return_annotation}"


def _documented() -> dict[str, str]:
    return dict(DOCUMENTED.findall(DOCS.read_text("utf-8")))


def test_every_hookspec_is_documented_with_its_exact_signature() -> None:
    documented = _documented()
    for name, hook in _hookspecs().items():
        assert name in documented, f"{name} is not documented in docs/plugins.md"
        assert documented[name] == _signature(hook), name


def test_the_docs_describe_no_hook_that_does_not_exist() -> None:
    assert set(_documented()) == set(_hookspecs())


def test_every_hookspec_has_a_reference_section_and_a_docstring() -> None:
    text = DOCS.read_text("utf-8")
    for name, hook in _hookspecs().items():
        assert f"### {name}\n" in text
        assert inspect.getdoc(hook)


def test_every_seam_registration_hook_is_a_hookspec() -> None:
    assert set(HOOK_NAMES.values()) | {"decision_gate_seams_loaded"} == set(_hookspecs())


def test_every_hookspec_has_a_test_named_after_it() -> None:
    tree = ast.parse((HERE / "test_hooks.py").read_text("utf-8"))
    tests = [
        node.name
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        and node.name.startswith("test_")
    ]
    for name in _hookspecs():
        assert any(test.startswith(f"test_{name}_") for test in tests), f"no test for {name}"


EXAMPLE = re.compile(r"```(python|toml) example=(\w+)\n(.*?)```", re.S)

SELECTED: dict[str, Callable[[Seams], object]] = {
    "decision_gate_run_state_stores": lambda seams: seams.run_state_store,
    "decision_gate_schema_registries": lambda seams: seams.schema_registry,
    "decision_gate_runpack_storages": lambda seams: seams.runpack_storage,
    "decision_gate_tenant_authorizers": lambda seams: seams.tenant_authorizer.inner,
    "decision_gate_usage_meters": lambda seams: seams.usage_meter.inner,
    "decision_gate_audit_sinks": lambda seams: seams.audit_sinks[0],
    "decision_gate_namespace_authorities": lambda seams: seams.namespace_authority.inner,
    "decision_gate_evidence_providers": lambda seams: seams.providers.get("flags"),
    "decision_gate_policy_deciders": lambda seams: seams.policy,
    "decision_gate_dispatchers": lambda seams: seams.dispatcher,
}


def _examples() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for language, hook, body in EXAMPLE.findall(DOCS.read_text("utf-8")):
        found.setdefault(hook, {})[language] = body
    return found


def test_every_hookspec_has_an_example_plugin_in_the_docs() -> None:
    assert set(_examples()) == set(_hookspecs())
    assert set(SELECTED) | {"decision_gate_seams_loaded"} == set(_hookspecs())


@pytest.mark.parametrize("hook", sorted(SELECTED))
async def test_each_registration_hook_example_is_selected_by_its_config(
    hook: str, install_plugin: InstallPlugin, tmp_path: Path
) -> None:
    example = _examples()[hook]
    module = install_plugin(example["python"], name="example")
    sections = tomllib.loads(example["toml"].replace("/tmp/", f"{tmp_path}/"))
    seams = await load_seams(sections, environ={})
    assert type(SELECTED[hook](seams)).__module__ == module
    await seams.close()


async def test_the_seams_loaded_example_stops_an_allow_all_production_start(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(_examples()["decision_gate_seams_loaded"]["python"], name="example")
    seams = await load_seams({}, environ={})
    await seams.close()
    monkeypatch.setenv("DEPLOY_ENV", "production")
    with pytest.raises(RuntimeError, match="production needs a real tenant authorizer"):
        await load_seams({}, environ={})
