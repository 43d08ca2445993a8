"""Discovery: entry points, failures named by distribution, and the load switches."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

import pytest

from decision_gate.plugins import (
    PluginError,
    PluginStatus,
    Seam,
    installed_plugins,
    load_seams,
)
from decision_gate.plugins.manager import discover_plugins
from decision_gate.plugins.records import PluginInfo

InstallPlugin = Callable[..., str]

ACME = """
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.access.defaults import AllowAllAuthorizer

@hookimpl
def decision_gate_tenant_authorizers():
    return [Implementation("acme", lambda section: AllowAllAuthorizer())]
"""


def _by_name(name: str) -> PluginInfo:
    [found] = [p for p in discover_plugins(environ={}).plugins if p.name == name]
    return found


def test_our_builtins_are_a_plugin_found_through_the_entry_point() -> None:
    [builtin] = [p for p in installed_plugins() if p.name == "builtin"]
    assert builtin.distribution == "decision-gate"
    assert builtin.module == "decision_gate.plugins.builtin"
    assert builtin.status is PluginStatus.LOADED
    assert set(builtin.implementations) == set(Seam)


def test_a_third_party_plugin_is_found_with_its_distribution_and_version(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME)
    acme = _by_name("acme")
    assert (acme.distribution, acme.version, acme.status) == (
        "acme-decision-gate",
        "1.2.3",
        PluginStatus.LOADED,
    )
    assert acme.implementations == {Seam.TENANT_AUTHORIZER: ("acme",)}


def test_a_plugin_that_fails_to_import_is_reported_with_its_distribution(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "import a_module_that_is_not_installed\n",
        name="broken",
        distribution="broken-dg",
        version="0.9",
    )
    broken = _by_name("broken")
    assert broken.status is PluginStatus.FAILED
    assert broken.label == "broken (broken-dg 0.9)"
    assert "ModuleNotFoundError" in broken.error
    assert _by_name("builtin").status is PluginStatus.LOADED


async def test_a_config_selecting_what_a_failed_plugin_would_provide_stops_start_up(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "raise RuntimeError('boom')\n", name="broken", distribution="broken-dg", version="0.9"
    )
    with pytest.raises(PluginError) as stopped:
        await load_seams({"tenant_authorizer": {"type": "broken"}}, environ={})
    message = str(stopped.value)
    assert "unknown tenant_authorizer type 'broken'; installed: allow_all" in message
    assert "broken (broken-dg 0.9): RuntimeError: boom" in message


async def test_a_failed_plugin_the_config_does_not_select_does_not_stop_start_up(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("raise RuntimeError('boom')\n", name="broken")
    seams = await load_seams({}, environ={})
    assert [p.name for p in seams.plugins if p.status is PluginStatus.FAILED] == ["broken"]
    await seams.close()


async def test_an_unknown_name_lists_the_installed_implementations_of_that_seam(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME)
    with pytest.raises(
        PluginError, match=r"^unknown tenant_authorizer type 'acne'; installed: acme, allow_all$"
    ):
        await load_seams({"tenant_authorizer": {"type": "acne"}}, environ={})


def test_only_loads_the_named_third_party_plugins_and_always_our_own(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME, name="acme")
    install_plugin(ACME.replace('"acme"', '"other"'), name="other", distribution="other-dg")
    plugins = {p.name: p.status for p in discover_plugins(only=["acme"], environ={}).plugins}
    assert plugins == {
        "acme": PluginStatus.LOADED,
        "builtin": PluginStatus.LOADED,
        "other": PluginStatus.SKIPPED,
    }


def test_the_load_switch_also_comes_from_the_environment(install_plugin: InstallPlugin) -> None:
    install_plugin(ACME, name="acme")
    install_plugin(ACME.replace('"acme"', '"other"'), name="other", distribution="other-dg")
    catalogue = discover_plugins(environ={"DECISION_GATE_PLUGINS": "other"})
    assert catalogue.names(Seam.TENANT_AUTHORIZER) == ["allow_all", "other"]


def test_only_naming_a_plugin_that_is_not_installed_is_an_error() -> None:
    with pytest.raises(PluginError, match="not installed: missing"):
        discover_plugins(only=["missing"], environ={})


@pytest.mark.parametrize(
    ("switches", "environ"),
    [({"disable_third_party": True}, {}), ({}, {"DECISION_GATE_DISABLE_PLUGINS": "1"})],
    ids=["argument", "environment"],
)
def test_third_party_plugins_can_be_disabled(
    install_plugin: InstallPlugin, switches: dict[str, bool], environ: dict[str, str]
) -> None:
    install_plugin(ACME)
    catalogue = discover_plugins(environ=environ, **switches)
    statuses = {p.name: p.status for p in catalogue.plugins}
    assert statuses == {"acme": PluginStatus.SKIPPED, "builtin": PluginStatus.LOADED}
    assert catalogue.names(Seam.TENANT_AUTHORIZER) == ["allow_all"]


def test_a_misspelt_hook_fails_its_plugin(install_plugin: InstallPlugin) -> None:
    install_plugin(
        """
        from decision_gate.plugins.hookspecs import hookimpl

        @hookimpl
        def decision_gate_tenant_authoriser():
            return []
        """,
        name="typo",
    )
    typo = _by_name("typo")
    assert typo.status is PluginStatus.FAILED
    assert "decision_gate_tenant_authoriser" in typo.error


def test_a_hook_returning_something_else_than_implementations_fails_its_plugin(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        """
        from decision_gate.plugins.hookspecs import hookimpl

        @hookimpl
        def decision_gate_usage_meters():
            return [("acme", object)]
        """,
        name="sloppy",
    )
    sloppy = _by_name("sloppy")
    assert sloppy.status is PluginStatus.FAILED
    assert "decision_gate_usage_meters returned tuple, not an Implementation" in sloppy.error


def test_a_third_party_plugin_cannot_take_a_builtin_provider_name(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        """
        from decision_gate.plugins.hookspecs import hookimpl
        from decision_gate.plugins.records import Implementation

        @hookimpl
        def decision_gate_evidence_providers():
            return [Implementation("time", lambda section: None)]
        """,
        name="squatter",
    )
    squatter = _by_name("squatter")
    assert squatter.status is PluginStatus.FAILED
    assert "reserved for built-ins: time" in squatter.error


def test_two_plugins_registering_one_name_for_a_seam_is_an_error_naming_both(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME, name="acme")
    install_plugin(ACME, name="copycat", distribution="copycat-dg", version="2.0")
    with pytest.raises(PluginError) as error:
        discover_plugins(environ={})
    assert str(error.value) == (
        "tenant_authorizer 'acme' is registered by both "
        "acme (acme-decision-gate 1.2.3) and copycat (copycat-dg 2.0)"
    )


def test_an_implementation_name_must_be_a_lower_case_identifier(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME.replace('"acme"', '"Acme Corp"'), name="shouty")
    shouty = _by_name("shouty")
    assert shouty.status is PluginStatus.FAILED
    assert "must be a lower-case identifier" in shouty.error


def test_a_second_distribution_using_a_taken_plugin_name_fails_and_names_the_first(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME, name="acme", distribution="acme-dg", version="1.0")
    install_plugin(ACME, name="acme", distribution="impostor-dg", version="6.6")
    named = [p for p in discover_plugins(environ={}).plugins if p.name == "acme"]
    assert sorted(p.status for p in named) == [PluginStatus.FAILED, PluginStatus.LOADED]
    [loaded] = [p for p in named if p.status is PluginStatus.LOADED]
    [failed] = [p for p in named if p.status is PluginStatus.FAILED]
    assert failed.error == f"plugin name 'acme' is already taken by {loaded.label}"


def test_one_module_listed_under_two_plugin_names_loads_once(
    install_plugin: InstallPlugin,
) -> None:
    module = install_plugin(ACME, name="acme", distribution="acme-dg")
    entry_points = [
        metadata.EntryPoint(name="acme", value=module, group="decision_gate"),
        metadata.EntryPoint(name="acme_alias", value=module, group="decision_gate"),
    ]
    catalogue = discover_plugins(environ={}, entry_points=entry_points)
    statuses = {p.name: p.status for p in catalogue.plugins}
    assert statuses == {"acme": PluginStatus.LOADED, "acme_alias": PluginStatus.FAILED}
    [alias] = [p for p in catalogue.plugins if p.name == "acme_alias"]
    assert "already registered" in (alias.error or "")
    assert catalogue.names(Seam.TENANT_AUTHORIZER) == ["acme"]
