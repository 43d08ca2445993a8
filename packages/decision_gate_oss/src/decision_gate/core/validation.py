"""Scenario spec validation: the reference's checks, in its order, plus the ones it skips.

The reference (core.md §1.14) checks ids, evidence queries, condition references
and branch targets. It accepts specs that can never make progress: a
RequireGroup asking for more children than it has, a tree deeper than the
evaluator's limit (evaluated as Unknown forever), a branch rule naming a gate
the stage does not have (always Unknown). We reject those at define time, with
the stage and gate named, instead of letting a run hold forever.
"""

from __future__ import annotations

import re
from typing import Final

from decision_gate.core.errors import ControlPlaneError, InvalidInput
from decision_gate.core.model import Branch, Fixed, ScenarioSpec
from decision_gate.core.requirement import condition_ids, validate_requirement

# Rust's `str::trim` removes Unicode White_Space, which differs from str.strip()
# (Python also strips U+001C..U+001F, which are not White_Space).
_WHITE_SPACE: Final = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_BLANK: Final = re.compile(f"^[{_WHITE_SPACE}]*$")


class InvalidSpec(ControlPlaneError):
    """A spec that fails validation; `reason` names the check (e.g. "duplicate_stage_id")."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"invalid scenario spec: {detail}")


def is_blank(text: str) -> bool:
    """True when `text` is empty after trimming Unicode White_Space (Rust's `trim`)."""
    return _BLANK.match(text) is not None


def validate_spec(spec: ScenarioSpec) -> None:
    """Raise `InvalidSpec` for the first problem, checking in the reference's order."""
    if not spec.stages:
        raise InvalidSpec("missing_stages", "scenario spec must define at least one stage")
    _unique("duplicate_stage_id", "duplicate stage identifier", (s.stage_id for s in spec.stages))
    _unique(
        "duplicate_gate_id",
        "duplicate gate identifier",
        (g.gate_id for s in spec.stages for g in s.gates),
    )
    _unique(
        "duplicate_packet_id",
        "duplicate packet identifier",
        (p.packet_id for s in spec.stages for p in s.entry_packets),
    )
    _unique(
        "duplicate_condition", "duplicate condition id", (c.condition_id for c in spec.conditions)
    )
    for condition in spec.conditions:
        if is_blank(condition.query.provider_id):
            raise InvalidSpec(
                "invalid_evidence_query",
                f"invalid evidence query for condition {condition.condition_id}: "
                "provider_id is empty",
            )
        if is_blank(condition.query.check_id):
            raise InvalidSpec(
                "invalid_evidence_query",
                f"invalid evidence query for condition {condition.condition_id}: check_id is empty",
            )
    defined = {c.condition_id for c in spec.conditions}
    for stage in spec.stages:
        for gate in stage.gates:
            for condition_id in condition_ids(gate.requirement):
                if condition_id not in defined:
                    raise InvalidSpec(
                        "missing_condition", f"gate references undefined condition: {condition_id}"
                    )
    stage_ids = {s.stage_id for s in spec.stages}
    for stage in spec.stages:
        advance = stage.advance_to
        targets: list[str] = []
        if isinstance(advance, Fixed):
            targets.append(advance.stage_id)
        elif isinstance(advance, Branch):
            targets.extend(rule.next_stage_id for rule in advance.branches)
            if advance.default is not None:
                targets.append(advance.default)
        for target in targets:
            if target not in stage_ids:
                raise InvalidSpec(
                    "missing_branch_target", f"branch target refers to unknown stage: {target}"
                )
    _validate_beyond_reference(spec)


def _validate_beyond_reference(spec: ScenarioSpec) -> None:
    for stage in spec.stages:
        for gate in stage.gates:
            try:
                validate_requirement(gate.requirement)
            except InvalidInput as error:
                raise InvalidSpec(
                    "invalid_requirement",
                    f"gate {gate.gate_id} of stage {stage.stage_id}: {error.detail}",
                ) from None
        if isinstance(stage.advance_to, Branch):
            gate_ids = {g.gate_id for g in stage.gates}
            for rule in stage.advance_to.branches:
                if rule.gate_id not in gate_ids:
                    raise InvalidSpec(
                        "unknown_branch_gate",
                        f"branch rule of stage {stage.stage_id} names gate {rule.gate_id}, "
                        "which is not a gate of that stage",
                    )


def _unique(reason: str, label: str, ids: object) -> None:
    seen: set[str] = set()
    for item in ids:  # type: ignore[attr-defined]
        if item in seen:
            raise InvalidSpec(reason, f"{label}: {item}")
        seen.add(item)
