"""Runs for benchmarks: a scenario that holds forever and a constant provider.

The provider answers instantly, so what is measured is Decision Gate's own cost
(planning, evaluation, hashing, persistence), not a provider's.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from decision_gate.control_plane import ControlPlane, ProviderRegistry
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import (
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    Logical,
    RunConfig,
    ScenarioSpec,
    TriggerEvent,
    TriggerKind,
    parse,
)
from decision_gate.seams.run_state import RunStateStore

SCENARIO_ID = "bench"


class ConstantProvider:
    provider_id = "bench"

    @property
    def checks(self) -> Collection[str]:
        return ("value",)

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        return EvidenceResult(value=JsonEvidence(query.params), content_type="application/json")


def holding_spec(conditions: int = 6) -> ScenarioSpec:
    """One stage whose last gate never passes, so every trigger evaluates every gate."""
    document: dict[str, Any] = {
        "scenario_id": SCENARIO_ID,
        "namespace_id": 1,
        "spec_version": "1",
        "policies": [],
        "schemas": [],
        "conditions": [
            {
                "condition_id": f"c{i}",
                "query": {"provider_id": "bench", "check_id": "value", "params": i},
                "comparator": "greater_than_or_equal" if i else "equals",
                "expected": 0 if i else -1,
                "policy_tags": [],
            }
            for i in range(conditions)
        ],
        "stages": [
            {
                "stage_id": "wait",
                "entry_packets": [],
                "gates": [
                    {
                        "gate_id": "ready",
                        "requirement": {
                            "And": [{"Condition": f"c{i}"} for i in range(1, conditions)]
                        },
                    },
                    {"gate_id": "never", "requirement": {"Condition": "c0"}},
                ],
                "advance_to": {"kind": "terminal"},
                "timeout": None,
                "on_timeout": "fail",
            }
        ],
    }
    return parse(ScenarioSpec, document)


def run_config(run_id: str = "run-1") -> RunConfig:
    return RunConfig(
        tenant_id=1,  # type: ignore[arg-type]
        namespace_id=1,  # type: ignore[arg-type]
        run_id=run_id,
        scenario_id=SCENARIO_ID,
        dispatch_targets=(),
        policy_tags=(),
    )


def trigger(n: int, run_id: str = "run-1") -> TriggerEvent:
    return TriggerEvent(
        trigger_id=f"t{n}",
        tenant_id=1,  # type: ignore[arg-type]
        namespace_id=1,  # type: ignore[arg-type]
        run_id=run_id,
        kind=TriggerKind.EXTERNAL_EVENT,
        time=Logical(n),  # type: ignore[arg-type]
        source_id="bench",
    )


async def started_plane(store: RunStateStore, run_id: str = "run-1") -> ControlPlane:
    registry = ProviderRegistry()
    registry.register(ConstantProvider())
    plane = ControlPlane(store, registry)
    await plane.define(holding_spec())
    await plane.start(SCENARIO_ID, run_config(run_id), Logical(0))  # type: ignore[arg-type]
    return plane
