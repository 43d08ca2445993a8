"""docs/configuration.md cannot fall behind the schema or the code it documents.

Every key path of contract/config.schema.json has a row in the reference,
with the schema's default; every row names a real key; every TOML block
passes `decision-gate config validate` as written (the one marked `invalid`
fails as the page shows); the console transcripts print what the page shows;
the preset table lists the shipped presets; the built-in provider settings
are the keys and defaults the providers take; the extension tables are the
loader's.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.decision_gate.docs.doc_pages import (
    blocks_of,
    page_text,
    run_transcript,
    transcript,
)

from decision_gate.cli.app import cli
from decision_gate.config import load_config, parse_config
from decision_gate.config.loader import EXTENSION_SECTIONS
from decision_gate.contract import load_json
from decision_gate.plugins import build_implementation
from decision_gate.plugins.manager import PluginError
from decision_gate.providers.env import EnvProvider
from decision_gate.providers.http import HttpProvider
from decision_gate.providers.json_file import JsonFileProvider
from decision_gate.providers.time import TimeProvider
from decision_gate.server.app import DecisionGateServer

PAGE = "configuration.md"
SCHEMA = load_json("config.schema.json")
PROVIDER_CLASSES: Mapping[str, Any] = {
    "time": TimeProvider,
    "env": EnvProvider,
    "json": JsonFileProvider,
    "http": HttpProvider,
}


def key_paths(
    node: Mapping[str, Any], prefix: str = ""
) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """(path, schema, required) for every key; `[]` marks the items of an array."""
    for branch in (*node.get("oneOf", ()), *node.get("anyOf", ())):
        yield from key_paths(branch, prefix)
    if isinstance(node.get("items"), dict):
        yield from key_paths(node["items"], prefix + "[]")
    required = set(node.get("required", ()))
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, sub, name in required
        yield from key_paths(sub, path)


SCHEMA_KEYS = {path: (node, required) for path, node, required in key_paths(SCHEMA)}


def section(title: str) -> str:
    text = page_text(PAGE)
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def rows(text: str) -> list[list[str]]:
    """The cells of every table row whose first cell is code."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in text.splitlines()
        if line.startswith("| `")
    ]


REFERENCE = section("## Reference").split("\n### Built-in provider settings\n")[0]
REFERENCE_ROWS = {row[0].strip("`"): row for row in rows(REFERENCE)}


def toml_literal(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    raise TypeError(value)


def schema_default(node: Mapping[str, Any]) -> tuple[bool, Any]:
    if "default" in node:
        return True, node["default"]
    for branch in node.get("oneOf", ()):
        if "default" in branch:
            return True, branch["default"]
    return False, None


def test_every_key_of_the_schema_has_a_row() -> None:
    missing = sorted(set(SCHEMA_KEYS) - set(REFERENCE_ROWS))

    assert missing == []


def test_every_row_names_a_key_of_the_schema() -> None:
    invented = sorted(set(REFERENCE_ROWS) - set(SCHEMA_KEYS))

    assert invented == []


@pytest.mark.parametrize("path", sorted(k for k in SCHEMA_KEYS if "." in k))
def test_the_row_states_the_schema_default(path: str) -> None:
    node, required = SCHEMA_KEYS[path]
    row = REFERENCE_ROWS[path]
    assert len(row) == 4, row
    documented = row[2]

    has_default, default = schema_default(node)
    if required:
        assert documented == "required"
    elif has_default and default is not None:
        assert documented == f"`{toml_literal(default)}`"
    elif has_default and default is None:
        assert documented == "unset"
    else:
        assert documented in ("unset", "required", "(its keys' defaults)")


def test_every_enum_row_lists_the_schemas_choices() -> None:
    for path, (node, _) in SCHEMA_KEYS.items():
        choices = node.get("enum") or [c for b in node.get("oneOf", ()) for c in b.get("enum", ())]
        for choice in choices:
            assert f'`"{choice}"`' in REFERENCE_ROWS[path][1], (path, choice)


def test_every_row_says_what_the_key_means() -> None:
    for path, row in REFERENCE_ROWS.items():
        assert len(row[-1]) > 5, (path, row)


@pytest.mark.parametrize(
    "index", range(len([b for b in blocks_of(PAGE, "toml") if "invalid" not in b.attributes]))
)
def test_the_toml_block_passes_config_validate(index: int, tmp_path: Path) -> None:
    block = [b for b in blocks_of(PAGE, "toml") if "invalid" not in b.attributes][index]
    path = tmp_path / "decision-gate.toml"
    path.write_text(block.body)

    result = CliRunner().invoke(cli, ["config", "validate", str(path)])

    assert result.exit_code == 0, (block.body, result.output)
    assert result.output == "Config valid.\n"


def test_the_transcripts_print_what_the_page_shows(tmp_path: Path) -> None:
    for block in blocks_of(PAGE, "toml"):
        if "file" in block.attributes:
            (tmp_path / block.attributes["file"]).write_text(block.body)
    commands = [
        command for block in blocks_of(PAGE, "console") for command in transcript(block.body)
    ]
    assert len(commands) == 4

    run_transcript(commands, tmp_path)


def test_the_preset_table_lists_the_shipped_presets() -> None:
    shipped = {
        p.name.removesuffix(".toml")
        for p in (files("decision_gate.contract") / "presets").iterdir()
        if p.name.endswith(".toml")
    }
    documented = {row[0].strip("`") for row in rows(section("## Presets"))}

    assert documented == shipped


def test_the_presets_enable_the_providers_the_page_names() -> None:
    presets = files("decision_gate.contract") / "presets"
    for preset in presets.iterdir():
        if preset.name.endswith(".toml"):
            document = tomllib.loads(preset.read_text())
            assert [p["name"] for p in document["providers"]] == ["time", "env", "json", "http"]


def test_the_builtin_provider_settings_are_the_providers_keys_and_defaults() -> None:
    table = rows(section("## Reference").split("\n### Built-in provider settings\n")[1])
    documented: dict[str, set[str]] = {}
    for provider, key, default, _ in table:
        name, key = provider.strip("`"), key.strip("`")
        documented.setdefault(name, set()).add(key)
        parameter = inspect.signature(PROVIDER_CLASSES[name]).parameters[key]
        if default == "required":
            assert parameter.default is inspect.Parameter.empty
        elif default == "unset":
            assert parameter.default is None
        else:
            expected = parameter.default
            expected = list(expected) if isinstance(expected, tuple) else expected
            assert tomllib.loads(f"v = {default.strip('`')}")["v"] == expected, key
    for name, keys in documented.items():
        constructor = set(inspect.signature(PROVIDER_CLASSES[name]).parameters)
        assert keys <= constructor


async def test_every_documented_provider_setting_is_accepted(tmp_path: Path) -> None:
    table = rows(section("## Reference").split("\n### Built-in provider settings\n")[1])
    samples = {
        "root": str(tmp_path),
        "root_id": "evidence-root",
        "allowlist": ["A"],
        "overrides": {"A": "1"},
        "allowed_hosts": ["example.com"],
    }
    configs: dict[str, dict[str, Any]] = {}
    for provider, key, default, _ in table:
        name, key = provider.strip("`"), key.strip("`")
        value = (
            samples.get(key)
            if default in ("required", "unset")
            else tomllib.loads(f"v = {default.strip('`')}")["v"]
        )
        configs.setdefault(name, {})[key] = value

    for name, config in configs.items():
        provider = await build_implementation(
            "evidence_provider", {"name": name, "type": "builtin", "config": config}
        )
        assert provider is not None


def test_the_extension_tables_are_the_loaders() -> None:
    documented = {
        row[0].strip("`") for row in rows(section("## Tables beyond the reference's schema"))
    }

    assert documented == set(EXTENSION_SECTIONS)


def presets() -> list[Path]:
    folder = Path(str(files("decision_gate.contract") / "presets"))
    return sorted(folder.glob("*.toml"))


@pytest.mark.parametrize("preset", presets(), ids=lambda path: path.stem)
async def test_a_preset_starts_once_the_evidence_folder_exists(
    preset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(preset)
    with pytest.raises(PluginError, match=r"json provider root is not a directory: \./evidence"):
        await DecisionGateServer.start(config)

    (tmp_path / "evidence").mkdir()
    server = await DecisionGateServer.start(config)
    await server.close()


REFERENCE_AUTHORITY = """
[namespace.authority]
mode = "assetcore_http"

[namespace.authority.assetcore]
base_url = "http://127.0.0.1:9"
"""


@pytest.mark.parametrize(
    ("config", "label"),
    [
        (REFERENCE_AUTHORITY, "assetcore_catalog"),
        ('[namespace_authority]\ntype = "none"\n', "dg_registry"),
        (REFERENCE_AUTHORITY + '\n[namespace_authority]\ntype = "none"\n', "dg_registry"),
    ],
    ids=["reference-spelling", "plugin-table", "plugin-table-wins"],
)
async def test_the_namespace_authority_is_selected_as_the_page_says(
    config: str, label: str
) -> None:
    server = await DecisionGateServer.start(parse_config(config))
    await server.close()

    assert server.seams.namespace_authority.security_context == label
