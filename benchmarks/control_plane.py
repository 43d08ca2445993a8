"""Triggers through the control plane, and whether a trigger's cost grows with the run.

- throughput: triggers per second through `ControlPlane.trigger` with the
  in-memory and SQLite stores, against the pure engine alone on the same
  scenario (the floor: plan, evaluate, decide, hash; no store, no asyncio).
- growth: the median cost of triggers 1000-1019 against triggers 10-29 of the
  same run (target: within 1.5x; the reference rewrites the whole run state
  on every call, so its ratio grows with the run).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.scenarios import holding_spec, run_config, started_plane, trigger
from decision_gate.core import engine
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceResult, Logical
from decision_gate.stores import MemoryRunStateStore, SqliteRunStateStore

TRIGGERS = 400
GROWTH_RUN = 1020


def _engine_only_rate(count: int) -> float:
    scenario = engine.compile_scenario(holding_spec())
    head = engine.start_run(scenario, run_config(), Logical(0), False).head  # type: ignore[arg-type]
    provider_answers: dict[str, engine.EvidenceOutcome] = {}
    start = time.perf_counter()
    for n in range(1, count + 1):
        event = trigger(n)
        plan = engine.plan_trigger(scenario, head, event, None)
        for request in plan:
            provider_answers[request.condition_id] = EvidenceResult(
                value=JsonEvidence(request.query.params), content_type="application/json"
            )
        delta, _ = engine.apply_trigger(
            scenario,
            head,
            event,
            method="scenario.trigger",
            request=event,
            prior=None,
            evidence=provider_answers,
        )
        head = delta.head
    return count / (time.perf_counter() - start)


async def _plane_rate(store_kind: str, count: int, folder: Path) -> float:
    store = (
        MemoryRunStateStore()
        if store_kind == "memory"
        else SqliteRunStateStore(folder / f"{store_kind}.sqlite3")
    )
    plane = await started_plane(store)
    start = time.perf_counter()
    for n in range(1, count + 1):
        await plane.trigger("bench", trigger(n))
    elapsed = time.perf_counter() - start
    await store.close()
    return count / elapsed


async def _growth(store_kind: str, folder: Path) -> tuple[float, float]:
    store = (
        MemoryRunStateStore()
        if store_kind == "memory"
        else SqliteRunStateStore(folder / f"growth-{store_kind}.sqlite3")
    )
    plane = await started_plane(store)
    costs = []
    for n in range(1, GROWTH_RUN + 1):
        start = time.perf_counter()
        await plane.trigger("bench", trigger(n))
        costs.append(time.perf_counter() - start)
    await store.close()
    return statistics.median(costs[9:29]), statistics.median(costs[999:1019])


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        floor = _engine_only_rate(TRIGGERS)
        for store_kind in ("memory", "sqlite"):
            rate = asyncio.run(_plane_rate(store_kind, TRIGGERS, folder))
            rows.append(
                {
                    "name": f"triggers/s, control plane + {store_kind} store vs pure engine",
                    "ours": round(rate, 1),
                    "baseline": round(floor, 1),
                    "ratio": round(rate / floor, 3),
                }
            )
        for store_kind in ("memory", "sqlite"):
            early, late = asyncio.run(_growth(store_kind, folder))
            rows.append(
                {
                    "name": f"cost of trigger ~1000 vs ~10 ({store_kind} store; target <= 1.5)",
                    "ours": round(late * 1e6, 1),
                    "baseline": round(early * 1e6, 1),
                    "ratio": round(late / early, 3),
                }
            )
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_rows

    print_rows("control plane", run())
