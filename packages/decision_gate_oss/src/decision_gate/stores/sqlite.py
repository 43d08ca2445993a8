"""The SQLite `RunStateStore`: runs and scenario definitions in one durable file.

Layout (schema version 2, in `store_meta`): `run_heads` holds one row per run
(version, canonical head JSON and its SHA-256, record count); `run_records`
holds every appended record once, at its chain position, with its canonical
JSON and SHA-256 and the identifiers the control plane looks records up by
(decisions and gate evaluations by trigger id, packets by decision id,
submissions by id; partial indexes per log, so a lookup is one index probe;
version 2 added the gate-evaluation index and fills its column for the
records a version 1 file already holds); `scenarios` holds
definitions, which survive restarts. Ids are TEXT because tenant and namespace
ids range over u64, beyond SQLite's signed INTEGER.

A commit is one `BEGIN IMMEDIATE` transaction: a compare-and-set
`UPDATE run_heads ... WHERE version = ? AND record_count = ?` (or an
`INSERT ... ON CONFLICT DO NOTHING` for a new run) whose row count decides the
winner, then one insert per appended record. It never reads or rewrites older
records, so its cost does not grow with the run's history. Every read
re-hashes the bytes it returns (`integrity`). The reference's per-save state
versions (and their pruning) have no counterpart: the logs are the history.

One connection per store, used by one worker thread at a time
(`decision_gate.sqlite_file`, shared with the SQLite schema registry). Several
processes share a file through
WAL and the busy timeout; `BEGIN IMMEDIATE` takes the write lock up front so
two writers never both read a version and then race to write it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

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
from decision_gate.core.runlog import (
    AppendedRecord,
    LogKind,
    RunDelta,
    RunHead,
    RunKey,
    run_state_from,
)
from decision_gate.sqlite_file import SqliteFile, transaction
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

__all__ = ["SCHEMA_VERSION", "SqliteRunStateStore"]

_T = TypeVar("_T")

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 0 -> 1: the first layout.
    (
        "CREATE TABLE store_meta (version INTEGER NOT NULL)",
        "INSERT INTO store_meta (version) VALUES (0)",
        """CREATE TABLE run_heads (
            tenant_id    TEXT NOT NULL,
            namespace_id TEXT NOT NULL,
            run_id       TEXT NOT NULL,
            version      INTEGER NOT NULL CHECK (version >= 1),
            record_count INTEGER NOT NULL CHECK (record_count >= 0),
            head_json    BLOB NOT NULL,
            head_hash    TEXT NOT NULL,
            PRIMARY KEY (tenant_id, namespace_id, run_id)
        )""",
        """CREATE TABLE run_records (
            tenant_id     TEXT NOT NULL,
            namespace_id  TEXT NOT NULL,
            run_id        TEXT NOT NULL,
            position      INTEGER NOT NULL CHECK (position >= 1),
            kind          TEXT NOT NULL,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            record_json   BLOB NOT NULL,
            record_hash   TEXT NOT NULL,
            trigger_id    TEXT,
            decision_id   TEXT,
            submission_id TEXT,
            PRIMARY KEY (tenant_id, namespace_id, run_id, position),
            FOREIGN KEY (tenant_id, namespace_id, run_id)
                REFERENCES run_heads (tenant_id, namespace_id, run_id) ON DELETE CASCADE
        )""",
        """CREATE UNIQUE INDEX run_records_by_log
            ON run_records (tenant_id, namespace_id, run_id, kind, seq)""",
        """CREATE INDEX run_decisions_by_trigger
            ON run_records (tenant_id, namespace_id, run_id, trigger_id, position)
            WHERE kind = 'decisions'""",
        """CREATE INDEX run_packets_by_decision
            ON run_records (tenant_id, namespace_id, run_id, decision_id, position)
            WHERE kind = 'packets'""",
        """CREATE INDEX run_submissions_by_id
            ON run_records (tenant_id, namespace_id, run_id, submission_id, position)
            WHERE kind = 'submissions'""",
        """CREATE TABLE scenarios (
            scenario_id TEXT PRIMARY KEY,
            spec_json   BLOB NOT NULL,
            spec_hash   TEXT NOT NULL
        )""",
    ),
    # 1 -> 2: gate evaluations by trigger id (`scenario_next` feedback on a replay).
    # A record whose bytes are not JSON keeps no trigger id; reading it fails closed.
    (
        """UPDATE run_records
            SET trigger_id = json_extract(CAST(record_json AS TEXT), '$.trigger_id')
            WHERE kind = 'gate_evals' AND json_valid(CAST(record_json AS TEXT))""",
        """CREATE INDEX run_gate_evals_by_trigger
            ON run_records (tenant_id, namespace_id, run_id, trigger_id, position)
            WHERE kind = 'gate_evals'""",
    ),
)
"""`_MIGRATIONS[n]` takes a database from schema version n to n + 1, in one transaction."""

SCHEMA_VERSION: Final = len(_MIGRATIONS)

_JOURNAL_MODES: Final = frozenset({"wal", "delete"})
_SYNCHRONOUS_MODES: Final = frozenset({"full", "normal"})
_READ_PAGE: Final = 32  # records per read while streaming a log: bounds export memory

# Record reads: the first parameter is the size limit (an oversized blob is
# reported, not loaded), then the run key, then the query's own parameters.
_RECORDS_OF_RUN: Final = """
    SELECT kind, seq, length(record_json),
           CASE WHEN length(record_json) <= ? THEN record_json END, record_hash
    FROM run_records
    WHERE tenant_id = ? AND namespace_id = ? AND run_id = ?"""
_DECISION_BY_TRIGGER: Final = (
    _RECORDS_OF_RUN + " AND kind = 'decisions' AND trigger_id = ? ORDER BY position LIMIT 1"
)
_GATE_EVALS_BY_TRIGGER: Final = (
    _RECORDS_OF_RUN + " AND kind = 'gate_evals' AND trigger_id = ? ORDER BY position"
)
_PACKETS_BY_DECISION: Final = (
    _RECORDS_OF_RUN + " AND kind = 'packets' AND decision_id = ? ORDER BY position"
)
_SUBMISSION_BY_ID: Final = (
    _RECORDS_OF_RUN + " AND kind = 'submissions' AND submission_id = ? ORDER BY position LIMIT 1"
)
_LOG_PAGE: Final = _RECORDS_OF_RUN + " AND kind = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
_ALL_RECORDS: Final = _RECORDS_OF_RUN + " ORDER BY position"
_HEAD: Final = """
    SELECT version, record_count, length(head_json),
           CASE WHEN length(head_json) <= ? THEN head_json END, head_hash
    FROM run_heads
    WHERE tenant_id = ? AND namespace_id = ? AND run_id = ?"""
_HEAD_VERSION: Final = """
    SELECT version FROM run_heads WHERE tenant_id = ? AND namespace_id = ? AND run_id = ?"""
_CREATE_HEAD: Final = """
    INSERT INTO run_heads
        (tenant_id, namespace_id, run_id, version, record_count, head_json, head_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING"""
_REPLACE_HEAD: Final = """
    UPDATE run_heads SET version = ?, record_count = ?, head_json = ?, head_hash = ?
    WHERE tenant_id = ? AND namespace_id = ? AND run_id = ?
      AND version = ? AND record_count = ?"""
_APPEND_RECORD: Final = """
    INSERT INTO run_records (tenant_id, namespace_id, run_id, position, kind, seq,
                             record_json, record_hash, trigger_id, decision_id, submission_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _run_params(key: RunKey) -> tuple[str, str, str]:
    return str(key.tenant_id), str(key.namespace_id), key.run_id


def _record_row(
    run: tuple[str, str, str], position: int, appended: AppendedRecord
) -> tuple[object, ...]:
    keys = record_keys(appended)
    return (
        *run,
        position,
        appended.kind.value,
        appended.seq,
        appended.canonical,
        appended.digest.value,
        keys.trigger_id,
        keys.decision_id,
        keys.submission_id,
    )


_DAMAGED: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def _store_error(error: sqlite3.Error) -> StoreError:
    """A damaged file is `StoreCorrupt`; anything else (busy, I/O, full disk) `StoreError`.

    SQLite's messages name tables and conditions, never stored values."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _DAMAGED:
        return StoreCorrupt(f"sqlite run-state store is damaged: {error}")
    return StoreError(f"sqlite run-state store: {error}")


class SqliteRunStateStore:
    """Runs and scenario definitions in one SQLite file, opened on first use."""

    def __init__(
        self,
        path: str | Path,
        *,
        journal_mode: str = "wal",
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        max_state_bytes: int = DEFAULT_MAX_STATE_BYTES,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """`on_connect`, if given, is called with the connection once it is open
        and migrated, for diagnostics (trace and progress callbacks: the cost
        tests count statements and VM steps with them)."""
        if journal_mode not in _JOURNAL_MODES:
            raise StoreError(f"journal_mode must be one of {sorted(_JOURNAL_MODES)}")
        if synchronous not in _SYNCHRONOUS_MODES:
            raise StoreError(f"synchronous must be one of {sorted(_SYNCHRONOUS_MODES)}")
        if busy_timeout_ms < 0:
            raise StoreError("busy_timeout_ms must not be negative")
        if max_state_bytes < 1:
            raise StoreError("max_state_bytes must be positive")
        self._path = Path(path)
        self._journal_mode = journal_mode
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._max_bytes = max_state_bytes
        self._on_connect = on_connect
        self._file = SqliteFile(
            open_connection=self._open,
            translate=_store_error,
            closed_message="run-state store is closed",
        )

    # ------------------------------------------------------------------ plumbing

    async def _call(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._file.call(work)

    def _open(self) -> sqlite3.Connection:
        if self._path.is_dir():
            raise StoreError(f"run-state store path is a directory: {self._path}")
        if not self._path.parent.is_dir():
            raise StoreError(f"run-state store directory does not exist: {self._path.parent}")
        uri = f"{self._path.absolute().as_uri()}?mode=rwc"
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=0
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA foreign_keys = ON")
            mode = connection.execute(f"PRAGMA journal_mode = {self._journal_mode}").fetchone()
            if mode is None or str(mode[0]).lower() != self._journal_mode:
                raise StoreError(f"could not set journal_mode {self._journal_mode}")
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
            _migrate(connection)
            if self._on_connect is not None:
                self._on_connect(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _blob(self, value: object, size: object, what: str) -> bytes:
        """A stored BLOB column, refused if it is oversized or not a BLOB at all."""
        if isinstance(size, int) and size > self._max_bytes:
            raise StoreError(f"{what}: stored value exceeds size limit ({self._max_bytes} bytes)")
        if not isinstance(value, bytes):
            raise StoreCorrupt(f"{what}: stored value is not a blob")
        return value

    def _head_row(self, connection: sqlite3.Connection, key: RunKey) -> RunHead | None:
        row = connection.execute(_HEAD, (self._max_bytes, *_run_params(key))).fetchone()
        if row is None:
            return None
        version, record_count, size, head_json, head_hash = row
        what = f"run {key} head"
        if not isinstance(version, int) or not isinstance(head_hash, str):
            raise StoreCorrupt(f"{what}: stored columns have the wrong type")
        head = decode_head(key, version, self._blob(head_json, size, what), head_hash)
        if record_count != sum(head.counts.of(kind) for kind in LogKind):
            raise StoreCorrupt(f"{what}: stored record count does not match the head")
        return head

    def _stored_record(self, key: RunKey, row: Sequence[Any]) -> StoredRecord:
        kind_text, seq, size, record_json, record_hash = row
        try:
            kind = LogKind(kind_text)
        except ValueError:
            raise StoreCorrupt(f"run {key}: a record names an unknown log") from None
        what = f"run {key} {kind.value} record {seq}"
        if not isinstance(seq, int) or not isinstance(record_hash, str):
            raise StoreCorrupt(f"{what}: stored columns have the wrong type")
        return StoredRecord(kind, seq, self._blob(record_json, size, what), record_hash)

    def _records(
        self, connection: sqlite3.Connection, key: RunKey, query: str, params: Sequence[object]
    ) -> list[StoredRecord]:
        rows = connection.execute(query, (self._max_bytes, *_run_params(key), *params)).fetchall()
        return [self._stored_record(key, row) for row in rows]

    # ------------------------------------------------------------------ runs

    async def load_head(self, key: RunKey) -> RunHead | None:
        return await self._call(lambda connection: self._head_row(connection, key))

    async def commit(self, delta: RunDelta) -> None:
        head_json, head_hash = check_delta(delta, self._max_bytes)
        key = delta.head.key
        run = _run_params(key)
        start = first_position(delta)
        record_count = start - 1 + len(delta.records)
        if delta.previous_version == 0 and start != 1:
            raise StoreError(f"run {key}: a new run's delta must start at position 1")
        rows = [
            _record_row(run, start + offset, appended)
            for offset, appended in enumerate(delta.records)
        ]

        def work(connection: sqlite3.Connection) -> None:
            with transaction(connection, immediate=True):
                if delta.previous_version == 0:
                    cursor = connection.execute(
                        _CREATE_HEAD,
                        (*run, delta.head.version, record_count, head_json, head_hash),
                    )
                else:
                    cursor = connection.execute(
                        _REPLACE_HEAD,
                        (
                            delta.head.version,
                            record_count,
                            head_json,
                            head_hash,
                            *run,
                            delta.previous_version,
                            start - 1,
                        ),
                    )
                if cursor.rowcount != 1:
                    self._raise_refused(connection, key, delta.previous_version)
                connection.executemany(_APPEND_RECORD, rows)

        await self._call(work)

    def _raise_refused(
        self, connection: sqlite3.Connection, key: RunKey, previous_version: int
    ) -> None:
        """Why a compare-and-set matched no row (only read on the losing path)."""
        row = connection.execute(_HEAD_VERSION, _run_params(key)).fetchone()
        stored_version = 0 if row is None else row[0]
        if stored_version != previous_version:
            raise StoreVersionConflict(f"run {key}: version conflict")
        raise StoreError(f"run {key}: delta does not continue the stored logs")

    async def find_decision(self, key: RunKey, trigger_id: str) -> DecisionRecord | None:
        def work(connection: sqlite3.Connection) -> list[StoredRecord]:
            return self._records(connection, key, _DECISION_BY_TRIGGER, (trigger_id,))

        found = await self._call(work)
        if not found:
            return None
        decision: DecisionRecord = decode_record(key, found[0])
        if decision.trigger_id != trigger_id:
            raise StoreCorrupt(f"run {key}: decision index does not match its record")
        return decision

    async def gate_evals_for_trigger(
        self, key: RunKey, trigger_id: str
    ) -> tuple[GateEvalRecord, ...]:
        def work(connection: sqlite3.Connection) -> list[StoredRecord]:
            return self._records(connection, key, _GATE_EVALS_BY_TRIGGER, (trigger_id,))

        gate_evals: tuple[GateEvalRecord, ...] = tuple(
            decode_record(key, stored) for stored in await self._call(work)
        )
        if any(gate_eval.trigger_id != trigger_id for gate_eval in gate_evals):
            raise StoreCorrupt(f"run {key}: gate evaluation index does not match its record")
        return gate_evals

    async def packets_for_decision(self, key: RunKey, decision_id: str) -> tuple[PacketRecord, ...]:
        def work(connection: sqlite3.Connection) -> list[StoredRecord]:
            return self._records(connection, key, _PACKETS_BY_DECISION, (decision_id,))

        packets: tuple[PacketRecord, ...] = tuple(
            decode_record(key, stored) for stored in await self._call(work)
        )
        if any(packet.decision_id != decision_id for packet in packets):
            raise StoreCorrupt(f"run {key}: packet index does not match its record")
        return packets

    async def find_submission(self, key: RunKey, submission_id: str) -> SubmissionRecord | None:
        def work(connection: sqlite3.Connection) -> list[StoredRecord]:
            return self._records(connection, key, _SUBMISSION_BY_ID, (submission_id,))

        found = await self._call(work)
        if not found:
            return None
        submission: SubmissionRecord = decode_record(key, found[0])
        if submission.submission_id != submission_id:
            raise StoreCorrupt(f"run {key}: submission index does not match its record")
        return submission

    async def packet_ids(self, key: RunKey) -> tuple[str, ...]:
        return tuple(
            [packet.envelope.packet_id async for packet in self.read_log(key, LogKind.PACKETS)]
        )

    async def read_log(self, key: RunKey, kind: LogKind) -> AsyncIterator[Any]:
        head = await self.load_head(key)
        if head is None:
            return
        last = head.counts.of(kind)
        seq = 0
        while seq < last:
            after = seq

            def page(connection: sqlite3.Connection, after: int = after) -> list[StoredRecord]:
                return self._records(
                    connection, key, _LOG_PAGE, (kind.value, after, last, _READ_PAGE)
                )

            stored_page = await self._call(page)
            if not stored_page:
                raise StoreCorrupt(f"run {key}: {kind.value} log is shorter than its head")
            for stored in stored_page:
                seq += 1
                if stored.seq != seq:
                    raise StoreCorrupt(f"run {key}: {kind.value} record {seq} is missing")
                yield decode_record(key, stored)

    def _whole_run(
        self, connection: sqlite3.Connection, key: RunKey
    ) -> tuple[RunHead, list[StoredRecord]] | None:
        """The head and every record of one version (a read transaction is one snapshot)."""
        with transaction(connection, immediate=False):
            head = self._head_row(connection, key)
            if head is None:
                return None
            return head, self._records(connection, key, _ALL_RECORDS, ())

    async def verify_run(self, key: RunKey) -> list[str]:
        def work(connection: sqlite3.Connection) -> list[str]:
            # Streams the records through a cursor: verifying a long run (as every
            # export does) costs memory for one record, not for the run.
            with transaction(connection, immediate=False):
                try:
                    head = self._head_row(connection, key)
                    if head is None:
                        raise NotFound(f"run not found: {key}")
                    rows = connection.execute(_ALL_RECORDS, (self._max_bytes, *_run_params(key)))
                    return run_problems(head, (self._stored_record(key, row) for row in rows))
                except StoreCorrupt as error:
                    return [str(error)]

        return await self._call(work)

    async def load_state(self, key: RunKey) -> RunState | None:
        whole = await self._call(lambda connection: self._whole_run(connection, key))
        if whole is None:
            return None
        head, records = whole
        problems = run_problems(head, records)
        if problems:
            raise StoreCorrupt(f"run {key}: {problems[0]}")
        logs: dict[LogKind, list[Any]] = {kind: [] for kind in LogKind}
        for stored in records:
            logs[stored.kind].append(decode_record(key, stored))
        return run_state_from(head, {kind: tuple(values) for kind, values in logs.items()})

    async def list_runs(self) -> list[RunKey]:
        def work(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT tenant_id, namespace_id, run_id FROM run_heads"
            ).fetchall()

        keys: list[RunKey] = []
        for tenant_id, namespace_id, run_id in await self._call(work):
            try:
                keys.append(RunKey(int(tenant_id), int(namespace_id), str(run_id)))
            except ValueError:
                raise StoreCorrupt("a stored run key is not numeric") from None
        return sorted(keys)

    # ------------------------------------------------------------------ scenarios

    async def define_scenario(self, spec_json: JsonValue, spec_hash: HashDigest) -> bool:
        scenario_id, canonical = encode_scenario(spec_json, spec_hash)
        if len(canonical) > self._max_bytes:
            raise StoreError(f"scenario {scenario_id}: definition exceeds size limit")

        def work(connection: sqlite3.Connection) -> bool:
            with transaction(connection, immediate=True):
                stored = self._scenario_row(connection, scenario_id)
                if stored is not None:
                    if stored[1] != spec_hash:
                        raise Conflict("scenario already defined")
                    return False
                connection.execute(
                    "INSERT INTO scenarios (scenario_id, spec_json, spec_hash) VALUES (?, ?, ?)",
                    (scenario_id, canonical, spec_hash.value),
                )
                return True

        return await self._call(work)

    def _scenario_row(
        self, connection: sqlite3.Connection, scenario_id: str
    ) -> tuple[JsonValue, HashDigest] | None:
        row = connection.execute(
            "SELECT length(spec_json), CASE WHEN length(spec_json) <= ? THEN spec_json END, "
            "spec_hash FROM scenarios WHERE scenario_id = ?",
            (self._max_bytes, scenario_id),
        ).fetchone()
        if row is None:
            return None
        return self._scenario(scenario_id, row)

    def _scenario(self, scenario_id: str, row: Sequence[Any]) -> tuple[JsonValue, HashDigest]:
        size, spec_json, spec_hash = row
        what = f"scenario {scenario_id}"
        if not isinstance(spec_hash, str):
            raise StoreCorrupt(f"{what}: stored columns have the wrong type")
        return decode_scenario(scenario_id, self._blob(spec_json, size, what), spec_hash)

    async def get_scenario(self, scenario_id: str) -> tuple[JsonValue, HashDigest] | None:
        return await self._call(lambda connection: self._scenario_row(connection, scenario_id))

    async def list_scenarios(self) -> list[tuple[str, HashDigest]]:
        def work(connection: sqlite3.Connection) -> list[tuple[str, HashDigest]]:
            rows = connection.execute(
                "SELECT scenario_id, length(spec_json), "
                "CASE WHEN length(spec_json) <= ? THEN spec_json END, spec_hash "
                "FROM scenarios ORDER BY scenario_id",
                (self._max_bytes,),
            ).fetchall()
            return [(str(row[0]), self._scenario(str(row[0]), row[1:])[1]) for row in rows]

        return await self._call(work)

    # ------------------------------------------------------------------ lifecycle

    async def readiness(self) -> None:
        await self._call(lambda connection: connection.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await self._file.close()


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring the file to `SCHEMA_VERSION`, or refuse a file this build cannot read."""
    with transaction(connection, immediate=True):
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            version = 0
        elif "store_meta" not in tables:
            raise StoreError("not a decision-gate run-state database (no store_meta table)")
        else:
            rows = connection.execute("SELECT version FROM store_meta").fetchall()
            if len(rows) != 1 or not isinstance(rows[0][0], int):
                raise StoreCorrupt("store_meta must hold exactly one integer schema version")
            version = rows[0][0]
            if not 1 <= version <= SCHEMA_VERSION:
                raise StoreError(
                    f"unsupported schema version: {version} (this build reads 1..{SCHEMA_VERSION})"
                )
        for step in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step]:
                connection.execute(statement)
            connection.execute("UPDATE store_meta SET version = ?", (step + 1,))
