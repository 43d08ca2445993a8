"""Both built-in schema registries, built through the plugin hooks, pass the kit's suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from decision_gate.seams.schema_registry import SchemaRegistryStore
from decision_gate.testing import build_implementation
from decision_gate.testing.schema_registry import *  # noqa: F403


@pytest.fixture(params=["memory", "sqlite"])
def schema_registry_factory(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    counter = iter(range(1_000_000))

    async def build(max_schema_bytes: int, max_entries: int | None) -> SchemaRegistryStore:
        section: dict[str, object] = {
            "type": request.param,
            "max_schema_bytes": max_schema_bytes,
            "max_entries": max_entries,
        }
        if request.param == "sqlite":
            section["path"] = str(tmp_path / f"registry-{next(counter)}.sqlite3")
        registry: SchemaRegistryStore = await build_implementation("schema_registry", section)
        return registry

    return build
