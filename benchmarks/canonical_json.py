"""Canonical JSON speed against the obvious baselines, measured in one process.

Claim under test: `canonical_json_bytes` costs at most 2x
`json.dumps(sort_keys=True, compact, ensure_ascii=False)` on typical Decision
Gate documents (run states: nested objects of strings, small ints, hashes,
timestamps). The float-heavy document shows the cost of the float rewrite,
and the `rfc8785` package is the pure-Python alternative we did not take.

Rows follow benchmarks/report.py: `ours` and `baseline` are operations per
second; `ratio` is how many times slower we are (baseline ops/s divided by
ours): 1.5 means 50% slower, below 1 means faster.
"""

from __future__ import annotations

import hashlib
import json
import math
import timeit
from collections.abc import Callable
from typing import Any

import rfc8785

from decision_gate.core.canonical import canonical_json_bytes
from decision_gate.core.jsonvalue import JsonValue

RECORDS = 200
ROUNDS = 15


def _digest(*parts: object) -> dict[str, JsonValue]:
    text = ":".join(str(part) for part in parts)
    return {"algorithm": "sha256", "value": hashlib.sha256(text.encode()).hexdigest()}


def _logical(value: int) -> dict[str, JsonValue]:
    return {"kind": "logical", "value": value}


def run_state_document(records: int = RECORDS) -> JsonValue:
    """A run state shaped like the reference's: triggers, gate evaluations, decisions."""
    triggers: list[JsonValue] = []
    gate_evals: list[JsonValue] = []
    decisions: list[JsonValue] = []
    tool_calls: list[JsonValue] = []
    for seq in range(1, records + 1):
        trigger_id = f"trigger-{seq}"
        triggers.append(
            {
                "event": {
                    "correlation_id": None,
                    "kind": "external_event",
                    "namespace_id": 1,
                    "payload": {"build": seq, "branch": "main", "ok": seq % 3 != 0},
                    "run_id": "run-1",
                    "source_id": "ci-pipeline",
                    "tenant_id": 1,
                    "time": {"kind": "unix_millis", "value": 1_760_000_000_000 + seq * 1000},
                    "trigger_id": trigger_id,
                },
                "seq": seq,
            }
        )
        gate_evals.append(
            {
                "evaluation": {
                    "gate_id": "gate-release",
                    "status": "True" if seq % 3 else "Unknown",
                    "trace": [
                        {"condition_id": "tests_green", "status": "True"},
                        {"condition_id": "after_freeze", "status": "True"},
                    ],
                },
                "evidence": [
                    {
                        "condition_id": name,
                        "result": {
                            "content_type": "application/json",
                            "error": None,
                            "evidence_anchor": {
                                "anchor_type": "trigger_time_logical",
                                "anchor_value": str(seq),
                            },
                            "evidence_hash": _digest(name, seq),
                            "evidence_ref": None,
                            "lane": "verified",
                            "signature": None,
                            "value": {"kind": "json", "value": True},
                        },
                        "status": "True",
                    }
                    for name in ("after_freeze", "tests_green")
                ],
                "stage_id": "stage-verify",
                "trigger_id": trigger_id,
            }
        )
        decisions.append(
            {
                "correlation_id": None,
                "decided_at": _logical(seq),
                "decision_id": f"decision-{seq}",
                "outcome": {"kind": "hold", "summary": {"status": "hold", "unmet_gates": []}},
                "seq": seq,
                "stage_id": "stage-verify",
                "trigger_id": trigger_id,
            }
        )
        tool_calls.append(
            {
                "call_id": f"call-{seq}",
                "called_at": _logical(seq),
                "correlation_id": None,
                "error": None,
                "method": "scenario.trigger",
                "request_hash": _digest("request", seq),
                "response_hash": _digest("response", seq),
            }
        )
    return {
        "current_stage_id": "stage-verify",
        "decisions": decisions,
        "gate_evals": gate_evals,
        "namespace_id": 1,
        "packets": [],
        "run_id": "run-1",
        "scenario_id": "release-gate",
        "spec_hash": _digest("spec"),
        "stage_entered_at": _logical(0),
        "status": "active",
        "submissions": [],
        "tenant_id": 1,
        "tool_calls": tool_calls,
        "triggers": triggers,
    }


def run_state_with_floats_and_prose(records: int = RECORDS) -> JsonValue:
    """The run state with what evidence often adds: a float per record, and prose."""
    state: Any = run_state_document(records)
    for seq, gate_eval in enumerate(state["gate_evals"]):
        result = gate_eval["evidence"][0]["result"]
        result["value"] = {"kind": "json", "value": 0.5 + seq / 1000 if seq % 4 else 99.0}
        result["error"] = {"code": "stale", "message": f"evidence older than {seq} s, refetch"}
    return state  # type: ignore[no-any-return]


def float_heavy_document(records: int = RECORDS) -> JsonValue:
    """Evidence from a metrics provider: every record is mostly floats."""
    return {
        "samples": [
            {
                "latency_ms": {"p50": 12.5 + seq / 7, "p95": 48.25 + seq / 3, "p99": 120.0},
                "error_rate": seq / 10_000,
                "throughput": 1.5e6 + seq,
                "scale": 10.0 ** -(seq % 9),
                "window": seq,
            }
            for seq in range(records)
        ]
    }


def _json_dumps_sorted(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _seconds_per_call(
    ours: Callable[[], object], theirs: Callable[[], object]
) -> tuple[float, float]:
    """Best of many short interleaved rounds, so load from other processes hits both sides alike."""
    timers = [timeit.Timer(ours), timeit.Timer(theirs)]
    # autorange aims at 0.2 s per timing; a quarter of that keeps rounds short.
    numbers = [max(1, timer.autorange()[0] // 4) for timer in timers]
    best = [math.inf, math.inf]
    for _ in range(ROUNDS):
        for side, (timer, number) in enumerate(zip(timers, numbers, strict=True)):
            best[side] = min(best[side], timer.timeit(number) / number)
    return best[0], best[1]


def _row(
    name: str,
    value: JsonValue,
    baseline_name: str,
    baseline: Callable[[JsonValue], object],
    target: str = "",
) -> dict[str, object]:
    ours, theirs = _seconds_per_call(lambda: canonical_json_bytes(value), lambda: baseline(value))
    return {
        "name": f"ops/s, {name} vs {baseline_name}; ratio = x slower{target}",
        "ours": round(1 / ours, 1),
        "baseline": round(1 / theirs, 1),
        "ratio": round(ours / theirs, 3),
    }


def run() -> list[dict[str, object]]:
    run_state = run_state_document()
    run_state_plus = run_state_with_floats_and_prose()
    floats = float_heavy_document()
    dumps = "json.dumps(sort_keys)"
    return [
        _row("run state", run_state, dumps, _json_dumps_sorted, ", target <= 2"),
        _row("run state", run_state, "rfc8785", rfc8785.dumps),
        _row(
            "run state + floats, prose", run_state_plus, dumps, _json_dumps_sorted, ", target <= 2"
        ),
        _row("run state + floats, prose", run_state_plus, "rfc8785", rfc8785.dumps),
        _row("float-heavy", floats, dumps, _json_dumps_sorted),
        _row("float-heavy", floats, "rfc8785", rfc8785.dumps),
    ]


if __name__ == "__main__":
    from benchmarks.report import print_rows

    print_rows("canonical JSON", run())
