"""`decision-gate plugins`: every installed plugin and what it provides, per seam.

Reads the same discovery `load_seams` uses (same switches, same environment
variables), so the table shows exactly what a server started here would
load. A plugin that failed is listed with its error; the command itself
succeeds (exit 0) so it can be used to diagnose the failure.
"""

from __future__ import annotations

import sys
from typing import Final

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from decision_gate.cli import render
from decision_gate.plugins import PluginStatus, installed_plugins

__all__ = ["plugins"]

PIPED_WIDTH: Final = 240
_STATUS_STYLE = {
    PluginStatus.LOADED: "green",
    PluginStatus.FAILED: "bold red",
    PluginStatus.SKIPPED: "yellow",
}


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Load only these third-party plugins (repeatable; also DECISION_GATE_PLUGINS).",
)
@click.option(
    "--disable-third-party",
    is_flag=True,
    help="Load no third-party plugin (also DECISION_GATE_DISABLE_PLUGINS=1).",
)
def plugins(as_json: bool, only: tuple[str, ...], disable_third_party: bool) -> None:
    """List installed plugins, their distributions and the implementations they provide."""
    found = installed_plugins(only=only or None, disable_third_party=disable_third_party)
    if as_json:
        render.print_json({"plugins": [plugin.to_json() for plugin in found]})
        return
    table = Table(title="decision_gate plugins")
    for column in ("plugin", "distribution", "version", "status", "seam"):
        table.add_column(column, no_wrap=True)
    table.add_column("implementations", overflow="fold")
    for plugin in found:
        style = _STATUS_STYLE[plugin.status]
        status = f"[{style}]{plugin.status.value}[/{style}]"
        head = [escape(plugin.name), escape(plugin.distribution), escape(plugin.version), status]
        if plugin.status is PluginStatus.FAILED:
            table.add_row(*head, "", escape(plugin.error or ""))
            continue
        if not plugin.implementations:
            table.add_row(*head, "", "")
            continue
        for index, (seam, names) in enumerate(sorted(plugin.implementations.items())):
            row = head if index == 0 else ["", "", "", ""]
            table.add_row(*row, seam.value, escape(", ".join(names)))
    # Piped output is read by tools and greps: never fold a name across lines there.
    width = None if sys.stdout.isatty() else PIPED_WIDTH
    Console(highlight=False, width=width).print(table)
