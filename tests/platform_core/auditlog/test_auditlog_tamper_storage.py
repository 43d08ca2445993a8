"""Tampering with the stored rows themselves — a SQLite file edited with the
sqlite3 tool, a PostgreSQL table edited with SQL — is caught when the log
reopens, and the error names the first bad sequence number. Also: several
processes' worth of writers on one file or database never fork the chain, and
a process SIGKILLed mid-append leaves a chain that verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    AuditRecord,
    ChainBroken,
    CheckpointSigner,
    JsonlAuditStore,
    PostgresAuditStore,
    SqliteAuditStore,
)
from platform_core.errors import IntegrityError, StorageError

MakeLog = Callable[..., Awaitable[AuditLog]]


def event(number: int) -> AuditEvent:
    return AuditEvent("doc.read", tenant="acme", details={"n": number})


async def seeded_sqlite(path: Path, make_log: MakeLog, count: int = 10) -> None:
    store = await SqliteAuditStore.open(path)
    log = await make_log(store)
    await log.append_many([event(n) for n in range(count)])
    await store.close()


async def reopen_error(path: Path, make_log: MakeLog) -> ChainBroken:
    store = await SqliteAuditStore.open(path)
    try:
        with pytest.raises(ChainBroken) as caught:
            await make_log(store)
    finally:
        await store.close()
    return caught.value


def edit(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


async def test_a_flipped_payload_byte_in_the_file_is_named_at_startup(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(path, """UPDATE audit_records SET event = replace(event, '"n":6', '"n":7')
                    WHERE seq = 7""")
    error = await reopen_error(path, make_log)
    assert error.report.first_bad_seq == 7
    assert "seq 7" in str(error)


async def test_a_payload_edited_into_invalid_json_is_named_not_crashed_on(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(path, "UPDATE audit_records SET event = substr(event, 2) WHERE seq = 3")
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 3


async def test_a_deleted_row_is_named_at_startup(tmp_path: Path, make_log: MakeLog) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(path, "DELETE FROM audit_records WHERE seq = 4")
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 4


async def test_a_deleted_first_row_is_named_at_startup(tmp_path: Path, make_log: MakeLog) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(path, "DELETE FROM audit_records WHERE seq = 1")
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 1


async def test_swapped_rows_are_named_at_startup(tmp_path: Path, make_log: MakeLog) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(
        path,
        "UPDATE audit_records SET seq = -1 WHERE seq = 5",
        "UPDATE audit_records SET seq = 5 WHERE seq = 6",
        "UPDATE audit_records SET seq = 6 WHERE seq = -1",
    )
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 5


async def test_a_forged_row_appended_by_hand_with_a_made_up_hash_is_named(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    with sqlite3.connect(path) as db:
        (head,) = db.execute("SELECT record_hash FROM audit_records WHERE seq = 10").fetchone()
        db.execute(
            "INSERT INTO audit_records VALUES (11, 0, ?, ?, ?)",
            (head, b"\x07" * 32, event(11).canonical_bytes().decode()),
        )
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 11


async def test_a_truncated_tail_is_named_when_a_checkpoint_covers_it(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    store = await SqliteAuditStore.open(path)
    await (await make_log(store)).checkpoint()
    await store.close()
    edit(path, "DELETE FROM audit_records WHERE seq >= 8")
    assert (await reopen_error(path, make_log)).report.first_bad_seq == 8


async def test_a_tampered_postgres_row_refuses_to_open(
    postgres_dsn: str, make_log: MakeLog
) -> None:
    store = await PostgresAuditStore.open(postgres_dsn)
    log = await make_log(store)
    await log.append_many([event(n) for n in range(6)])
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute(
            "UPDATE platform_audit_records SET event = replace(event, 'acme', 'evil')"
            " WHERE seq = 2"
        )
    with pytest.raises(ChainBroken) as caught:
        await make_log(store)
    await store.close()
    assert caught.value.report.first_bad_seq == 2


async def test_two_sqlite_connections_appending_to_one_file_do_not_fork(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    stores = [await SqliteAuditStore.open(path) for _ in range(3)]
    logs = [await make_log(store) for store in stores]
    await asyncio.gather(
        *(log.append(event(100 * i + n)) for i, log in enumerate(logs) for n in range(15))
    )
    report = await logs[0].verify()
    for store in stores:
        await store.close()
    assert report.ok
    assert report.tip.seq == 45


async def test_two_postgres_pools_appending_to_one_database_do_not_fork(
    postgres_dsn: str, make_log: MakeLog
) -> None:
    stores = [await PostgresAuditStore.open(postgres_dsn) for _ in range(2)]
    logs = [await make_log(store) for store in stores]
    await asyncio.gather(
        *(log.append(event(100 * i + n)) for i, log in enumerate(logs) for n in range(20))
    )
    report = await logs[1].verify()
    for store in stores:
        await store.close()
    assert report.ok
    assert report.tip.seq == 40


_APPENDER = textwrap.dedent(
    """
    import asyncio, sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from platform_core.auditlog import (
        AuditEvent, AuditLog, CheckpointSigner, JsonlAuditStore, SqliteAuditStore,
    )

    async def main() -> None:
        signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[2])))
        kind = JsonlAuditStore if sys.argv[3] == "jsonl" else SqliteAuditStore
        store = await kind.open(sys.argv[1])
        log = await AuditLog.open(store, verifier=signer.verifier(), signer=signer)
        n = 0
        while True:
            await log.append_many([AuditEvent("doc.read", details={"n": n, "pad": "x" * 500})] * 3)
            n += 1
            if n % 20 == 0:
                print(n, flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
async def test_a_sigkill_during_appends_leaves_a_chain_that_verifies(
    tmp_path: Path, kind: str
) -> None:
    key = Ed25519PrivateKey.generate()
    signer = CheckpointSigner(key)
    raw = key.private_bytes_raw()
    path = tmp_path / ("audit.db" if kind == "sqlite" else "audit")
    opener = SqliteAuditStore.open if kind == "sqlite" else JsonlAuditStore.open
    previous = 0
    for _round in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(path), raw.hex(), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None
        for _ in range(3):
            assert child.stdout.readline(), child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        store = await opener(path)
        log = await AuditLog.open(store, verifier=signer.verifier(), signer=signer)
        report = await log.verify()
        await store.close()
        assert report.ok
        assert report.tip.seq % 3 == 0
        assert report.tip.seq > previous
        previous = report.tip.seq


async def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError):
        await SqliteAuditStore.open(path)


async def test_a_jsonl_directory_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "audit").write_text("oops")
    with pytest.raises(StorageError):
        await JsonlAuditStore.open(tmp_path / "audit")


async def test_an_unreachable_postgres_is_a_storage_error_without_the_dsn() -> None:
    dsn = "postgresql://postgres:s3cr3t@127.0.0.1:1/nowhere?connect_timeout=1"
    with pytest.raises(StorageError) as caught:
        await PostgresAuditStore.open(dsn, timeout=1.0)
    assert "s3cr3t" not in str(caught.value)


_BATCH_APPENDER = textwrap.dedent(
    """
    import asyncio, sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from platform_core.auditlog import (
        AuditEvent, AuditLog, CheckpointSigner, JsonlAuditStore, SqliteAuditStore,
    )

    async def main() -> None:
        signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[2])))
        kind = JsonlAuditStore if sys.argv[3] == "jsonl" else SqliteAuditStore
        store = await kind.open(sys.argv[1])
        log = await AuditLog.open(store, verifier=signer.verifier(), signer=signer)
        for n in range(int(sys.argv[4])):
            await log.append(AuditEvent("doc.read", actor=sys.argv[5], details={"n": n}))
        await store.close()

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
async def test_appenders_in_separate_processes_never_fork_the_chain(
    tmp_path: Path, kind: str
) -> None:
    key = Ed25519PrivateKey.generate()
    signer = CheckpointSigner(key)
    path = tmp_path / ("audit.db" if kind == "sqlite" else "audit")
    opener = SqliteAuditStore.open if kind == "sqlite" else JsonlAuditStore.open
    await (await opener(path)).close()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _BATCH_APPENDER, str(path), key.private_bytes_raw().hex(),
             kind, "60", f"proc-{i}"],
            stderr=subprocess.PIPE,
        )
        for i in range(3)
    ]
    for child in children:
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 0, stderr.decode()
    store = await opener(path)
    log = await AuditLog.open(store, verifier=signer.verifier())
    report = await log.verify()
    actors = [r.event.actor async for r in log.records() if isinstance(r, AuditRecord)]
    await store.close()
    assert report.ok
    assert report.tip.seq == 180
    assert sorted(actors) == sorted([f"proc-{i}" for i in range(3)] * 60)


async def test_an_unreadable_stored_checkpoint_refuses_to_open(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    store = await SqliteAuditStore.open(path)
    await (await make_log(store)).checkpoint()
    await store.close()
    edit(path, "UPDATE audit_checkpoints SET body = '{\"seq\": \"x\"}'")
    error = await reopen_error(path, make_log)
    assert error.report.first_bad_seq == 0
    assert "checkpoint is unreadable" in str(error)


async def test_an_unreadable_stored_hold_is_an_integrity_error(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path = tmp_path / "audit.db"
    await seeded_sqlite(path, make_log)
    edit(path, "INSERT INTO audit_holds VALUES ('h', 'not json')")
    store = await SqliteAuditStore.open(path)
    log = await make_log(store)
    with pytest.raises(IntegrityError, match="legal hold is unreadable"):
        await log.holds()
    await store.close()
