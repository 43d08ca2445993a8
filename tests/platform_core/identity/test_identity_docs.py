"""Every ```python example in docs/platform_core/identity.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "platform_core" / "identity.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(EXAMPLES[index], f"{DOC.name}[example {index}]", "exec")
    exec(code, {"__name__": f"docs_example_{index}"})  # noqa: S102 - documentation under test
    assert capsys.readouterr().out
