"""What only the SQLite run-state store can show: tampering with the file
fails closed, commits are atomic across connections, processes and crashes,
state and scenarios survive a restart, the schema version is enforced, and a
commit's work does not grow with the run's history."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from decision_gate.core.canonical import sha256_hex
from decision_gate.core.errors import StoreCorrupt, StoreError, StoreVersionConflict
from decision_gate.core.runlog import LogKind, RunHead, RunKey, append_records
from decision_gate.stores import SqliteRunStateStore
from decision_gate.stores.sqlite import SCHEMA_VERSION
from decision_gate.testing.run_state_store import (
    apply,
    collect,
    create_run,
    fresh_head,
    scenario_hash,
    scenario_json,
    submission_record,
    trigger_delta,
)

WORKER = Path(__file__).with_name("sqlite_store_worker.py")
SECRET = "do-not-leak-7f3a"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> Any:
    opened = SqliteRunStateStore(db_path)
    yield opened
    await opened.close()


async def run_with_history(store: SqliteRunStateStore, triggers: int = 3) -> RunHead:
    head = await create_run(store)
    for n in range(triggers):
        head = await apply(store, trigger_delta(head, f"t-{n}", [f"p-{n}"]))
    return head


def raw(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Edit the file behind the store's back, as an attacker or a broken disk would."""
    with sqlite3.connect(db_path, isolation_level=None) as connection:
        rows = connection.execute(sql, params).fetchall()
    connection.close()
    return rows


def record_row(db_path: Path, kind: str, seq: int) -> tuple[int, bytes]:
    [(position, record_json)] = raw(
        db_path,
        "SELECT position, record_json FROM run_records WHERE kind = ? AND seq = ?",
        (kind, seq),
    )
    return position, record_json


# --------------------------------------------------------------------------- tampering


async def test_a_tampered_head_row_fails_every_read_of_the_run(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    raw(
        db_path,
        "UPDATE run_heads SET head_json = CAST(replace(head_json, 'stage-1', 'stage-9') AS BLOB)",
    )
    with pytest.raises(StoreCorrupt, match="run 1/1/run-1 head: hash mismatch"):
        await store.load_head(head.key)
    with pytest.raises(StoreCorrupt):
        await store.load_state(head.key)
    with pytest.raises(StoreCorrupt):
        await collect(store, head.key, LogKind.DECISIONS)
    assert await store.verify_run(head.key) == ["run 1/1/run-1 head: hash mismatch"]


async def test_a_tampered_record_row_fails_lookups_streams_and_full_reads(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    position, record_json = record_row(db_path, "decisions", 2)
    forged = record_json.replace(b'"hold"', b'"pass"')
    raw(db_path, "UPDATE run_records SET record_json = ? WHERE position = ?", (forged, position))
    with pytest.raises(StoreCorrupt, match="decisions record 2: hash mismatch"):
        await store.find_decision(head.key, "t-1")
    with pytest.raises(StoreCorrupt):
        await collect(store, head.key, LogKind.DECISIONS)
    with pytest.raises(StoreCorrupt):
        await store.load_state(head.key)
    assert await store.verify_run(head.key) == ["decisions record 2: hash mismatch"]
    assert await store.find_decision(head.key, "t-0") is not None


async def test_a_record_rewritten_with_a_matching_hash_breaks_the_chain(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    position, record_json = record_row(db_path, "decisions", 2)
    forged = record_json.replace(b'"hold"', b'"pass"')
    raw(
        db_path,
        "UPDATE run_records SET record_json = ?, record_hash = ? WHERE position = ?",
        (forged, sha256_hex(forged), position),
    )
    assert await store.verify_run(head.key) == ["log digest does not match the run head"]
    with pytest.raises(StoreCorrupt, match="log digest does not match"):
        await store.load_state(head.key)


async def test_a_record_row_that_is_not_json_is_corrupt(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    position, _ = record_row(db_path, "decisions", 1)
    garbage = b"{not json"
    raw(
        db_path,
        "UPDATE run_records SET record_json = ?, record_hash = ? WHERE position = ?",
        (garbage, sha256_hex(garbage), position),
    )
    with pytest.raises(StoreCorrupt, match="decisions record 1: stored bytes are not JSON"):
        await store.find_decision(head.key, "t-0")


async def test_a_record_row_that_is_json_of_the_wrong_shape_is_corrupt(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    position, _ = record_row(db_path, "packets", 1)
    wrong = b'{"decision_id":"decision-1"}'
    raw(
        db_path,
        "UPDATE run_records SET record_json = ?, record_hash = ? WHERE position = ?",
        (wrong, sha256_hex(wrong), position),
    )
    with pytest.raises(StoreCorrupt, match="packets record 1: stored value does not parse"):
        await store.packets_for_decision(head.key, "decision-1")


async def test_a_tampered_scenario_row_fails_get_and_list(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    spec = scenario_json("scenario-a")
    await store.define_scenario(spec, scenario_hash(spec))
    raw(
        db_path,
        "UPDATE scenarios SET spec_json = CAST(replace(spec_json, '\"1\"', '\"2\"') AS BLOB)",
    )
    with pytest.raises(StoreCorrupt, match="scenario scenario-a: hash mismatch"):
        await store.get_scenario("scenario-a")
    with pytest.raises(StoreCorrupt):
        await store.list_scenarios()


async def test_a_deleted_record_row_is_reported_and_fails_full_reads(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    position, _ = record_row(db_path, "triggers", 2)
    raw(db_path, "DELETE FROM run_records WHERE position = ?", (position,))
    assert await store.verify_run(head.key) == ["triggers record 3 is out of sequence (expected 2)"]
    with pytest.raises(StoreCorrupt):
        await store.load_state(head.key)
    with pytest.raises(StoreCorrupt, match="triggers record 2 is missing"):
        await collect(store, head.key, LogKind.TRIGGERS)


async def test_swapped_record_positions_are_reported_and_fail_full_reads(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    first, _ = record_row(db_path, "decisions", 1)
    second, _ = record_row(db_path, "decisions", 2)
    for old, new in ((first, 10**6), (second, first), (10**6, second)):
        raw(db_path, "UPDATE run_records SET position = ? WHERE position = ?", (new, old))
    assert await store.verify_run(head.key) == [
        "decisions record 2 is out of sequence (expected 1)"
    ]
    with pytest.raises(StoreCorrupt):
        await store.load_state(head.key)


async def test_corruption_messages_name_the_run_never_the_content(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await create_run(store)
    head = await apply(
        store, append_records(head, [(LogKind.SUBMISSIONS, submission_record("s-1", SECRET))])
    )
    raw(
        db_path,
        "UPDATE run_records SET record_json = CAST(replace(record_json, ?, 'x') AS BLOB)",
        (SECRET,),
    )
    with pytest.raises(StoreCorrupt) as caught:
        await store.find_submission(head.key, "s-1")
    assert "1/1/run-1" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert all(SECRET not in problem for problem in await store.verify_run(head.key))


async def test_a_head_row_naming_another_run_is_corrupt(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    await create_run(store, fresh_head("run-1"))
    await create_run(store, fresh_head("run-2"))
    [(other_json, other_hash)] = raw(
        db_path, "SELECT head_json, head_hash FROM run_heads WHERE run_id = 'run-2'"
    )
    raw(
        db_path,
        "UPDATE run_heads SET head_json = ?, head_hash = ? WHERE run_id = 'run-1'",
        (other_json, other_hash),
    )
    with pytest.raises(StoreCorrupt, match="names another run"):
        await store.load_head(fresh_head("run-1").key)


async def test_a_tampered_record_count_fails_the_head(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    raw(db_path, "UPDATE run_heads SET record_count = record_count - 1")
    with pytest.raises(StoreCorrupt, match="record count does not match"):
        await store.load_head(head.key)


# --------------------------------------------------------------------------- atomicity


async def test_two_connections_committing_from_one_version_have_exactly_one_winner(
    db_path: Path,
) -> None:
    first, second = SqliteRunStateStore(db_path), SqliteRunStateStore(db_path)
    try:
        head = await create_run(first)
        await second.readiness()
        outcomes = await asyncio.gather(
            first.commit(trigger_delta(head, "t-first")),
            second.commit(trigger_delta(head, "t-second")),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "StoreVersionConflict"]
        stored = await second.load_head(head.key)
        assert stored is not None
        assert stored.version == 2
        assert await first.verify_run(head.key) == []
    finally:
        await first.close()
        await second.close()


def test_two_processes_racing_on_one_file_never_both_win(db_path: Path) -> None:
    attempts = 50

    async def create() -> RunKey:
        store = SqliteRunStateStore(db_path)
        head = await create_run(store)
        await store.close()
        return head.key

    key = asyncio.run(create())
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "race", str(db_path), key.run_id, name, str(attempts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=WORKER.parent,
        )
        for name in ("a", "b")
    ]
    results = []
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, _ = worker.communicate(timeout=120)
            assert worker.returncode == 0
            results.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    async def check() -> tuple[RunHead | None, list[str]]:
        store = SqliteRunStateStore(db_path)
        try:
            return await store.load_head(key), await store.verify_run(key)
        finally:
            await store.close()

    head, problems = asyncio.run(check())
    won = sum(result["won"] for result in results)
    assert sum(result["won"] + result["lost"] for result in results) == 2 * attempts
    assert head is not None
    assert head.version == 1 + won
    assert head.counts.triggers == won
    assert problems == []


def test_a_process_killed_inside_a_commit_leaves_the_previous_version(db_path: Path) -> None:
    async def prepare() -> RunHead:
        store = SqliteRunStateStore(db_path)
        head = await run_with_history(store, triggers=1)
        await store.close()
        return head

    before = asyncio.run(prepare())
    crashed = subprocess.run(
        [sys.executable, str(WORKER), "crash", str(db_path), before.run_id],
        cwd=WORKER.parent,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == 17

    async def reopen() -> tuple[RunHead | None, list[str], Any]:
        store = SqliteRunStateStore(db_path)
        try:
            return (
                await store.load_head(before.key),
                await store.verify_run(before.key),
                await store.find_decision(before.key, "t-crash"),
            )
        finally:
            await store.close()

    assert asyncio.run(reopen()) == (before, [], None)


async def test_a_refused_commit_writes_no_rows(store: SqliteRunStateStore, db_path: Path) -> None:
    head = await run_with_history(store)
    rows_before = raw(db_path, "SELECT count(*) FROM run_records")
    with pytest.raises(StoreVersionConflict):
        await store.commit(
            trigger_delta(attrs.evolve(head, version=head.version - 1), "t-late", ["p"])
        )
    assert raw(db_path, "SELECT count(*) FROM run_records") == rows_before


# --------------------------------------------------------------------------- durability


async def test_runs_and_scenarios_survive_closing_and_reopening(db_path: Path) -> None:
    spec = scenario_json("scenario-a")
    first = SqliteRunStateStore(db_path)
    head = await run_with_history(first)
    await first.define_scenario(spec, scenario_hash(spec))
    state = await first.load_state(head.key)
    await first.close()

    reopened = SqliteRunStateStore(db_path)
    try:
        assert await reopened.load_head(head.key) == head
        assert await reopened.load_state(head.key) == state
        assert await reopened.get_scenario("scenario-a") == (spec, scenario_hash(spec))
        assert await reopened.list_runs() == [head.key]
        assert await reopened.define_scenario(spec, scenario_hash(spec)) is False
        await apply(reopened, trigger_delta(head, "t-after-restart"))
    finally:
        await reopened.close()


async def test_delete_journal_mode_and_normal_sync_are_supported(db_path: Path) -> None:
    store = SqliteRunStateStore(db_path, journal_mode="delete", synchronous="normal")
    try:
        head = await run_with_history(store, triggers=1)
        assert await store.verify_run(head.key) == []
    finally:
        await store.close()
    assert raw(db_path, "PRAGMA journal_mode") == [("delete",)]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("journal_mode", "memory"),
        ("synchronous", "off"),
        ("busy_timeout_ms", -1),
        ("max_state_bytes", 0),
    ],
)
def test_unsupported_options_are_refused(db_path: Path, option: str, value: Any) -> None:
    with pytest.raises(StoreError, match=option):
        SqliteRunStateStore(db_path, **{option: value})


# --------------------------------------------------------------------------- opening files


async def test_a_database_from_an_unknown_schema_version_is_refused(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    await store.readiness()
    await store.close()
    raw(db_path, "UPDATE store_meta SET version = ?", (SCHEMA_VERSION + 1,))
    newer = SqliteRunStateStore(db_path)
    with pytest.raises(StoreError, match=f"unsupported schema version: {SCHEMA_VERSION + 1}"):
        await newer.readiness()
    await newer.close()


def as_version_1_file(db_path: Path) -> None:
    """Turn a current file into the layout version 1 wrote: no gate-evaluation index,
    no trigger id on gate-evaluation rows."""
    raw(db_path, "DROP INDEX run_gate_evals_by_trigger")
    raw(db_path, "UPDATE run_records SET trigger_id = NULL WHERE kind = 'gate_evals'")
    raw(db_path, "UPDATE store_meta SET version = 1")


async def test_a_version_1_file_is_migrated_and_finds_its_gate_evaluations_by_trigger(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await create_run(store)
    head = await apply(store, trigger_delta(head, "t-1", gate_ids=["g-b", "g-a"]))
    head = await apply(store, trigger_delta(head, "t-2"))
    before = await store.gate_evals_for_trigger(head.key, "t-1")
    await store.close()
    as_version_1_file(db_path)

    migrated = SqliteRunStateStore(db_path)
    try:
        assert await migrated.gate_evals_for_trigger(head.key, "t-1") == before
        assert [e.evaluation.gate_id for e in before] == ["g-b", "g-a"]
        assert len(await migrated.gate_evals_for_trigger(head.key, "t-2")) == 1
        assert await migrated.verify_run(head.key) == []
    finally:
        await migrated.close()
    assert raw(db_path, "SELECT version FROM store_meta") == [(SCHEMA_VERSION,)]


async def test_a_version_1_file_with_a_damaged_gate_evaluation_opens_and_fails_closed_on_it(
    store: SqliteRunStateStore, db_path: Path
) -> None:
    head = await run_with_history(store)
    await store.close()
    as_version_1_file(db_path)
    position, _ = record_row(db_path, "gate_evals", 1)
    raw(db_path, "UPDATE run_records SET record_json = ? WHERE position = ?", (b"{", position))

    migrated = SqliteRunStateStore(db_path)
    try:
        assert len(await migrated.gate_evals_for_trigger(head.key, "t-1")) == 1
        assert await migrated.gate_evals_for_trigger(head.key, "t-0") == ()
        with pytest.raises(StoreCorrupt):
            await collect(migrated, head.key, LogKind.GATE_EVALS)
        assert await migrated.verify_run(head.key) != []
    finally:
        await migrated.close()


async def test_a_reference_implementation_database_is_refused(db_path: Path) -> None:
    raw(db_path, "CREATE TABLE store_meta (version INTEGER)")
    raw(db_path, "INSERT INTO store_meta (version) VALUES (4)")
    store = SqliteRunStateStore(db_path)
    with pytest.raises(StoreError, match="unsupported schema version: 4"):
        await store.readiness()
    await store.close()


async def test_a_database_of_another_application_is_refused(db_path: Path) -> None:
    raw(db_path, "CREATE TABLE notes (body TEXT)")
    store = SqliteRunStateStore(db_path)
    with pytest.raises(StoreError, match="not a decision-gate run-state database"):
        await store.readiness()
    await store.close()
    assert raw(db_path, "SELECT name FROM sqlite_master") == [("notes",)]


async def test_a_file_that_is_not_a_database_fails_closed(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an sqlite file" * 200)
    store = SqliteRunStateStore(db_path)
    with pytest.raises(StoreCorrupt, match="not a database"):
        await store.readiness()
    await store.close()


async def test_a_truncated_database_file_fails_closed(db_path: Path) -> None:
    store = SqliteRunStateStore(db_path, journal_mode="delete")
    runs = [await run_with_history_named(store, f"run-{n}") for n in range(20)]
    expected = {head.key: await store.load_state(head.key) for head in runs}
    await store.close()
    content = db_path.read_bytes()
    db_path.write_bytes(content[: len(content) // 2])

    truncated = SqliteRunStateStore(db_path, journal_mode="delete")
    outcomes: list[object] = []
    for key, state in expected.items():
        try:
            outcomes.append(await truncated.load_state(key) == state)
        except StoreError as error:
            outcomes.append(error)
    await truncated.close()
    assert all(outcome is True or isinstance(outcome, StoreError) for outcome in outcomes)
    assert any(isinstance(outcome, StoreError) for outcome in outcomes)


async def run_with_history_named(store: SqliteRunStateStore, run_id: str) -> RunHead:
    head = await create_run(store, fresh_head(run_id))
    for n in range(5):
        head = await apply(store, trigger_delta(head, f"t-{n}", [f"p-{n}" * 50]))
    return head


async def test_a_missing_parent_directory_is_a_clear_error(tmp_path: Path) -> None:
    store = SqliteRunStateStore(tmp_path / "absent" / "runs.sqlite3")
    with pytest.raises(StoreError, match="directory does not exist"):
        await store.readiness()
    await store.close()
    assert not (tmp_path / "absent").exists()


async def test_a_directory_path_is_a_clear_error(tmp_path: Path) -> None:
    store = SqliteRunStateStore(tmp_path)
    with pytest.raises(StoreError, match="is a directory"):
        await store.readiness()
    await store.close()


# --------------------------------------------------------------------------- size limits


async def test_a_record_over_the_size_limit_is_refused_before_anything_is_written(
    db_path: Path,
) -> None:
    store = SqliteRunStateStore(db_path, max_state_bytes=4096)
    try:
        head = await create_run(store)
        big = append_records(head, [(LogKind.SUBMISSIONS, submission_record("s-1", "x" * 5000))])
        with pytest.raises(StoreError, match="exceeds size limit"):
            await store.commit(big)
        assert await store.load_head(head.key) == head
    finally:
        await store.close()


async def test_a_stored_record_over_the_size_limit_is_refused_on_read(db_path: Path) -> None:
    writer = SqliteRunStateStore(db_path)
    head = await create_run(writer)
    head = await apply(
        writer,
        append_records(head, [(LogKind.SUBMISSIONS, submission_record("s-1", "x" * 5000))]),
    )
    await writer.close()
    reader = SqliteRunStateStore(db_path, max_state_bytes=4096)
    try:
        with pytest.raises(StoreError, match="exceeds size limit"):
            await reader.find_submission(head.key, "s-1")
    finally:
        await reader.close()


# --------------------------------------------------------------------------- cost per trigger


class WorkLog:
    """The SQL statements and SQLite VM steps the store runs, since the last `take`.

    VM steps are what a query's cost is made of: a B-tree probe is a constant
    number of them, while walking a run's records costs steps per record."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.steps = 0

    def attach(self, connection: sqlite3.Connection) -> None:
        connection.set_trace_callback(self.statements.append)
        connection.set_progress_handler(self._step, 1)

    def _step(self) -> int:
        self.steps += 1
        return 0

    def take(self) -> tuple[list[str], int]:
        taken = (self.statements.copy(), self.steps)
        self.statements.clear()
        self.steps = 0
        return taken


def query_plans(db_path: Path, statements: list[str]) -> Iterator[str]:
    """SQLite's plan for every row-reading statement (a `SCAN` reads a whole table)."""
    with sqlite3.connect(db_path) as connection:
        for statement in statements:
            text = statement.strip()
            if text.split()[0].upper() in {"SELECT", "UPDATE", "DELETE"}:
                for row in connection.execute(f"EXPLAIN QUERY PLAN {text}"):
                    yield str(row[3])
    connection.close()


async def test_the_work_of_a_trigger_does_not_grow_with_the_runs_history(db_path: Path) -> None:
    work = WorkLog()
    store = SqliteRunStateStore(db_path, synchronous="normal", on_connect=work.attach)
    try:
        head = await create_run(store)
        per_trigger: list[tuple[list[str], int]] = []
        for n in range(1000):
            work.take()
            loaded = await store.load_head(head.key)
            assert loaded is not None
            assert await store.find_decision(head.key, f"t-{n}") is None
            head = await apply(store, trigger_delta(loaded, f"t-{n}", [f"p-{n}"]))
            per_trigger.append(work.take())
        assert await store.find_decision(head.key, "t-0") is not None
        early_lookup = work.take()
        assert await store.find_decision(head.key, "t-999") is not None
        late_lookup = work.take()
        assert len(await store.gate_evals_for_trigger(head.key, "t-0")) == 1
        early_gate_evals = work.take()
        # Not the last trigger id in index order: the probe of any other one also
        # steps onto the next entry to see that it belongs to another trigger.
        assert len(await store.gate_evals_for_trigger(head.key, "t-998")) == 1
        late_gate_evals = work.take()
    finally:
        await store.close()

    statements, steps = zip(*per_trigger, strict=True)
    assert {len(s) for s in statements} == {len(statements[0])}
    assert set(steps) == {steps[0]}
    assert len(early_lookup[0]) == len(late_lookup[0])
    assert early_lookup[1] == late_lookup[1]
    assert len(early_gate_evals[0]) == len(late_gate_evals[0])
    assert early_gate_evals[1] == late_gate_evals[1]
    plans = list(query_plans(db_path, statements[-1] + late_lookup[0] + late_gate_evals[0]))
    assert plans
    assert not [plan for plan in plans if plan.startswith("SCAN")]
