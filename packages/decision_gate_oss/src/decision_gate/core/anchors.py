"""Evidence anchor validation, shared by the engine and the runpack verifier.

An anchor ties evidence to the external state it was read from. When an anchor
policy names a provider, every result from it must carry an anchor of the
required type whose `anchor_value` is a JSON object holding each required
field as a string or number. The messages are the reference's, verbatim,
because they are recorded in gate evaluations and hashed into runpacks.
"""

from __future__ import annotations

import json

from decision_gate.core.model import AnchorRequirement, EvidenceAnchor


def anchor_problem(anchor: EvidenceAnchor | None, requirement: AnchorRequirement) -> str | None:
    """Why `anchor` does not satisfy `requirement`, or None when it does."""
    if anchor is None:
        return "missing evidence_anchor"
    if anchor.anchor_type != requirement.anchor_type:
        return f"anchor_type mismatch: expected {requirement.anchor_type} got {anchor.anchor_type}"
    try:
        value = json.loads(anchor.anchor_value)
    except ValueError:
        return "anchor_value must be canonical JSON"
    if not isinstance(value, dict):
        return "anchor_value must be a JSON object"
    for field in requirement.required_fields:
        if field not in value:
            return f"anchor field {field} missing"
        item = value[field]
        if item is None:
            return f"anchor field {field} must be set"
        if isinstance(item, bool):
            return f"anchor field {field} must be string or number"
        if isinstance(item, list | dict):
            return f"anchor field {field} must be scalar"
    return None
