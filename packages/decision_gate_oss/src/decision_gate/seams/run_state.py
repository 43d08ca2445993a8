"""The run-state store seam: where runs (a head plus six append-only logs) and
scenario definitions live between calls.

A run is persisted as `core.runlog` designs it: a constant-size `RunHead` and
records appended in chain order. The control plane loads the head, asks the
core for a `RunDelta` and commits it; nothing on that path reads or rewrites
the run's history, so the cost of a trigger is the cost of what it adds.

Invariants every implementation keeps (the contract suite pins them down):
- Integrity fails closed. Heads, records and scenarios are stored as canonical
  JSON bytes with their SHA-256; every read re-hashes the bytes it returns and
  raises `StoreCorrupt` on a mismatch or on bytes that no longer parse. Error
  messages name the run or scenario, never stored content.
- `commit` is one compare-and-set on the head version: of two writers holding
  the same version exactly one wins, the other gets `StoreVersionConflict`
  and nothing of its delta is stored.
- Logs are append-only and read back in chain order (a per-run position).
- Scenario definitions are durable (they survive a restart, unlike the
  reference) and immutable: a scenario id is bound to one spec hash for good.

All methods are coroutines; implementations that block (SQLite) do so off the
event loop. Failures of the backing medium raise `StoreError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from decision_gate.core.canonical import HashDigest
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    DecisionRecord,
    GateEvalRecord,
    PacketRecord,
    RunState,
    SubmissionRecord,
)
from decision_gate.core.runlog import LogKind, RunDelta, RunHead, RunKey

__all__ = ["RunStateStore"]


@runtime_checkable
class RunStateStore(Protocol):
    """Durable, tamper-evident storage of runs and scenario definitions."""

    async def load_head(self, key: RunKey) -> RunHead | None:
        """The current head of `key`, or None if the run does not exist.

        The stored head bytes are re-hashed (`StoreCorrupt` on mismatch) and the
        head must name `key` and carry the stored version.
        """
        ...

    async def commit(self, delta: RunDelta) -> None:
        """Append `delta.records` and replace the head, all or nothing.

        Compare-and-set: if the stored version of `delta.head.key` is not
        `delta.previous_version` raise `StoreVersionConflict`. A
        `previous_version` of 0 creates the run, so committing it for a run
        that already exists is a `StoreVersionConflict` too (the control plane
        reports "run already exists"). A delta that is not self-consistent (the
        head version is not `previous_version + 1`, record digests do not match
        their bytes, sequence numbers do not end at the head's counts, the
        records would not follow the stored ones) is refused with `StoreError`
        and nothing is written. The work done is proportional to the delta,
        never to the run's history.
        """
        ...

    async def find_decision(self, key: RunKey, trigger_id: str) -> DecisionRecord | None:
        """The first decision of the run taken for `trigger_id` (indexed, not a scan)."""
        ...

    async def gate_evals_for_trigger(
        self, key: RunKey, trigger_id: str
    ) -> tuple[GateEvalRecord, ...]:
        """The gate evaluations recorded for `trigger_id`, in chain order (indexed, not a scan).

        A replayed trigger appends none: this is how `scenario_next` feedback
        finds the ones its deciding call recorded. Empty for an unknown run
        or trigger.
        """
        ...

    async def packets_for_decision(self, key: RunKey, decision_id: str) -> tuple[PacketRecord, ...]:
        """The packets issued by decision `decision_id`, in chain order."""
        ...

    async def find_submission(self, key: RunKey, submission_id: str) -> SubmissionRecord | None:
        """The first submission of the run with `submission_id` (indexed, not a scan)."""
        ...

    async def packet_ids(self, key: RunKey) -> tuple[str, ...]:
        """The ids of every packet the run issued, in chain order (empty for an unknown run)."""
        ...

    def read_log(self, key: RunKey, kind: LogKind) -> AsyncIterator[Any]:
        """Stream one log's records in sequence order, each re-hashed and parsed.

        The stream is the log as of the head read when iteration starts:
        records a concurrent commit appends later are not included. An unknown
        run yields nothing.
        """
        ...

    async def verify_run(self, key: RunKey) -> list[str]:
        """Re-check every record hash and replay the head's chain over the records.

        Returns the problems found, empty when the run is intact. Raises
        `NotFound` for an unknown run (an empty list would claim it is intact).
        """
        ...

    async def load_state(self, key: RunKey) -> RunState | None:
        """The run's full `RunState` view (export, status tools), or None if unknown.

        Reads one consistent version, verifies every record and the chain;
        any problem raises `StoreCorrupt`. Cost grows with the history: keep
        it off the trigger path.
        """
        ...

    async def define_scenario(self, spec_json: JsonValue, spec_hash: HashDigest) -> bool:
        """Store a scenario definition (the wire form of a `ScenarioSpec`).

        `spec_hash` must be the hash of the canonical JSON of `spec_json`
        (else `StoreError`). Returns True when newly stored, False when the
        same scenario id is already stored with the same hash; a different
        hash raises `Conflict("scenario already defined")`.
        """
        ...

    async def get_scenario(self, scenario_id: str) -> tuple[JsonValue, HashDigest] | None:
        """The stored definition and its hash (re-checked), or None if undefined."""
        ...

    async def list_scenarios(self) -> list[tuple[str, HashDigest]]:
        """Every defined scenario id with its spec hash (re-checked), sorted by id."""
        ...

    async def list_runs(self) -> list[RunKey]:
        """Every stored run's key, sorted."""
        ...

    async def readiness(self) -> None:
        """Return when the store can serve requests; raise `StoreError` otherwise."""
        ...

    async def close(self) -> None:
        """Release resources; idempotent. Every later call raises `StoreError`."""
        ...
