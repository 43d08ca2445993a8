"""The `decision-gate` command line.

Each command is a thin layer over the control plane and the runpack functions:
it parses its inputs into model values (errors name the file and JSON path),
runs one async operation, and renders the result (rich text, or the wire JSON
with `--json`). Exit codes: 0 success, 1 a negative answer (a runpack that
fails verification, a run that did not complete), 2 bad input or a failed
operation. No command ever prints a traceback: `main` turns every error into
one line on stderr.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from decision_gate import __version__
from decision_gate.control_plane import ControlPlane, ProviderRegistry
from decision_gate.core.errors import InvalidInput
from decision_gate.core.model import RunStatus, Timestamp, TriggerResult, to_json
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import manifest_to_json
from decision_gate.providers.env import EnvProvider
from decision_gate.providers.json_file import JsonFileProvider
from decision_gate.providers.time import TimeProvider
from decision_gate.runpack_export import DEFAULT_MANIFEST_NAME, export_runpack
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage, verify_runpack_directory
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.runpack_storage import RunpackDirectory
from decision_gate.stores import MemoryRunStateStore, SqliteRunStateStore

from . import inputs, render
from .plugins import plugins as plugins_command

EXIT_NEGATIVE = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="decision-gate")
def cli() -> None:
    """Decision Gate: prove from evidence that a requirement was met before work moves on.

    A scenario has stages; a stage has gates; a gate is a requirement tree over
    conditions; a condition compares evidence from a provider with an expected
    value. Every run can be exported as a runpack and verified offline.

    New here? Run `decision-gate quickstart`.
    """


cli.add_command(plugins_command)


# --------------------------------------------------------------------------- quickstart


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to work in (default: a new temporary folder, kept so you can look inside).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def quickstart(directory: Path | None, as_json: bool) -> None:
    """Define a scenario, run it to completion, export a runpack and verify it."""
    from decision_gate.cli.quickstart import run_quickstart

    summary = asyncio.run(run_quickstart(directory, quiet=as_json))
    if as_json:
        render.print_json(summary)


# --------------------------------------------------------------------------- scenario


@cli.group()
def scenario() -> None:
    """Check scenario specs and drive runs from files."""


@scenario.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def scenario_validate(file: Path, as_json: bool) -> None:
    """Check a scenario spec: schema, references, and requirement trees.

    Beyond the reference's checks this rejects specs that could never make
    progress: a RequireGroup needing more children than it has, a tree deeper
    than 32 levels, a branch rule naming a gate its stage does not have.
    """
    from decision_gate.core.engine import compile_scenario

    spec = inputs.load_scenario(file)
    compiled = compile_scenario(spec)
    summary = {
        "valid": True,
        "scenario_id": spec.scenario_id,
        "spec_hash": compiled.spec_hash.to_json(),
        "stages": len(spec.stages),
        "gates": sum(len(stage.gates) for stage in spec.stages),
        "conditions": len(spec.conditions),
    }
    if as_json:
        render.print_json(summary)
        return
    render.console.print(
        f"[green]valid[/green] scenario {render.escape(spec.scenario_id)}: "
        f"{summary['stages']} stage(s), {summary['gates']} gate(s), "
        f"{summary['conditions']} condition(s); spec hash {compiled.spec_hash.value}"
    )


@scenario.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--run-config",
    type=click.Path(path_type=Path),
    required=True,
    help="RunConfig JSON file (tenant, namespace, run id, dispatch targets).",
)
@click.option(
    "--triggers",
    type=click.Path(path_type=Path),
    required=True,
    help="JSON array of trigger events, applied in order.",
)
@click.option(
    "--started-at",
    help="Start time, e.g. logical:0 or unix_millis:1710000000000 "
    "(default: the first trigger's time).",
)
@click.option(
    "--issue-entry-packets", is_flag=True, help="Disclose the first stage's entry packets at start."
)
@click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    help="Keep the run in this SQLite file (default: in memory).",
)
@click.option(
    "--json-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Root folder of the json provider.",
)
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Answer the env provider from these pairs instead of the process environment.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export the run as a runpack into this folder when done.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every decision as JSON.")
def scenario_run(
    spec: Path,
    run_config: Path,
    triggers: Path,
    started_at: str | None,
    issue_entry_packets: bool,
    store_path: Path | None,
    json_root: Path,
    env_pairs: Sequence[str],
    export_dir: Path | None,
    as_json: bool,
) -> None:
    """Drive a run of SPEC through a file of triggers and print each decision.

    Exits 0 when the run completed, 1 when it is still holding or failed.
    """
    scenario_spec = inputs.load_scenario(spec)
    config = inputs.load_run_config(run_config)
    events = inputs.load_triggers(triggers)
    start_time = inputs.parse_timestamp(started_at) if started_at else _first_time(events)
    overrides = _env_overrides(env_pairs)

    async def drive() -> dict[str, Any]:
        store = _open_store(store_path)
        try:
            plane = ControlPlane(store, builtin_registry(json_root, overrides))
            _, spec_hash = await plane.define(scenario_spec)
            await plane.start(
                scenario_spec.scenario_id,
                config,
                start_time,
                issue_entry_packets=issue_entry_packets,
            )
            if not as_json:
                render.console.print(
                    f"run [bold]{render.escape(config.run_id)}[/bold] of scenario "
                    f"[bold]{render.escape(scenario_spec.scenario_id)}[/bold] started"
                )
            results: list[TriggerResult] = []
            for event in events:
                result = await plane.trigger(scenario_spec.scenario_id, event)
                results.append(result)
                if not as_json:
                    render.show_trigger_result(event.trigger_id, result)
            key = RunKey(config.tenant_id, config.namespace_id, config.run_id)
            head = await store.load_head(key)
            assert head is not None
            summary: dict[str, Any] = {
                "scenario_id": scenario_spec.scenario_id,
                "spec_hash": spec_hash.to_json(),
                "run_id": config.run_id,
                "status": head.status.value,
                "current_stage_id": head.current_stage_id,
                "results": [to_json(result) for result in results],
            }
            if export_dir is not None:
                exported = await export_runpack(
                    store,
                    await plane.scenario(scenario_spec.scenario_id),
                    key,
                    FilesystemRunpackStorage(export_dir),
                    RunpackDirectory(os.fspath(export_dir)),
                    generated_at=results[-1].decision.decided_at if results else start_time,
                )
                summary["runpack"] = {
                    "location": exported.location,
                    "root_hash": exported.manifest.integrity.root_hash.to_json(),
                }
                if not as_json:
                    render.console.print(f"runpack written to {render.escape(exported.location)}")
            return summary
        finally:
            await store.close()

    summary = asyncio.run(drive())
    if as_json:
        render.print_json(summary)
    else:
        render.console.print(f"final status: [bold]{summary['status']}[/bold]")
    if summary["status"] != RunStatus.COMPLETED.value:
        raise SystemExit(EXIT_NEGATIVE)


# --------------------------------------------------------------------------- runpack


@cli.group()
def runpack() -> None:
    """Export runs as runpacks and verify runpacks offline."""


@runpack.command("export")
@click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    required=True,
    help="SQLite file holding the run.",
)
@click.option("--scenario-id", required=True)
@click.option("--tenant-id", type=click.IntRange(min=1), required=True)
@click.option("--namespace-id", type=click.IntRange(min=1), required=True)
@click.option("--run-id", required=True)
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--generated-at", required=True, help="e.g. logical:10 or unix_millis:1710000000000")
@click.option("--manifest-name", default=DEFAULT_MANIFEST_NAME, show_default=True)
@click.option("--no-verification", is_flag=True, help="Skip the embedded verifier report.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def runpack_export(
    store_path: Path,
    scenario_id: str,
    tenant_id: int,
    namespace_id: int,
    run_id: str,
    output_dir: Path,
    generated_at: str,
    manifest_name: str,
    no_verification: bool,
    as_json: bool,
) -> None:
    """Export a stored run as a runpack (artifacts, verifier report, manifest)."""
    when = inputs.parse_timestamp(generated_at)
    if not store_path.is_file():
        raise InvalidInput(f"store file not found: {store_path}")

    async def export() -> Any:
        store = SqliteRunStateStore(store_path)
        try:
            plane = ControlPlane(store, ProviderRegistry())
            return await export_runpack(
                store,
                await plane.scenario(scenario_id),
                RunKey(tenant_id, namespace_id, run_id),
                FilesystemRunpackStorage(output_dir),
                RunpackDirectory(os.fspath(output_dir)),
                generated_at=when,
                include_verification=not no_verification,
                manifest_name=manifest_name,
            )
        finally:
            await store.close()

    exported = asyncio.run(export())
    if as_json:
        render.print_json(manifest_to_json(exported.manifest))
        return
    render.console.print(
        f"runpack written to {render.escape(exported.location)} "
        f"(root hash {exported.manifest.integrity.root_hash.value})"
    )


@runpack.command("verify")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    "manifest_name",
    default=DEFAULT_MANIFEST_NAME,
    show_default=True,
    help="Manifest file name, relative to DIRECTORY.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def runpack_verify(directory: Path, manifest_name: str, as_json: bool) -> None:
    """Verify a runpack offline: every file hash, the root hash, and the logs.

    Exits 0 only when the runpack verifies; 1 with a precise report otherwise.
    """
    report = asyncio.run(verify_runpack_directory(directory, manifest_name))
    if as_json:
        render.print_json(to_json(report))
    else:
        render.show_report(os.fspath(directory), report)
    if not report.passed:
        raise SystemExit(EXIT_NEGATIVE)


# --------------------------------------------------------------------------- serve, config


@cli.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $DECISION_GATE_CONFIG, else ./decision-gate.toml).",
)
@click.option(
    "--allow-non-loopback",
    is_flag=True,
    help="Allow binding a non-loopback address (also DECISION_GATE_ALLOW_NON_LOOPBACK=1).",
)
def serve(config_path: Path | None, allow_non_loopback: bool) -> None:
    """Run the MCP server (JSON-RPC on POST /rpc, SSE, or stdio) from a config file."""
    from decision_gate.config import load_config, resolve_config_path
    from decision_gate.server.launch import allow_non_loopback_from_env
    from decision_gate.server.launch import serve as run_server

    config = load_config(resolve_config_path(config_path))
    allowed = allow_non_loopback or allow_non_loopback_from_env(os.environ)
    run_server(config, allow_non_loopback=allowed)


@cli.group("config")
def config_group() -> None:
    """Check decision-gate.toml files."""


@config_group.command("validate")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Same as FILE.")
def config_validate(file: Path | None, config_path: Path | None) -> None:
    """Validate a config against the published schema; list every problem with its TOML path.

    Every implementation a table selects is looked up among the installed
    plugins; an unknown one is a problem. A table served by a third-party
    plugin is named after "Config valid.": its keys are checked by that
    plugin when the server starts. Exits 0 when the file loads; 2 otherwise.
    """
    from decision_gate.config import ConfigError, ConfigProblem, load_config, resolve_config_path
    from decision_gate.plugins import resolve_selections
    from decision_gate.server.app import seam_sections

    path = resolve_config_path(file or config_path)
    try:
        config = load_config(path)
        selections = resolve_selections(seam_sections(config))
        unresolved = [s for s in selections if s.problem is not None]
        if unresolved:
            raise ConfigError([ConfigProblem(s.selector, str(s.problem)) for s in unresolved])
    except ConfigError as error:
        render.error_console.print(f"invalid config: {path}", markup=False)
        for problem in error.problems:
            render.error_console.print(f"  {problem}", markup=False)
        raise SystemExit(2) from None
    render.console.print("Config valid.", markup=False)
    for selection in selections:
        plugin = selection.plugin
        if plugin is not None and not plugin.builtin:
            render.console.print(
                f"  {selection.selector} = {selection.name!r}: from plugin {plugin.label}; "
                "its keys are checked by the plugin when the server starts",
                markup=False,
            )


# --------------------------------------------------------------------------- shared


def builtin_registry(json_root: Path, env_overrides: dict[str, str] | None) -> ProviderRegistry:
    """The built-in providers as the CLI configures them."""
    registry = ProviderRegistry()
    registry.register(TimeProvider())
    registry.register(EnvProvider(overrides=env_overrides))
    registry.register(JsonFileProvider(root=json_root, root_id="cli"))
    return registry


def _open_store(path: Path | None) -> RunStateStore:
    return SqliteRunStateStore(path) if path is not None else MemoryRunStateStore()


def _first_time(events: Sequence[Any]) -> Timestamp:
    if not events:
        raise InvalidInput("the triggers file is empty; give --started-at to start a run anyway")
    time: Timestamp = events[0].time
    return time


def _env_overrides(pairs: Sequence[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidInput(f"--env expects KEY=VALUE, got {pair!r}")
        overrides[key] = value
    return overrides
