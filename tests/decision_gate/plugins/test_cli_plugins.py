"""`decision-gate plugins`: what is installed, from which wheel, providing what."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from decision_gate.cli.app import cli

InstallPlugin = Callable[..., str]

ACME = """
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.access.defaults import AllowAllAuthorizer, NoopUsageMeter

@hookimpl
def decision_gate_tenant_authorizers():
    return [Implementation("acme_rbac", lambda section: AllowAllAuthorizer())]

@hookimpl
def decision_gate_usage_meters():
    return [Implementation("acme_quota", lambda section: NoopUsageMeter())]
"""


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(cli, ["plugins", *args], env=env or {}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    plugins = json.loads(_run("--json", *args, env=env))["plugins"]
    return {plugin["name"]: plugin for plugin in plugins}


def test_json_lists_each_plugin_with_its_distribution_version_and_implementations(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME, name="acme", distribution="acme-dg", version="4.0.1")
    plugins = _json()
    assert plugins["acme"] == {
        "name": "acme",
        "distribution": "acme-dg",
        "version": "4.0.1",
        "module": plugins["acme"]["module"],
        "status": "loaded",
        "builtin": False,
        "error": None,
        "implementations": {"tenant_authorizer": ["acme_rbac"], "usage_meter": ["acme_quota"]},
    }
    assert plugins["builtin"]["distribution"] == "decision-gate"
    assert plugins["builtin"]["implementations"]["run_state_store"] == ["memory", "sqlite"]


def test_the_table_shows_plugins_distributions_and_implementations_per_seam(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME, name="acme", distribution="acme-dg", version="4.0.1")
    output = _run()
    for text in (
        "acme-dg",
        "4.0.1",
        "acme_rbac",
        "acme_quota",
        "tenant_authorizer",
        "decision-gate",
    ):
        assert text in output


def test_a_plugin_that_failed_is_listed_with_its_error(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "import missing_dependency\n", name="broken", distribution="broken-dg", version="0.1"
    )
    broken = _json()["broken"]
    assert (broken["status"], broken["distribution"], broken["version"]) == (
        "failed",
        "broken-dg",
        "0.1",
    )
    assert broken["error"] == "ModuleNotFoundError: No module named 'missing_dependency'"
    assert "No module named 'missing_dependency'" in _run()


def test_third_party_plugins_show_as_skipped_when_disabled(install_plugin: InstallPlugin) -> None:
    install_plugin(ACME, name="acme")
    assert _json("--disable-third-party")["acme"]["status"] == "skipped"
    assert _json(env={"DECISION_GATE_DISABLE_PLUGINS": "1"})["acme"]["status"] == "skipped"
    assert _json("--only", "acme")["acme"]["status"] == "loaded"
