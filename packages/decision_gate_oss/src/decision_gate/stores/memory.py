"""The in-memory `RunStateStore`: one process, gone at exit (tests, embedding, demos).

It keeps what a durable store keeps — canonical bytes and their SHA-256, never
live objects — so a caller's later mutation cannot leak in, every read is
re-hashed and parsed exactly as from disk, and it passes the same contract
suite as the SQLite store. An `asyncio.Lock` makes each commit's
compare-and-set and append one step; the indexes (decision and gate
evaluations by trigger, packets by decision, submission by id) make lookups
independent of the run's history length.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs

from decision_gate.core.canonical import HashDigest
from decision_gate.core.errors import (
    Conflict,
    NotFound,
    StoreCorrupt,
    StoreError,
    StoreVersionConflict,
)
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    DecisionRecord,
    GateEvalRecord,
    PacketRecord,
    RunState,
    SubmissionRecord,
)
from decision_gate.core.runlog import LogKind, RunDelta, RunHead, RunKey, run_state_from
from decision_gate.stores.integrity import (
    DEFAULT_MAX_STATE_BYTES,
    StoredRecord,
    check_delta,
    decode_head,
    decode_record,
    decode_scenario,
    encode_scenario,
    first_position,
    record_keys,
    run_problems,
)

__all__ = ["MemoryRunStateStore"]


@attrs.define
class _StoredRun:
    version: int
    head: bytes
    head_sha256: str
    records: list[StoredRecord] = attrs.Factory(list)
    by_kind: dict[LogKind, list[int]] = attrs.Factory(lambda: {kind: [] for kind in LogKind})
    decision_by_trigger: dict[str, int] = attrs.Factory(dict)
    gate_evals_by_trigger: dict[str, list[int]] = attrs.Factory(dict)
    packets_by_decision: dict[str, list[int]] = attrs.Factory(dict)
    submission_by_id: dict[str, int] = attrs.Factory(dict)


class MemoryRunStateStore:
    """Runs and scenario definitions in a dict of canonical bytes."""

    def __init__(self, *, max_state_bytes: int = DEFAULT_MAX_STATE_BYTES) -> None:
        self._max_state_bytes = max_state_bytes
        self._runs: dict[RunKey, _StoredRun] = {}
        self._scenarios: dict[str, tuple[bytes, str]] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise StoreError("run-state store is closed")

    def _head(self, key: RunKey) -> tuple[_StoredRun, RunHead] | None:
        self._open()
        run = self._runs.get(key)
        if run is None:
            return None
        return run, decode_head(key, run.version, run.head, run.head_sha256)

    async def load_head(self, key: RunKey) -> RunHead | None:
        found = self._head(key)
        return None if found is None else found[1]

    async def commit(self, delta: RunDelta) -> None:
        head_bytes, head_sha256 = check_delta(delta, self._max_state_bytes)
        key = delta.head.key
        async with self._lock:
            self._open()
            run = self._runs.get(key)
            stored_version = 0 if run is None else run.version
            if stored_version != delta.previous_version:
                raise StoreVersionConflict(f"run {key}: version conflict")
            if run is None:
                run = _StoredRun(version=0, head=b"", head_sha256="")
            if len(run.records) + 1 != first_position(delta):
                raise StoreError(f"run {key}: delta does not continue the stored logs")
            appended = [
                (
                    StoredRecord(record.kind, record.seq, record.canonical, record.digest.value),
                    record_keys(record),
                )
                for record in delta.records
            ]
            # Nothing below can fail, so a refused delta leaves no trace.
            for stored, keys in appended:
                index = len(run.records)
                run.records.append(stored)
                run.by_kind[stored.kind].append(index)
                if keys.trigger_id is not None and stored.kind is LogKind.DECISIONS:
                    run.decision_by_trigger.setdefault(keys.trigger_id, index)
                if keys.trigger_id is not None and stored.kind is LogKind.GATE_EVALS:
                    run.gate_evals_by_trigger.setdefault(keys.trigger_id, []).append(index)
                if keys.decision_id is not None:
                    run.packets_by_decision.setdefault(keys.decision_id, []).append(index)
                if keys.submission_id is not None:
                    run.submission_by_id.setdefault(keys.submission_id, index)
            run.version, run.head, run.head_sha256 = delta.head.version, head_bytes, head_sha256
            self._runs[key] = run

    def _record(self, key: RunKey, run: _StoredRun, index: int) -> Any:
        return decode_record(key, run.records[index])

    async def find_decision(self, key: RunKey, trigger_id: str) -> DecisionRecord | None:
        self._open()
        run = self._runs.get(key)
        index = None if run is None else run.decision_by_trigger.get(trigger_id)
        if run is None or index is None:
            return None
        decision: DecisionRecord = self._record(key, run, index)
        if decision.trigger_id != trigger_id:
            raise StoreCorrupt(f"run {key}: decision index does not match its record")
        return decision

    async def gate_evals_for_trigger(
        self, key: RunKey, trigger_id: str
    ) -> tuple[GateEvalRecord, ...]:
        self._open()
        run = self._runs.get(key)
        if run is None:
            return ()
        gate_evals = tuple(
            self._record(key, run, index) for index in run.gate_evals_by_trigger.get(trigger_id, ())
        )
        if any(gate_eval.trigger_id != trigger_id for gate_eval in gate_evals):
            raise StoreCorrupt(f"run {key}: gate evaluation index does not match its record")
        return gate_evals

    async def packets_for_decision(self, key: RunKey, decision_id: str) -> tuple[PacketRecord, ...]:
        self._open()
        run = self._runs.get(key)
        if run is None:
            return ()
        packets = tuple(
            self._record(key, run, index) for index in run.packets_by_decision.get(decision_id, ())
        )
        if any(packet.decision_id != decision_id for packet in packets):
            raise StoreCorrupt(f"run {key}: packet index does not match its record")
        return packets

    async def find_submission(self, key: RunKey, submission_id: str) -> SubmissionRecord | None:
        self._open()
        run = self._runs.get(key)
        index = None if run is None else run.submission_by_id.get(submission_id)
        if run is None or index is None:
            return None
        submission: SubmissionRecord = self._record(key, run, index)
        if submission.submission_id != submission_id:
            raise StoreCorrupt(f"run {key}: submission index does not match its record")
        return submission

    async def packet_ids(self, key: RunKey) -> tuple[str, ...]:
        return tuple(
            [packet.envelope.packet_id async for packet in self.read_log(key, LogKind.PACKETS)]
        )

    async def read_log(self, key: RunKey, kind: LogKind) -> AsyncIterator[Any]:
        found = self._head(key)
        if found is None:
            return
        run, head = found
        for index in run.by_kind[kind][: head.counts.of(kind)]:
            yield decode_record(key, run.records[index])

    async def verify_run(self, key: RunKey) -> list[str]:
        self._open()
        run = self._runs.get(key)
        if run is None:
            raise NotFound(f"run not found: {key}")
        try:
            head = decode_head(key, run.version, run.head, run.head_sha256)
        except StoreCorrupt as error:
            return [str(error)]
        return run_problems(head, list(run.records))

    async def load_state(self, key: RunKey) -> RunState | None:
        found = self._head(key)
        if found is None:
            return None
        run, head = found
        records = list(run.records)
        problems = run_problems(head, records)
        if problems:
            raise StoreCorrupt(f"run {key}: {problems[0]}")
        logs: dict[LogKind, list[Any]] = {kind: [] for kind in LogKind}
        for stored in records:
            logs[stored.kind].append(decode_record(key, stored))
        return run_state_from(head, {kind: tuple(values) for kind, values in logs.items()})

    async def define_scenario(self, spec_json: JsonValue, spec_hash: HashDigest) -> bool:
        scenario_id, canonical = encode_scenario(spec_json, spec_hash)
        if len(canonical) > self._max_state_bytes:
            raise StoreError(f"scenario {scenario_id}: definition exceeds size limit")
        async with self._lock:
            self._open()
            stored = self._scenarios.get(scenario_id)
            if stored is not None:
                decode_scenario(scenario_id, *stored)
                if stored[1] != spec_hash.value:
                    raise Conflict("scenario already defined")
                return False
            self._scenarios[scenario_id] = (canonical, spec_hash.value)
            return True

    async def get_scenario(self, scenario_id: str) -> tuple[JsonValue, HashDigest] | None:
        self._open()
        stored = self._scenarios.get(scenario_id)
        return None if stored is None else decode_scenario(scenario_id, *stored)

    async def list_scenarios(self) -> list[tuple[str, HashDigest]]:
        self._open()
        return [
            (scenario_id, decode_scenario(scenario_id, *self._scenarios[scenario_id])[1])
            for scenario_id in sorted(self._scenarios)
        ]

    async def list_runs(self) -> list[RunKey]:
        self._open()
        return sorted(self._runs)

    async def readiness(self) -> None:
        self._open()

    async def close(self) -> None:
        self._closed = True
