"""The JSON-lines store: the file is the chain, so editing it by hand is caught
at open; a torn final line (an append that never returned) is ignored and cut;
crashes between its two-file steps fail closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    ChainBroken,
    CheckpointSigner,
    JsonlAuditStore,
    LegalHold,
    verify_jsonl_export,
)
from platform_core.auditlog.export import manifest_path_for

MakeLog = Callable[..., Awaitable[AuditLog]]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(number: int) -> AuditEvent:
    return AuditEvent("doc.read", tenant="acme", details={"n": number})


async def seeded(directory: Path, make_log: MakeLog, count: int = 8) -> JsonlAuditStore:
    store = await JsonlAuditStore.open(directory)
    log = await make_log(store)
    await log.append_many([event(n) for n in range(count)])
    return store


def lines(store: JsonlAuditStore) -> list[bytes]:
    return store.records_path.read_bytes().splitlines(keepends=True)


async def first_bad(store: JsonlAuditStore, make_log: MakeLog) -> int | None:
    with pytest.raises(ChainBroken) as caught:
        await make_log(store)
    return caught.value.report.first_bad_seq


async def test_the_records_file_holds_one_canonical_record_per_line(
    tmp_path: Path, make_log: MakeLog
) -> None:
    store = await seeded(tmp_path / "audit", make_log)
    assert [json.loads(raw)["seq"] for raw in lines(store)] == list(range(1, 9))


async def test_a_flipped_byte_in_the_file_is_named_at_open(
    tmp_path: Path, make_log: MakeLog
) -> None:
    store = await seeded(tmp_path / "audit", make_log)
    content = lines(store)
    content[5] = content[5].replace(b'"n":5', b'"n":6')
    store.records_path.write_bytes(b"".join(content))
    assert await first_bad(store, make_log) == 6


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c[:3] + c[4:], 4),
        (lambda c: [*c[:2], c[3], c[2], *c[4:]], 3),
        (lambda c: [*c[:5], c[4], *c[5:]], 6),
        (lambda c: [*c[:3], b"{not json}\n", *c[3:]], 4),
    ],
    ids=["deleted", "swapped", "duplicated", "garbage-inserted"],
)
async def test_line_level_tampering_is_named_at_open(
    tmp_path: Path, make_log: MakeLog, edit: Callable[[list[bytes]], list[bytes]], named: int
) -> None:
    store = await seeded(tmp_path / "audit", make_log)
    store.records_path.write_bytes(b"".join(edit(lines(store))))
    assert await first_bad(store, make_log) == named


async def test_a_torn_final_line_is_ignored_then_cut_by_the_next_append(
    tmp_path: Path, make_log: MakeLog
) -> None:
    store = await seeded(tmp_path / "audit", make_log)
    whole = store.records_path.read_bytes()
    store.records_path.write_bytes(whole + lines(store)[-1][:40])
    log = await make_log(store)
    assert (await log.verify()).tip.seq == 8
    record = await log.append(event(99))
    assert record.seq == 9
    assert store.records_path.read_bytes().startswith(whole)
    assert (await log.verify()).ok


async def test_a_hold_whose_announcing_record_never_landed_is_not_in_force(
    tmp_path: Path, make_log: MakeLog
) -> None:
    store = await seeded(tmp_path / "audit", make_log, count=3)
    orphan = LegalHold("orphan", "crash between the two writes", 4, tenant="acme")
    (store.directory / "holds.json").write_text(json.dumps({"holds": [orphan.to_text()]}))
    log = await make_log(store)
    assert await log.holds() == []
    placed = await log.place_hold("orphan", reason="placed for real", actor="legal",
                                  tenant="acme")
    assert placed.placed_seq == 4
    assert [h.reason for h in await log.holds()] == ["placed for real"]


async def test_an_interrupted_prune_still_verifies_from_its_checkpoint(
    tmp_path: Path, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    store = await seeded(tmp_path / "audit", make_log)
    before = store.records_path.read_bytes()
    log = await make_log(store)
    outcome = await log.prune(T0 + timedelta(seconds=1, milliseconds=500), actor="retention")
    assert outcome.removed_through == 8
    # As if the process died after storing the truncation checkpoint but before
    # cutting the prefix: the old records are back in the file.
    store.records_path.write_bytes(before + b"".join(lines(store)))
    reopened = await make_log(store)
    report = await reopened.verify()
    assert report.ok
    assert report.tip.seq == 9


async def test_two_store_instances_on_one_directory_do_not_fork(
    tmp_path: Path, make_log: MakeLog
) -> None:
    stores = [await JsonlAuditStore.open(tmp_path / "audit") for _ in range(3)]
    logs = [await make_log(store) for store in stores]
    await asyncio.gather(
        *(log.append(event(100 * i + n)) for i, log in enumerate(logs) for n in range(10))
    )
    report = await logs[0].verify()
    assert report.ok
    assert report.tip.seq == 30


async def test_the_records_file_verifies_like_an_export_once_given_a_manifest(
    tmp_path: Path, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    from platform_core.auditlog import export_jsonl

    store = await seeded(tmp_path / "audit", make_log)
    log = await make_log(store)
    path = tmp_path / "export.jsonl"
    await export_jsonl(log, path, signer=signer)
    assert path.read_bytes() == store.records_path.read_bytes()
    assert manifest_path_for(path).exists()
    assert verify_jsonl_export(path, signer.verifier()).ok
