"""How the CLI shows results: rich text on a terminal, one JSON document with --json.

Human output explains a decision in the domain's words (held because which
gates are unmet, advanced from where to where, completed, failed and why); the
JSON output is the wire form of the same values, so scripts see exactly what
the MCP tools return.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

__all__ = [
    "console",
    "decision_table",
    "error_console",
    "escape",
    "outcome_text",
    "print_json",
    "show_report",
    "show_trigger_result",
    "timestamp_text",
]
from rich.table import Table

from decision_gate.core.model import (
    AdvanceOutcome,
    CompleteOutcome,
    DecisionOutcome,
    DecisionRecord,
    FailOutcome,
    HoldOutcome,
    Logical,
    StartOutcome,
    Timestamp,
    TriggerResult,
)
from decision_gate.core.runpack import VerificationReport

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def timestamp_text(timestamp: Timestamp) -> str:
    return (
        f"logical {timestamp.value}" if isinstance(timestamp, Logical) else f"{timestamp.value} ms"
    )


def outcome_text(outcome: DecisionOutcome) -> str:
    """One line saying what a decision did, with rich markup."""
    if isinstance(outcome, HoldOutcome):
        unmet = escape(", ".join(outcome.summary.unmet_gates)) or "none"
        return f"[yellow]hold[/yellow] — unmet gates: {unmet}"
    if isinstance(outcome, AdvanceOutcome):
        flag = " [dim](stage timed out)[/dim]" if outcome.timeout else ""
        route = f"{escape(outcome.from_stage)} → {escape(outcome.to_stage)}"
        return f"[green]advance[/green] {route}{flag}"
    if isinstance(outcome, CompleteOutcome):
        return f"[bold green]complete[/bold green] at stage {escape(outcome.stage_id)}"
    if isinstance(outcome, FailOutcome):
        return f"[bold red]fail[/bold red] — {escape(outcome.reason)}"
    assert isinstance(outcome, StartOutcome)
    return f"[cyan]start[/cyan] at stage {escape(outcome.stage_id)}"


def show_trigger_result(trigger_id: str, result: TriggerResult) -> None:
    decision = result.decision
    replay = (
        ""
        if decision.trigger_id == trigger_id
        else f" [dim](answered by {escape(decision.trigger_id)})[/dim]"
    )
    packets = f", {len(result.packets)} packet(s) issued" if result.packets else ""
    console.print(
        f"  {escape(trigger_id)} @ {timestamp_text(decision.decided_at)}: "
        f"{outcome_text(decision.outcome)}{packets}{replay}"
    )


def decision_table(decisions: Sequence[DecisionRecord]) -> Table:
    table = Table(title="Decision trail", show_lines=False)
    table.add_column("seq", justify="right")
    table.add_column("trigger")
    table.add_column("at")
    table.add_column("stage")
    table.add_column("decision")
    for decision in decisions:
        table.add_row(
            str(decision.seq),
            escape(decision.trigger_id),
            timestamp_text(decision.decided_at),
            escape(decision.stage_id),
            outcome_text(decision.outcome),
        )
    return table


def show_report(location: str, report: VerificationReport) -> None:
    if report.passed:
        console.print(
            f"[bold green]PASS[/bold green] {escape(location)}: "
            f"{report.checked_files} files verified"
        )
        return
    console.print(f"[bold red]FAIL[/bold red] {escape(location)}: {len(report.errors)} problem(s)")
    for error in report.errors:
        console.print(f"  - {error}", markup=False)
