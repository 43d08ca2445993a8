"""Precheck: what-if evaluation with supplied evidence and no run (spec §4.14; vectors
E30-E36)."""

from __future__ import annotations

import pytest
from engine_driver import (
    READY,
    RunDriver,
    compile_json,
    cond,
    condition,
    evidence,
    gate,
    scenario_json,
    stage,
)

from decision_gate.core.engine import (
    EVIDENCE_MAX_BYTES,
    EngineConfig,
    EvidenceTooLarge,
    StageNotFound,
)
from decision_gate.core.evidence import BytesEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    AdvanceOutcome,
    CompleteOutcome,
    EvidenceProviderError,
    EvidenceResult,
    HoldOutcome,
    PrecheckResult,
    TrustLane,
    TrustRequirement,
)
from decision_gate.core.tristate import TriState

ASSERTED_TRUE = evidence(True, TrustLane.ASSERTED)


def single_stage(config: EngineConfig | None = None, gate_trust: JsonValue = None) -> RunDriver:
    """One terminal stage with `gate-ready` over `ready`; no run is started."""
    ready_gate = gate("gate-ready", cond("ready"))
    if gate_trust is not None:
        ready_gate["trust"] = gate_trust
    spec = scenario_json([stage("stage-1", [ready_gate], advance_to={"kind": "terminal"})], [READY])
    return RunDriver(compile_json(spec), config=config or EngineConfig())


def gate_status(result: PrecheckResult) -> TriState:
    (evaluation,) = result.gate_evaluations
    return evaluation.status


def test_e30_verified_true_evidence_completes_the_stage() -> None:
    result = single_stage().precheck(None, {"ready": evidence(True)})

    assert result.decision == CompleteOutcome("stage-1")
    assert gate_status(result) is TriState.TRUE


@pytest.mark.parametrize(
    "supplied", [{"ready": ASSERTED_TRUE}, {}], ids=["asserted evidence", "missing evidence"]
)
def test_e31_asserted_or_missing_evidence_holds_with_the_gate_unknown(
    supplied: dict[str, EvidenceResult],
) -> None:
    result = single_stage().precheck(None, supplied)

    assert isinstance(result.decision, HoldOutcome)
    assert gate_status(result) is TriState.UNKNOWN


def test_e32_a_gate_requiring_verified_makes_asserted_evidence_unknown() -> None:
    driver = single_stage(
        EngineConfig(trust_requirement=TrustRequirement(TrustLane.ASSERTED)),
        gate_trust={"min_lane": "verified"},
    )

    result = driver.precheck(None, {"ready": ASSERTED_TRUE})

    assert gate_status(result) is TriState.UNKNOWN


def test_e32_a_gate_requiring_verified_accepts_verified_evidence() -> None:
    driver = single_stage(
        EngineConfig(trust_requirement=TrustRequirement(TrustLane.ASSERTED)),
        gate_trust={"min_lane": "verified"},
    )

    result = driver.precheck(None, {"ready": evidence(True)})

    assert gate_status(result) is TriState.TRUE


def two_stages() -> RunDriver:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", cond("ready"))],
                advance_to={"kind": "fixed", "stage_id": "stage-2"},
            ),
            stage("stage-2", [gate("gate-2", cond("ready"))]),
        ],
        [READY],
    )
    return RunDriver(compile_json(spec))


def test_e33_precheck_without_a_stage_evaluates_the_first_stage() -> None:
    result = two_stages().precheck(None, {"ready": evidence(True)})

    assert result.decision == AdvanceOutcome("stage-1", "stage-2", timeout=False)


def test_e33_precheck_of_a_named_stage_evaluates_that_stage() -> None:
    result = two_stages().precheck("stage-2", {"ready": evidence(True)})

    assert result.decision == CompleteOutcome("stage-2")


def test_e34_precheck_of_an_unknown_stage_is_an_error() -> None:
    with pytest.raises(StageNotFound, match="unknown stage identifier: missing"):
        two_stages().precheck("missing", {"ready": evidence(True)})


def pair(requirement: str) -> RunDriver:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", {requirement: [cond("a"), cond("b")]})],
                advance_to={"kind": "terminal"},
            )
        ],
        [condition("a"), condition("b")],
    )
    return RunDriver(compile_json(spec))


def supplied(a: bool | None, b: bool | None) -> dict[str, EvidenceResult]:
    """Verified evidence for `a` and `b`; None leaves that condition without evidence."""
    chosen = {"a": a, "b": b}
    return {cid: evidence(value) for cid, value in chosen.items() if value is not None}


@pytest.mark.parametrize(
    ("requirement", "a", "b", "status"),
    [
        ("And", True, True, TriState.TRUE),
        ("And", True, False, TriState.FALSE),
        ("And", True, None, TriState.UNKNOWN),
        ("Or", True, False, TriState.TRUE),
        ("Or", False, False, TriState.FALSE),
        ("Or", None, None, TriState.UNKNOWN),
    ],
)
def test_e35_precheck_evaluates_and_or_gates_in_three_valued_logic(
    requirement: str, a: bool | None, b: bool | None, status: TriState
) -> None:
    result = pair(requirement).precheck(None, supplied(a, b))

    assert gate_status(result) is status
    if status is TriState.TRUE:
        assert result.decision == CompleteOutcome("stage-1")
    else:
        assert isinstance(result.decision, HoldOutcome)


def test_e36_repeated_prechecks_give_identical_results() -> None:
    # Precheck takes no run head, so it cannot produce a delta to save; what is
    # left of E36 is that it is a function of its inputs.
    driver = pair("And")

    results = [driver.precheck(None, supplied(True, None)) for _ in range(3)]

    assert results[0] == results[1] == results[2]


def test_precheck_treats_evidence_carrying_an_error_as_unknown() -> None:
    errored = EvidenceResult(
        value=evidence(True).value, error=EvidenceProviderError("bad", "bad evidence")
    )

    result = single_stage().precheck(None, {"ready": errored})

    assert gate_status(result) is TriState.UNKNOWN


def test_precheck_applies_the_evidence_size_limit() -> None:
    too_large = EvidenceResult(value=BytesEvidence(b"\0" * (EVIDENCE_MAX_BYTES + 1)))

    with pytest.raises(EvidenceTooLarge):
        single_stage().precheck(None, {"ready": too_large})
