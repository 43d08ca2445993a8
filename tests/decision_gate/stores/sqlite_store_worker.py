"""A separate process working on one SQLite run-state file (run as a script).

`race DB RUN_ID NAME ATTEMPTS`: print "ready", wait for a line on stdin, then
try ATTEMPTS trigger commits, each from the head it just loaded; print
`{"won": n, "lost": m}`.

`crash DB RUN_ID`: commit one trigger delta and kill the process (no cleanup,
no rollback) the moment the store starts inserting the delta's records, i.e.
after the head row has been updated inside the open transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys

from decision_gate.core.errors import StoreVersionConflict
from decision_gate.stores import SqliteRunStateStore
from decision_gate.testing.run_state_store import fresh_head, trigger_delta


async def race(path: str, run_id: str, name: str, attempts: int) -> None:
    store = SqliteRunStateStore(path, synchronous="normal", busy_timeout_ms=30_000)
    key = fresh_head(run_id).key
    await store.readiness()
    print("ready", flush=True)
    sys.stdin.readline()
    won = lost = 0
    for attempt in range(attempts):
        head = await store.load_head(key)
        assert head is not None
        try:
            await store.commit(trigger_delta(head, f"{name}-{attempt}"))
        except StoreVersionConflict:
            lost += 1
        else:
            won += 1
    await store.close()
    print(json.dumps({"won": won, "lost": lost}), flush=True)


def _die_on_record_insert(statement: str) -> None:
    if statement.lstrip().startswith("INSERT INTO run_records"):
        os._exit(17)


def _trace_until_death(connection: sqlite3.Connection) -> None:
    connection.set_trace_callback(_die_on_record_insert)


async def crash(path: str, run_id: str) -> None:
    store = SqliteRunStateStore(path, on_connect=_trace_until_death)
    head = await store.load_head(fresh_head(run_id).key)
    assert head is not None
    await store.commit(trigger_delta(head, "t-crash", ["p-crash"]))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "race":
        asyncio.run(race(args[0], args[1], args[2], int(args[3])))
    else:
        asyncio.run(crash(args[0], args[1]))
