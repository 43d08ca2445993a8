"""The wire form of the model: what `parse` accepts and what `to_json` emits (spec §1.1,
§1.2, §1.9-§1.11).

Parsing follows serde except where we are deliberately stricter: unknown keys are
rejected with their JSON path. Output follows serde exactly, because it is hashed: an
`Option` is emitted as null unless it is one of the skip-if-none fields.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from engine_driver import READY, condition, packet, ready_gate_stage, scenario_json

from decision_gate.core.canonical import HashDigest
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import BytesEvidence, JsonEvidence
from decision_gate.core.model import (
    I64,
    U64,
    BytesPayload,
    DecisionRecord,
    EvidenceResult,
    HoldOutcome,
    Logical,
    RunConfig,
    ScenarioSpec,
    TriggerEvent,
    TrustLane,
    UnixMillis,
    parse,
    to_json,
)
from decision_gate.core.requirement import And, Condition, RequireGroup

Spec = dict[str, Any]


def base_spec() -> Spec:
    return scenario_json([ready_gate_stage(entry_packets=[packet("packet-1")])], [READY])


def amended(change: Callable[[Spec], object]) -> Spec:
    spec = copy.deepcopy(base_spec())
    change(spec)
    return spec


def parse_error(data: Any, cls: type = ScenarioSpec) -> str:
    with pytest.raises(InvalidInput) as raised:
        parse(cls, data)
    return str(raised.value)


def test_the_base_spec_round_trips_to_the_same_json() -> None:
    assert to_json(parse(ScenarioSpec, base_spec())) == base_spec()


UNKNOWN_KEYS: dict[str, tuple[Callable[[Spec], object], str]] = {
    "top level": (lambda s: s.update(extra=1), "$"),
    "stage": (lambda s: s["stages"][0].update(extra=1), "$.stages[0]"),
    "gate": (lambda s: s["stages"][0]["gates"][0].update(extra=1), "$.stages[0].gates[0]"),
    "query": (lambda s: s["conditions"][0]["query"].update(extra=1), "$.conditions[0].query"),
    "advance_to": (
        lambda s: s["stages"][0]["advance_to"].update(extra=1),
        "$.stages[0].advance_to",
    ),
    "packet payload": (
        lambda s: s["stages"][0]["entry_packets"][0]["payload"].update(extra=1),
        "$.stages[0].entry_packets[0].payload",
    ),
}


@pytest.mark.parametrize(("change", "path"), UNKNOWN_KEYS.values(), ids=UNKNOWN_KEYS.keys())
def test_an_unknown_key_is_rejected_with_its_json_path(
    change: Callable[[Spec], object], path: str
) -> None:
    message = parse_error(amended(change))

    assert "extra" in message
    assert message.endswith(f"@ {path}")


@pytest.mark.parametrize("namespace_id", [0, 1.0, True, -1, 2**64, "1"])
def test_a_namespace_id_that_is_not_a_positive_u64_is_rejected(namespace_id: Any) -> None:
    message = parse_error(amended(lambda s: s.update(namespace_id=namespace_id)))

    assert message.endswith("@ $.namespace_id")


def test_the_largest_namespace_id_is_accepted() -> None:
    spec = parse(ScenarioSpec, amended(lambda s: s.update(namespace_id=2**64 - 1)))

    assert spec.namespace_id == 2**64 - 1


def test_a_zero_tenant_id_is_rejected() -> None:
    config = {
        "tenant_id": 0,
        "namespace_id": 1,
        "run_id": "run-1",
        "scenario_id": "scenario",
        "dispatch_targets": [],
        "policy_tags": [],
    }

    assert parse_error(config, RunConfig).endswith("@ $.tenant_id")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s: s.update(policies="abc"), "$.policies"),
        (lambda s: s["conditions"][0].update(policy_tags="abc"), "$.conditions[0].policy_tags"),
        (lambda s: s["stages"][0].update(gates="gate-ready"), "$.stages[0].gates"),
    ],
    ids=["policies", "policy_tags", "gates"],
)
def test_a_string_where_an_array_is_expected_is_rejected(
    change: Callable[[Spec], object], path: str
) -> None:
    assert parse_error(amended(change)).endswith(f"@ {path}")


def test_a_number_where_a_string_is_expected_is_rejected() -> None:
    assert parse_error(amended(lambda s: s.update(scenario_id=1))).endswith("@ $.scenario_id")


def test_a_required_array_may_not_be_omitted() -> None:
    message = parse_error(amended(lambda s: s.pop("schemas")))

    assert "required field missing @ $.schemas" in message


@pytest.mark.parametrize("data", [None, [], "spec", 5, True], ids=repr)
def test_a_spec_that_is_not_an_object_is_rejected_as_invalid_input(data: Any) -> None:
    assert parse_error(data).endswith("@ $")


def test_a_stage_that_is_not_an_object_is_rejected_with_its_path() -> None:
    assert "@ $.stages[0]" in parse_error(amended(lambda s: s.update(stages=["stage-1"])))


def test_expected_null_parses_as_no_expected_value() -> None:
    spec = parse(ScenarioSpec, amended(lambda s: s["conditions"][0].update(expected=None)))

    assert spec.conditions[0].expected is None


def test_an_absent_expected_value_is_emitted_as_null() -> None:
    spec = parse(ScenarioSpec, amended(lambda s: s["conditions"][0].pop("expected")))

    emitted = to_json(spec)["conditions"][0]
    assert "expected" in emitted
    assert emitted["expected"] is None


def test_absent_trust_and_params_are_omitted_on_output() -> None:
    spec = parse(ScenarioSpec, base_spec())

    emitted = to_json(spec)
    assert "trust" not in emitted["conditions"][0]
    assert "params" not in emitted["conditions"][0]["query"]
    assert "trust" not in emitted["stages"][0]["gates"][0]


def test_null_trust_and_params_are_omitted_on_output() -> None:
    def nulls(s: Spec) -> None:
        s["conditions"][0]["trust"] = None
        s["conditions"][0]["query"]["params"] = None
        s["stages"][0]["gates"][0]["trust"] = None

    emitted = to_json(parse(ScenarioSpec, amended(nulls)))

    assert "trust" not in emitted["conditions"][0]
    assert "params" not in emitted["conditions"][0]["query"]
    assert "trust" not in emitted["stages"][0]["gates"][0]


def test_present_trust_and_params_are_emitted() -> None:
    def present(s: Spec) -> None:
        s["conditions"][0]["trust"] = {"min_lane": "asserted"}
        s["conditions"][0]["query"]["params"] = {"timestamp": 0}
        s["stages"][0]["gates"][0]["trust"] = {"min_lane": "verified"}

    emitted = to_json(parse(ScenarioSpec, amended(present)))

    assert emitted["conditions"][0]["trust"] == {"min_lane": "asserted"}
    assert emitted["conditions"][0]["query"]["params"] == {"timestamp": 0}
    assert emitted["stages"][0]["gates"][0]["trust"] == {"min_lane": "verified"}


def test_optional_spec_fields_are_emitted_as_null() -> None:
    spec = amended(lambda s: [s.pop("default_tenant_id"), s["stages"][0].pop("timeout")])

    emitted = to_json(parse(ScenarioSpec, spec))

    assert emitted["default_tenant_id"] is None
    assert emitted["stages"][0]["timeout"] is None
    assert emitted["stages"][0]["entry_packets"][0]["expiry"] is None


def test_requirements_use_the_externally_tagged_form() -> None:
    requirement = {"And": [{"Condition": "a"}, {"RequireGroup": {"min": 1, "reqs": []}}]}
    spec = parse(
        ScenarioSpec,
        amended(lambda s: s["stages"][0]["gates"][0].update(requirement=requirement)),
    )

    assert spec.stages[0].gates[0].requirement == And((Condition("a"), RequireGroup(1, ())))
    assert to_json(spec)["stages"][0]["gates"][0]["requirement"] == requirement


def test_timestamps_are_adjacently_tagged_and_range_checked() -> None:
    event = {
        "trigger_id": "t",
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": "r",
        "kind": "tick",
        "time": {"kind": "unix_millis", "value": -5},
        "source_id": "s",
        "payload": None,
        "correlation_id": None,
    }

    assert parse(TriggerEvent, event).time == UnixMillis(I64(-5))
    logical = {**event, "time": {"kind": "logical", "value": -5}}
    assert parse_error(logical, TriggerEvent).endswith("@ $.time.value")


def test_an_evidence_result_defaults_to_verified_with_every_key_emitted() -> None:
    result = parse(EvidenceResult, {})

    assert result.lane is TrustLane.VERIFIED
    assert to_json(result) == {
        "value": None,
        "lane": "verified",
        "error": None,
        "evidence_hash": None,
        "evidence_ref": None,
        "evidence_anchor": None,
        "signature": None,
        "content_type": None,
    }


def test_evidence_values_are_adjacently_tagged() -> None:
    result = parse(EvidenceResult, {"value": {"kind": "bytes", "value": [0, 255]}})

    assert result.value == BytesEvidence(b"\x00\xff")
    assert to_json(EvidenceResult(value=JsonEvidence(None)))["value"] == {
        "kind": "json",
        "value": None,
    }


def test_a_byte_outside_0_to_255_is_rejected() -> None:
    payload = {"kind": "bytes", "bytes": [1, 256]}

    def with_payload(s: Spec) -> None:
        s["stages"][0]["entry_packets"][0]["payload"] = payload

    assert "@ $.stages[0].entry_packets[0].payload" in parse_error(amended(with_payload))


def test_bytes_payloads_are_emitted_as_arrays_of_integers() -> None:
    assert to_json(BytesPayload(b"\x01\x02")) == {"bytes": [1, 2]}


def test_decision_outcomes_are_internally_tagged() -> None:
    record = {
        "decision_id": "decision-1",
        "seq": 1,
        "trigger_id": "t",
        "stage_id": "stage-1",
        "decided_at": {"kind": "logical", "value": 3},
        "outcome": {
            "kind": "hold",
            "summary": {
                "status": "hold",
                "unmet_gates": ["gate-1"],
                "retry_hint": None,
                "policy_tags": [],
            },
        },
        "correlation_id": None,
    }

    decision = parse(DecisionRecord, record)

    assert isinstance(decision.outcome, HoldOutcome)
    assert decision.decided_at == Logical(U64(3))
    assert to_json(decision) == record


def test_an_unknown_comparator_is_rejected_with_its_path() -> None:
    spec = amended(lambda s: s["conditions"].append(condition("x", comparator="nope")))

    assert parse_error(spec).endswith("@ $.conditions[1].comparator")


def test_hash_digests_parse_to_their_value() -> None:
    digest = {"algorithm": "sha256", "value": "0" * 64}

    assert parse(HashDigest, digest) == HashDigest(algorithm="sha256", value="0" * 64)
