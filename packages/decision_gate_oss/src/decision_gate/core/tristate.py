"""Tri-state truth values and the strong-Kleene and Bochvar connectives.

`TriState` values serialise capitalised ("True", "False", "Unknown") exactly as
the reference does; gate outcomes in branch rules use the lowercase
`GateOutcome` spelling instead.

Decision Gate evaluates gates with strong Kleene logic: Unknown means "not
established", so `And` fails closed on any False and `Or` holds on any True.
Bochvar ("infectious") logic is kept selectable for parity with the reference
core. `require_group` counts satisfied and unknown members and is the same rule
in both logics.
"""

from __future__ import annotations

import enum


class TriState(enum.Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class LogicMode(enum.Enum):
    """Which three-valued logic combines `And`/`Or` children."""

    KLEENE = "kleene"
    BOCHVAR = "bochvar"


class GateOutcome(enum.Enum):
    """A gate's status as branch rules name it (lowercase on the wire)."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, status: TriState) -> GateOutcome:
        return _OUTCOME_OF[status]


_OUTCOME_OF = {
    TriState.TRUE: GateOutcome.TRUE,
    TriState.FALSE: GateOutcome.FALSE,
    TriState.UNKNOWN: GateOutcome.UNKNOWN,
}

_TRUE = TriState.TRUE
_FALSE = TriState.FALSE
_UNKNOWN = TriState.UNKNOWN


def kleene_and(a: TriState, b: TriState) -> TriState:
    if a is _FALSE or b is _FALSE:
        return _FALSE
    if a is _TRUE and b is _TRUE:
        return _TRUE
    return _UNKNOWN


def kleene_or(a: TriState, b: TriState) -> TriState:
    if a is _TRUE or b is _TRUE:
        return _TRUE
    if a is _FALSE and b is _FALSE:
        return _FALSE
    return _UNKNOWN


def tri_not(a: TriState) -> TriState:
    if a is _TRUE:
        return _FALSE
    if a is _FALSE:
        return _TRUE
    return _UNKNOWN


def bochvar_and(a: TriState, b: TriState) -> TriState:
    if a is _UNKNOWN or b is _UNKNOWN:
        return _UNKNOWN
    return _TRUE if a is _TRUE and b is _TRUE else _FALSE


def bochvar_or(a: TriState, b: TriState) -> TriState:
    if a is _UNKNOWN or b is _UNKNOWN:
        return _UNKNOWN
    return _TRUE if a is _TRUE or b is _TRUE else _FALSE


def require_group(min: int, satisfied: int, unknown: int) -> TriState:
    """At least `min` members True: True once reached, False once unreachable.

    `min == 0` is always True and `min` above the member count always False
    (never Unknown), exactly as the reference counts.
    """
    if min == 0 or satisfied >= min:
        return _TRUE
    if satisfied + unknown < min:
        return _FALSE
    return _UNKNOWN
