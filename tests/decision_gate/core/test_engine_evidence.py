"""Evidence collection, normalisation, trust, anchors and limits (spec §4.7-§4.9; vectors
E4, E14-E19, E24-E29).

The provider call order a test observes is the order of `plan_trigger`'s evidence
requests, which the driver answers one by one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_driver import (
    READY,
    ProviderDown,
    RunDriver,
    always,
    at,
    compile_json,
    cond,
    condition,
    evidence,
    gate,
    ready_gate_stage,
    scenario_json,
    stage,
)

from decision_gate.core.canonical import hash_canonical
from decision_gate.core.engine import (
    EVIDENCE_MAX_BYTES,
    DeterministicShuffle,
    EngineConfig,
    EvidenceRequest,
    EvidenceTooLarge,
)
from decision_gate.core.evidence import BytesEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    AdvanceOutcome,
    AnchorRequirement,
    EvidenceAnchor,
    EvidenceAnchorPolicy,
    EvidenceContext,
    EvidenceProviderError,
    EvidenceRecord,
    EvidenceResult,
    GateEvalRecord,
    HoldOutcome,
    NamespaceId,
    ProviderAnchorPolicy,
    RunStatus,
    SafeSummary,
    TenantId,
    TrustLane,
    TrustRequirement,
)
from decision_gate.core.runlog import LogKind
from decision_gate.core.tristate import TriState

ASSERTED = TrustRequirement(TrustLane.ASSERTED)
VERIFIED = TrustRequirement(TrustLane.VERIFIED)


def ready_run(
    config: EngineConfig | None = None, *, provider_id: str = "test", trust: JsonValue = None
) -> RunDriver:
    """stage-1 gated on `ready` (linear) → stage-2; `trust` is the condition's, if any."""
    ready = condition("ready", provider_id=provider_id)
    if trust is not None:
        ready["trust"] = trust
    conditions = [ready]
    spec = scenario_json([ready_gate_stage(), stage("stage-2")], conditions)
    driver = RunDriver(compile_json(spec), config=config or EngineConfig())
    driver.start()
    return driver


def only_evidence(driver: RunDriver) -> EvidenceRecord:
    gate_evals: list[GateEvalRecord] = driver.logs[LogKind.GATE_EVALS]
    (gate_eval,) = gate_evals
    (record,) = gate_eval.evidence
    return record


def failing(_request: EvidenceRequest) -> EvidenceResult:
    raise ProviderDown("provider unavailable")


def test_e4_a_failing_provider_holds_the_run() -> None:
    driver = ready_run()

    result = driver.trigger("trigger-1", at(1), provider=failing)

    assert isinstance(result.decision.outcome, HoldOutcome)
    assert driver.run.status is RunStatus.ACTIVE


def test_e4_a_failing_provider_is_recorded_as_unknown_with_a_provider_error() -> None:
    driver = ready_run()

    driver.trigger("trigger-1", at(1), provider=failing)

    record = only_evidence(driver)
    assert record.status is TriState.UNKNOWN
    assert record.result.value is None
    assert record.result.evidence_hash is None
    assert record.result.content_type is None
    assert record.result.error is not None
    assert record.result.error.code == "provider_error"
    assert "provider unavailable" in record.result.error.message


def test_an_error_in_a_result_clears_its_value_hash_and_content_type() -> None:
    driver = ready_run()
    answer = EvidenceResult(
        value=evidence(True).value,
        evidence_hash=hash_canonical(True),
        content_type="application/json",
        error=EvidenceProviderError(code="upstream", message="upstream said no"),
    )

    driver.trigger("trigger-1", at(1), provider=always(answer))

    result = only_evidence(driver).result
    assert (result.value, result.evidence_hash, result.content_type) == (None, None, None)


def test_the_engine_recomputes_a_provider_supplied_evidence_hash() -> None:
    driver = ready_run()
    forged = evidence(True, evidence_hash=hash_canonical("something else"))

    driver.trigger("trigger-1", at(1), provider=always(forged))

    assert only_evidence(driver).result.evidence_hash == hash_canonical(True)


def test_e14_asserted_evidence_under_the_default_config_holds_with_a_trust_lane_error() -> None:
    driver = ready_run()

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, HoldOutcome)
    record = only_evidence(driver)
    assert record.status is TriState.UNKNOWN
    assert record.result.error is not None
    assert record.result.error.code == "trust_lane"
    assert record.result.error.message == "evidence lane Asserted does not satisfy Verified"
    assert record.result.value == evidence(True).value


def test_asserted_evidence_advances_when_the_global_requirement_is_asserted() -> None:
    driver = ready_run(EngineConfig(trust_requirement=ASSERTED))

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, AdvanceOutcome)


def test_e15_a_condition_requiring_verified_holds_asserted_evidence() -> None:
    driver = ready_run(EngineConfig(trust_requirement=ASSERTED), trust={"min_lane": "verified"})

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, HoldOutcome)


def test_e15_a_gate_requiring_verified_holds_asserted_evidence() -> None:
    spec = scenario_json(
        [stage("stage-1", [gate("gate-ready", cond("ready"), trust={"min_lane": "verified"})])],
        [READY],
    )
    driver = RunDriver(compile_json(spec), config=EngineConfig(trust_requirement=ASSERTED))
    driver.start()

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, HoldOutcome)


def test_e16_a_provider_override_cannot_relax_the_global_requirement() -> None:
    config = EngineConfig(trust_requirement=VERIFIED, provider_trust_overrides={"test": ASSERTED})
    driver = ready_run(config)

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, HoldOutcome)


def test_e17_a_provider_override_raises_the_bar_for_that_provider() -> None:
    config = EngineConfig(trust_requirement=ASSERTED, provider_trust_overrides={"alpha": VERIFIED})
    driver = ready_run(config, provider_id="alpha")

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    assert isinstance(result.decision.outcome, HoldOutcome)


def test_trust_is_applied_per_gate_so_one_condition_can_be_unknown_and_true() -> None:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [
                    gate("gate-strict", cond("ready"), trust={"min_lane": "verified"}),
                    gate("gate-lenient", cond("ready")),
                ],
            )
        ],
        [READY],
    )
    driver = RunDriver(compile_json(spec), config=EngineConfig(trust_requirement=ASSERTED))
    driver.start()

    result = driver.trigger("trigger-1", at(1), provider=always(evidence(True, TrustLane.ASSERTED)))

    strict, lenient = driver.logs[LogKind.GATE_EVALS]
    assert strict.evaluation.status is TriState.UNKNOWN
    assert lenient.evaluation.status is TriState.TRUE
    assert result.decision.outcome == HoldOutcome(
        SafeSummary("hold", ("gate-strict",), "await_evidence", ())
    )


ANCHORED = EvidenceAnchorPolicy(
    (
        ProviderAnchorPolicy(
            "test", AnchorRequirement("assetcore.anchor_set", ("assetcore.namespace_id",))
        ),
    )
)


def test_e18_evidence_without_a_required_anchor_is_unknown_with_anchor_invalid() -> None:
    driver = ready_run(EngineConfig(anchor_policy=ANCHORED))

    result = driver.trigger(
        "trigger-1", at(1), provider=always(evidence(True, content_type="application/json"))
    )

    assert isinstance(result.decision.outcome, HoldOutcome)
    record = only_evidence(driver)
    assert record.status is TriState.UNKNOWN
    assert (record.result.value, record.result.evidence_hash, record.result.content_type) == (
        None,
        None,
        None,
    )
    assert record.result.error is not None
    assert record.result.error.code == "anchor_invalid"
    assert "missing evidence_anchor" in record.result.error.message


def test_evidence_with_a_valid_anchor_is_evaluated() -> None:
    driver = ready_run(EngineConfig(anchor_policy=ANCHORED))
    anchor = EvidenceAnchor("assetcore.anchor_set", '{"assetcore.namespace_id": 7}')

    result = driver.trigger(
        "trigger-1", at(1), provider=always(evidence(True, evidence_anchor=anchor))
    )

    assert isinstance(result.decision.outcome, AdvanceOutcome)
    assert only_evidence(driver).result.evidence_anchor == anchor


def test_an_invalid_anchor_replaces_an_asserted_result_with_a_verified_error() -> None:
    driver = ready_run(EngineConfig(anchor_policy=ANCHORED))
    wrong_type = EvidenceAnchor("other", "{}")

    driver.trigger(
        "trigger-1",
        at(1),
        provider=always(evidence(True, TrustLane.ASSERTED, evidence_anchor=wrong_type)),
    )

    result = only_evidence(driver).result
    assert result.lane is TrustLane.VERIFIED
    assert result.evidence_anchor is None
    assert result.error == EvidenceProviderError(
        code="anchor_invalid",
        message="anchor_type mismatch: expected assetcore.anchor_set got other",
    )


def test_anchor_policies_apply_only_to_the_provider_they_name() -> None:
    driver = ready_run(EngineConfig(anchor_policy=ANCHORED), provider_id="unanchored")

    result = driver.trigger("trigger-1", at(1))

    assert isinstance(result.decision.outcome, AdvanceOutcome)


def test_e19_bytes_evidence_over_one_mebibyte_fails_the_call_and_records_nothing() -> None:
    driver = ready_run()
    before = driver.run
    too_large = EvidenceResult(value=BytesEvidence(b"\0" * (EVIDENCE_MAX_BYTES + 1)))

    with pytest.raises(EvidenceTooLarge, match=r"exceeds size limit \(1048577 > 1048576\)"):
        driver.next("trigger-1", at(1), provider=always(too_large))

    assert driver.run == before
    assert driver.logs[LogKind.TRIGGERS] == []


def test_bytes_evidence_of_exactly_one_mebibyte_is_accepted() -> None:
    driver = ready_run()
    largest = EvidenceResult(value=BytesEvidence(b"\0" * EVIDENCE_MAX_BYTES))

    driver.next("trigger-1", at(1), provider=always(largest))

    assert len(driver.logs[LogKind.GATE_EVALS]) == 1


def test_json_evidence_over_one_mebibyte_of_canonical_json_fails_the_call() -> None:
    driver = ready_run()

    with pytest.raises(EvidenceTooLarge):
        driver.trigger("trigger-1", at(1), provider=always(evidence("x" * EVIDENCE_MAX_BYTES)))

    assert driver.logs[LogKind.TRIGGERS] == []


def test_a_provider_hash_without_a_value_is_kept_as_given() -> None:
    driver = ready_run()
    declared = hash_canonical("elsewhere")

    driver.trigger("trigger-1", at(1), provider=always(EvidenceResult(evidence_hash=declared)))

    record = only_evidence(driver)
    assert record.result.evidence_hash == declared
    assert record.status is TriState.UNKNOWN


def test_a_condition_with_no_answer_is_recorded_as_a_provider_error() -> None:
    driver = ready_run()

    driver.trigger("trigger-1", at(1), provider={})

    error = only_evidence(driver).result.error
    assert error is not None
    assert error.code == "provider_error"


def test_e24_a_hold_summary_names_the_unmet_gate_and_never_the_evidence() -> None:
    spec = scenario_json([stage("stage-1", [gate("gate-1", cond("ready"))])], [READY])
    driver = RunDriver(compile_json(spec), provider=always(evidence({"leak": "TOP_SECRET"})))
    driver.start()

    result = driver.trigger("trigger-1", at(1))

    summary = SafeSummary(
        status="hold", unmet_gates=("gate-1",), retry_hint="await_evidence", policy_tags=()
    )
    assert result.decision.outcome == HoldOutcome(summary)
    assert driver.status(at(2)).safe_summary == summary
    assert b"TOP_SECRET" not in driver.artifact(LogKind.DECISIONS)


def alpha_beta_run(requirement: JsonValue) -> RunDriver:
    spec = scenario_json(
        [stage("stage-1", [gate("gate-1", requirement)])],
        [condition("cond-a", provider_id="alpha"), condition("cond-b", provider_id="beta")],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()
    return driver


def called_providers(driver: RunDriver) -> list[str]:
    return [request.query.provider_id for request in driver.provider_calls]


def test_e25_providers_are_called_in_requirement_order() -> None:
    driver = alpha_beta_run({"And": [cond("cond-b"), cond("cond-a")]})

    driver.trigger("trigger-1", at(1))

    assert called_providers(driver) == ["beta", "alpha"]


def test_e26_every_condition_is_queried_even_when_an_or_is_already_decided() -> None:
    driver = alpha_beta_run({"Or": [cond("cond-a"), cond("cond-b")]})

    driver.trigger("trigger-1", at(1))

    assert called_providers(driver) == ["alpha", "beta"]


def test_e26_a_failing_query_does_not_stop_the_others() -> None:
    driver = alpha_beta_run({"And": [cond("cond-a"), cond("cond-b")]})

    def alpha_fails(request: EvidenceRequest) -> EvidenceResult:
        if request.query.provider_id == "alpha":
            raise ProviderDown("alpha is down")
        return evidence(True)

    driver.trigger("trigger-1", at(1), provider=alpha_fails)

    assert called_providers(driver) == ["alpha", "beta"]


@pytest.mark.parametrize(
    "requirement",
    [
        {"And": [cond("second"), cond("first")]},
        {"And": [cond("first"), cond("second")]},
    ],
)
def test_e27_gate_evidence_is_sorted_by_condition_id_whatever_the_requirement_order(
    requirement: JsonValue,
) -> None:
    spec = scenario_json(
        [stage("stage-1", [gate("gate-1", requirement)])],
        [condition("second"), condition("first")],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    driver.trigger("trigger-1", at(1))

    (gate_eval,) = driver.logs[LogKind.GATE_EVALS]
    assert [record.condition_id for record in gate_eval.evidence] == ["first", "second"]


def test_e27_the_gate_trace_keeps_requirement_order() -> None:
    spec = scenario_json(
        [stage("stage-1", [gate("gate-1", {"And": [cond("second"), cond("first")]})])],
        [condition("second"), condition("first")],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    driver.trigger("trigger-1", at(1))

    (gate_eval,) = driver.logs[LogKind.GATE_EVALS]
    assert [entry.condition_id for entry in gate_eval.evaluation.trace] == ["second", "first"]


def shuffled_run(seed: int) -> RunDriver:
    spec = scenario_json(
        [
            stage(
                "stage-1",
                [gate("gate-1", {"And": [cond("alpha"), cond("beta"), cond("gamma")]})],
                advance_to={"kind": "terminal"},
            )
        ],
        [condition(name, provider_id=name) for name in ("alpha", "beta", "gamma")],
    )
    driver = RunDriver(
        compile_json(spec), config=EngineConfig(condition_eval_order=DeterministicShuffle(seed))
    )
    driver.start()
    driver.trigger("trigger-1", at(1))
    return driver


def test_e28_shuffle_seeds_change_the_provider_call_order() -> None:
    seven, eleven = shuffled_run(7), shuffled_run(11)

    assert called_providers(seven) != called_providers(eleven)
    assert sorted(called_providers(seven)) == ["alpha", "beta", "gamma"]


def test_e28_shuffle_seeds_leave_every_artifact_byte_identical() -> None:
    seven, eleven = shuffled_run(7), shuffled_run(11)

    for kind in LogKind:
        assert seven.artifact(kind) == eleven.artifact(kind), kind
    assert seven.run.log_digest == eleven.run.log_digest


def contexts(driver: RunDriver) -> Iterator[EvidenceContext]:
    return (request.context for request in driver.provider_calls)


def test_e29_the_evidence_context_describes_the_run_stage_and_trigger() -> None:
    driver = ready_run()

    driver.trigger("trigger-1", at(42), correlation_id="corr-1")

    assert list(contexts(driver)) == [
        EvidenceContext(
            tenant_id=TenantId(1),
            namespace_id=NamespaceId(1),
            run_id="run-1",
            scenario_id="scenario",
            stage_id="stage-1",
            trigger_id="trigger-1",
            trigger_time=at(42),
            correlation_id="corr-1",
        )
    ]


def test_e29_after_an_advance_the_evidence_context_names_the_new_stage() -> None:
    spec = scenario_json(
        [ready_gate_stage(), stage("stage-2", [gate("gate-2", cond("ready"))])], [READY]
    )
    driver = RunDriver(compile_json(spec))
    driver.start()
    driver.trigger("trigger-1", at(42), correlation_id="corr-1")

    driver.trigger("trigger-2", at(43))

    assert [context.stage_id for context in contexts(driver)] == ["stage-1", "stage-2"]


def test_a_condition_shared_by_two_gates_is_queried_once_and_recorded_in_both() -> None:
    spec = scenario_json(
        [stage("stage-1", [gate("gate-a", cond("ready")), gate("gate-b", cond("ready"))])],
        [READY],
    )
    driver = RunDriver(compile_json(spec))
    driver.start()

    driver.trigger("trigger-1", at(1))

    gate_evals: list[GateEvalRecord] = driver.logs[LogKind.GATE_EVALS]
    assert len(driver.provider_calls) == 1
    assert [g.evidence[0].condition_id for g in gate_evals] == ["ready", "ready"]
