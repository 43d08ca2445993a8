"""Which implementation a reference table's `type` selects, and what happens without one.

`object_store` is the reference's runpack storage type and decision-gate ships
none: without a plugin providing it, start-up names the distribution that does
(decision-gate-enterprise). A plugin registering `object_store` receives the
schema-checked table; any other name selects an installed implementation.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.decision_gate.plugins.conftest import InstallPlugin

from decision_gate.config import parse_config
from decision_gate.plugins import PluginError, load_seams, resolve_selections
from decision_gate.server.app import seam_sections

OBJECT_STORE = '[runpack_storage]\ntype = "object_store"\nprovider = "s3"\nbucket = "runpacks"\n'

S3_PLUGIN = """
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage

SEEN = []


class BucketStorage(FilesystemRunpackStorage):
    def __init__(self, section):
        SEEN.append(dict(section))
        super().__init__(section["bucket"])  # never opened: only the selection is tested


@hookimpl
def decision_gate_runpack_storages():
    return [Implementation("object_store", BucketStorage)]
"""


async def test_object_store_without_its_plugin_names_the_enterprise_distribution() -> None:
    sections = seam_sections(parse_config(OBJECT_STORE))

    with pytest.raises(PluginError) as stopped:
        await load_seams(sections, environ={})

    assert str(stopped.value) == (
        "runpack_storage type object_store is provided by decision-gate-enterprise; "
        "installed: filesystem"
    )


async def test_a_plugin_providing_object_store_receives_the_schema_checked_table(
    install_plugin: InstallPlugin,
) -> None:
    module = install_plugin(S3_PLUGIN, name="s3", distribution="dg-s3", version="2.0")
    sections = seam_sections(parse_config(OBJECT_STORE))

    seams = await load_seams(sections, environ={})
    await seams.close()

    plugin: Any = __import__(module)
    assert type(seams.runpack_storage).__name__ == "BucketStorage"
    assert plugin.SEEN[0]["bucket"] == "runpacks"
    assert plugin.SEEN[0]["type"] == "object_store"


def test_resolving_names_the_plugin_behind_each_selected_table(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(S3_PLUGIN, name="s3", distribution="dg-s3", version="2.0")
    sections = seam_sections(parse_config(OBJECT_STORE))

    resolved = {s.selector: s for s in resolve_selections(sections, environ={})}

    storage = resolved["runpack_storage.type"]
    assert storage.plugin is not None
    assert storage.plugin.label == "s3 (dg-s3 2.0)"
    assert storage.problem is None
    assert resolved["run_state_store.type"].plugin is not None
    assert resolved["run_state_store.type"].plugin.builtin
