"""The built-in filesystem runpack storage, built through the plugin hooks, passes the kit."""

from __future__ import annotations

from pathlib import Path

import pytest

from decision_gate.seams.runpack_storage import RunpackStorage
from decision_gate.testing import build_implementation
from decision_gate.testing.runpack_storage import *  # noqa: F403


@pytest.fixture
async def runpack_storage(tmp_path: Path) -> RunpackStorage:
    storage: RunpackStorage = await build_implementation(
        "runpack_storage", {"type": "filesystem", "root": str(tmp_path / "runpacks")}
    )
    return storage
