"""The telemetry documentation's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[3] / "docs" / "platform_core" / "telemetry.md"


def test_the_python_examples_in_the_telemetry_doc_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "telemetry_doc_example"})  # noqa: S102
