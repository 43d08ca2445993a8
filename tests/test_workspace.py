"""The three distributions import on their own and declare their versions."""

import importlib

import pytest


@pytest.mark.parametrize("module", ["decision_gate", "platform_core", "decision_gate_enterprise"])
def test_each_distribution_imports_and_has_a_version(module: str) -> None:
    assert importlib.import_module(module).__version__ == "0.1.0"
