"""Every benchmark listed by `python -m benchmarks` exists and exposes `run()`.

The benchmarks themselves are measured with `nox -s bench`, never timed here.
"""

import ast
import importlib
from pathlib import Path

import pytest

MAIN = Path(__file__).resolve().parents[1] / "benchmarks" / "__main__.py"


def _listed() -> list[str]:
    tree = ast.parse(MAIN.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "BENCHMARKS":
            return [element.value for element in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("benchmarks/__main__.py lists no BENCHMARKS")


@pytest.mark.parametrize("name", _listed())
def test_benchmark_module_exposes_run(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.run)
