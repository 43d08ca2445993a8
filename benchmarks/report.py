"""Printing benchmark rows: a rich table per benchmark, ratios first-class."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def print_rows(
    title: str, rows: Sequence[dict[str, object]], console: Console | None = None
) -> None:
    table = Table(title=title)
    for column in ("name", "ours", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for row in rows:
        table.add_row(
            *(str(row.get(column, "")) for column in ("name", "ours", "baseline", "ratio"))
        )
    (console or Console()).print(table)
