"""The presets shipped with the package run as they are (server.md §4.1)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from server_harness import run_server

PRESETS = resources.files("decision_gate.contract").joinpath("presets")
TOKENS = {
    "hardened.toml": "dg-hardened-demo-token",
    "container-prod.toml": "dg-container-demo-token",
}


@pytest.mark.parametrize(
    "preset",
    sorted(entry.name for entry in PRESETS.iterdir() if entry.name.endswith(".toml")),
)
def test_the_preset_serves_every_tool_and_the_four_builtin_providers(
    preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evidence").mkdir()
    token = TOKENS.get(preset)
    headers = {"authorization": f"Bearer {token}"} if token else {}

    with run_server(PRESETS.joinpath(preset).read_text()) as server:
        tools = server.rpc("tools/list", headers=headers).json()["result"]["tools"]
        providers = server.call("providers_list", {}, headers=headers)["providers"]

    assert len(tools) == 18
    assert [p["provider_id"] for p in providers] == ["env", "http", "json", "time"]
