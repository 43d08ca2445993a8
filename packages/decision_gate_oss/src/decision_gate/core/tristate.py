"""Tri-state truth values and the strong-Kleene and Bochvar connectives.

`TriState` values serialise capitalised ("True", "False", "Unknown") exactly as
the reference does; gate outcomes in branch rules use the lowercase
`GateOutcome` spelling instead.
"""

from __future__ import annotations

import enum


class TriState(enum.Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"
