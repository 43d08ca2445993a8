"""Scenario spec validation at define time (spec §1.14; vectors S1-S7), plus the checks
Decision Gate for Python adds: requirement groups that can never (or always) be
satisfied, trees too deep to evaluate, and branch rules on gates the stage lacks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from engine_driver import (
    READY,
    branch,
    compile_json,
    cond,
    condition,
    gate,
    packet,
    ready_gate_stage,
    scenario_json,
    stage,
)

from decision_gate.core.engine import compile_scenario
from decision_gate.core.errors import ControlPlaneError, DecisionGateError
from decision_gate.core.model import ScenarioSpec, parse
from decision_gate.core.validation import InvalidSpec

Spec = dict[str, Any]


def base_spec() -> Spec:
    """A valid two-stage spec: stage-1 gated on `ready` with a packet, then stage-2."""
    return scenario_json(
        [
            ready_gate_stage(entry_packets=[packet("packet-1")]),
            stage("stage-2", [gate("gate-2", cond("ready"))]),
        ],
        [READY],
    )


def invalid(spec: Spec) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as raised:
        compile_json(spec)
    return raised.value


def amended(change: Callable[[Spec], object]) -> Spec:
    spec = copy.deepcopy(base_spec())
    change(spec)
    return spec


def test_s1_the_base_spec_is_valid() -> None:
    scenario = compile_json(base_spec())

    assert scenario.stage_order == ("stage-1", "stage-2")


def test_s2_a_spec_without_stages_is_rejected() -> None:
    error = invalid(amended(lambda s: s.update(stages=[])))

    assert error.reason == "missing_stages"
    assert str(error) == "invalid scenario spec: scenario spec must define at least one stage"
    assert isinstance(error, ControlPlaneError)


def test_s3_duplicate_stage_ids_are_rejected() -> None:
    error = invalid(amended(lambda s: s["stages"].append(stage("stage-1"))))

    assert error.reason == "duplicate_stage_id"
    assert str(error) == "invalid scenario spec: duplicate stage identifier: stage-1"


def test_s3_gate_ids_must_be_unique_across_stages() -> None:
    error = invalid(
        amended(lambda s: s["stages"][1]["gates"].append(gate("gate-ready", cond("ready"))))
    )

    assert error.reason == "duplicate_gate_id"
    assert "duplicate gate identifier: gate-ready" in str(error)


def test_s3_packet_ids_must_be_unique_across_stages() -> None:
    error = invalid(amended(lambda s: s["stages"][1]["entry_packets"].append(packet("packet-1"))))

    assert error.reason == "duplicate_packet_id"
    assert "duplicate packet identifier: packet-1" in str(error)


def test_s3_duplicate_condition_ids_are_rejected() -> None:
    error = invalid(amended(lambda s: s["conditions"].append(condition("ready"))))

    assert error.reason == "duplicate_condition"
    assert "duplicate condition id: ready" in str(error)


def test_s4_a_gate_naming_an_undefined_condition_is_rejected() -> None:
    error = invalid(amended(lambda s: s["stages"][1]["gates"][0].update(requirement=cond("nope"))))

    assert error.reason == "missing_condition"
    assert str(error) == "invalid scenario spec: gate references undefined condition: nope"


@pytest.mark.parametrize("field", ["provider_id", "check_id"])
@pytest.mark.parametrize("blank", ["", "  \t", "\u3000\u00a0"], ids=["empty", "ascii", "unicode"])
def test_s5_a_blank_provider_or_check_id_is_rejected(field: str, blank: str) -> None:
    error = invalid(amended(lambda s: s["conditions"][0]["query"].update({field: blank})))

    assert error.reason == "invalid_evidence_query"
    assert str(error) == (
        f"invalid scenario spec: invalid evidence query for condition ready: {field} is empty"
    )


def test_s5_an_information_separator_is_not_white_space() -> None:
    spec = amended(lambda s: s["conditions"][0]["query"].update(check_id="\x1c"))

    assert compile_json(spec).conditions["ready"].query.check_id == "\x1c"


def test_s6_a_fixed_target_naming_a_missing_stage_is_rejected() -> None:
    error = invalid(
        amended(lambda s: s["stages"][0].update(advance_to={"kind": "fixed", "stage_id": "nope"}))
    )

    assert error.reason == "missing_branch_target"
    assert str(error) == "invalid scenario spec: branch target refers to unknown stage: nope"


@pytest.mark.parametrize(
    ("rules", "default"),
    [([("gate-ready", "true", "nope")], None), ([("gate-ready", "true", "stage-2")], "nope")],
    ids=["rule", "default"],
)
def test_s6_a_branch_naming_a_missing_stage_is_rejected(
    rules: list[tuple[str, str, str]], default: str | None
) -> None:
    error = invalid(amended(lambda s: s["stages"][0].update(advance_to=branch(rules, default))))

    assert error.reason == "missing_branch_target"
    assert "nope" in str(error)


S7_CASES: dict[str, Any] = {
    "null": None,
    "empty object": {},
    "numeric scenario id": {"scenario_id": 1},
    "namespace zero": amended(lambda s: s.update(namespace_id=0)),
    "stage without advance_to": amended(lambda s: s["stages"][0].pop("advance_to")),
    "stage without on_timeout": amended(lambda s: s["stages"][0].pop("on_timeout")),
    "internally tagged requirement": amended(
        lambda s: s["stages"][0]["gates"][0].update(
            requirement={"kind": "condition", "condition_id": "ready"}
        )
    ),
    "unknown comparator": amended(lambda s: s["conditions"][0].update(comparator="nope")),
    "duplicated condition": amended(lambda s: s["conditions"].append(condition("ready"))),
}


@pytest.mark.parametrize("spec", S7_CASES.values(), ids=S7_CASES.keys())
def test_s7_malformed_specs_are_never_accepted(spec: Any) -> None:
    with pytest.raises(DecisionGateError):
        compile_scenario(parse(ScenarioSpec, spec))


def test_checks_run_in_reference_order_so_the_first_problem_is_reported() -> None:
    def two_problems(s: Spec) -> None:
        s["stages"].append(stage("stage-1"))
        s["stages"][1]["gates"][0]["requirement"] = cond("nope")

    assert invalid(amended(two_problems)).reason == "duplicate_stage_id"


def group(minimum: int, members: int) -> dict[str, Any]:
    return {"RequireGroup": {"min": minimum, "reqs": [cond("ready")] * members}}


def test_a_group_asking_for_more_members_than_it_has_names_its_stage_and_gate() -> None:
    error = invalid(amended(lambda s: s["stages"][1]["gates"][0].update(requirement=group(3, 2))))

    assert error.reason == "invalid_requirement"
    assert "gate gate-2 of stage stage-2" in str(error)
    assert "min 3 exceeds total 2" in str(error)


def test_a_group_with_min_zero_and_members_is_rejected() -> None:
    error = invalid(amended(lambda s: s["stages"][1]["gates"][0].update(requirement=group(0, 2))))

    assert error.reason == "invalid_requirement"
    assert "gate gate-2 of stage stage-2" in str(error)
    assert "min=0" in str(error)


def test_an_empty_group_with_min_zero_is_accepted() -> None:
    spec = amended(lambda s: s["stages"][1]["gates"][0].update(requirement=group(0, 0)))

    assert compile_json(spec).spec.stages[1].gates[0].gate_id == "gate-2"


def nested_not(depth: int) -> dict[str, Any]:
    """A requirement whose deepest node is at `depth` (root = 0)."""
    requirement: dict[str, Any] = cond("ready")
    for _ in range(depth):
        requirement = {"Not": requirement}
    return requirement


def test_a_tree_deeper_than_the_evaluator_limit_is_rejected() -> None:
    error = invalid(
        amended(lambda s: s["stages"][0]["gates"][0].update(requirement=nested_not(33)))
    )

    assert error.reason == "invalid_requirement"
    assert "gate gate-ready of stage stage-1" in str(error)
    assert "too deep" in str(error)


def test_a_tree_at_the_evaluator_limit_is_accepted() -> None:
    spec = amended(lambda s: s["stages"][0]["gates"][0].update(requirement=nested_not(32)))

    compile_json(spec)


def test_a_branch_rule_on_a_gate_of_another_stage_names_the_stage_and_the_gate() -> None:
    error = invalid(
        amended(
            lambda s: s["stages"][0].update(
                advance_to=branch([("gate-2", "true", "stage-2")], "stage-2")
            )
        )
    )

    assert error.reason == "unknown_branch_gate"
    assert str(error) == (
        "invalid scenario spec: branch rule of stage stage-1 names gate gate-2, "
        "which is not a gate of that stage"
    )


def test_unused_conditions_and_empty_connectives_are_accepted() -> None:
    def loosen(s: Spec) -> None:
        s["conditions"].append(condition("unused"))
        s["stages"][1]["gates"][0]["requirement"] = {"And": []}

    compile_json(amended(loosen))
