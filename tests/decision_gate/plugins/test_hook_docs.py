"""Meta-tests: every hookspec is documented in docs/plugins.md with its exact signature,
and has a test of its own in test_hooks.py (datasette's rule)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from decision_gate.plugins.hookspecs import DecisionGateHookSpecs
from decision_gate.plugins.records import HOOK_NAMES

HERE = Path(__file__).parent
DOCS = HERE.parents[2] / "docs" / "plugins.md"
DOCUMENTED = re.compile(r"^def (decision_gate_\w+)(\(.*)$", re.M)


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
