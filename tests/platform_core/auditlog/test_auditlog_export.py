"""Exports: the JSONL file and its manifest can be re-verified anywhere, and
every line-level tampering recipe of assurance.md C1 is named; OCSF output is
well-formed API Activity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import blake3
import pytest

from platform_core.auditlog import (
    Action,
    AuditEvent,
    AuditLog,
    AuditRecord,
    ChainBroken,
    ChainTip,
    Checkpoint,
    CheckpointKind,
    CheckpointSigner,
    MemoryAuditStore,
    OcsfProduct,
    Outcome,
    canonical_json,
    export_jsonl,
    export_ocsf,
    manifest_path_for,
    to_ocsf,
    verify_jsonl_export,
)
from platform_core.auditlog.chain import seal
from platform_core.errors import InvalidInput

MakeLog = Callable[..., Awaitable[AuditLog]]
PRODUCT = OcsfProduct(name="platform_core tests", vendor_name="Example", version="0.1.0")


def event(number: int) -> AuditEvent:
    return AuditEvent("doc.read", tenant="acme", actor="alice", details={"n": number})


@pytest.fixture
async def exported(
    tmp_path: Path, make_log: MakeLog, signer: CheckpointSigner
) -> tuple[Path, AuditLog]:
    log = await make_log(MemoryAuditStore())
    await log.append_many([event(n) for n in range(10)])
    path = tmp_path / "audit.jsonl"
    await export_jsonl(log, path, signer=signer)
    return path, log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    path.write_bytes(b"".join(new_lines))


def bad_seq(path: Path, signer: CheckpointSigner) -> int | None:
    return verify_jsonl_export(path, signer.verifier()).first_bad_seq


async def test_an_export_verifies_and_its_manifest_hashes_the_file(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    manifest = json.loads(manifest_path_for(path).read_text())
    data = path.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["blake3"] == blake3.blake3(data).hexdigest()
    assert (manifest["first_seq"], manifest["last_seq"], manifest["record_count"]) == (1, 10, 10)
    assert manifest["checkpoint"]["seq"] == 10
    assert manifest["checkpoint"]["head"] == manifest["chain_head"]
    assert verify_jsonl_export(path, signer.verifier()).ok


async def test_every_export_line_is_standalone_json_with_a_utc_timestamp(
    exported: tuple[Path, AuditLog],
) -> None:
    path, _log = exported
    for raw in lines(path):
        body = json.loads(raw)
        assert body["ts"].endswith("Z")
        assert AuditRecord.from_json(body).seq == body["seq"]


async def test_a_partial_range_export_verifies_from_its_first_record(
    tmp_path: Path, exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    _path, log = exported
    path = tmp_path / "part.jsonl"
    manifest = await export_jsonl(log, path, signer=signer, first_seq=4, last_seq=7)
    assert (manifest.first_seq, manifest.last_seq, manifest.record_count) == (4, 7, 4)
    assert [json.loads(raw)["seq"] for raw in lines(path)] == [4, 5, 6, 7]
    assert verify_jsonl_export(path, signer.verifier()).ok


@pytest.mark.parametrize("line_index", [0, 3, 9])
async def test_a_flipped_byte_in_any_line_is_named(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner, line_index: int
) -> None:
    path, _log = exported
    content = lines(path)
    for offset in range(0, len(content[line_index]) - 1, 7):
        tampered = bytearray(content[line_index])
        tampered[offset] ^= 0x01
        rewrite(path, [*content[:line_index], bytes(tampered), *content[line_index + 1 :]])
        assert bad_seq(path, signer) == line_index + 1, offset


async def test_a_deleted_line_is_named(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    content = lines(path)
    rewrite(path, content[:4] + content[5:])
    assert bad_seq(path, signer) == 5


async def test_a_deleted_last_line_is_named_by_the_signed_checkpoint(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    rewrite(path, lines(path)[:-1])
    assert bad_seq(path, signer) == 10


async def test_swapped_lines_are_named(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    content = lines(path)
    content[2], content[6] = content[6], content[2]
    rewrite(path, content)
    assert bad_seq(path, signer) == 3


async def test_an_inserted_forged_line_with_a_valid_hash_is_named(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    content = lines(path)
    third = AuditRecord.from_json(json.loads(content[2]))
    forged = seal(ChainTip(3, third.record_hash), third.timestamp, AuditEvent("doc.deleted"))
    rewrite(path, [*content[:3], canonical_json(forged.to_json()) + b"\n", *content[3:]])
    assert bad_seq(path, signer) == 5


async def test_a_consistently_rewritten_tail_is_named_at_the_signed_head(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    content = lines(path)
    tip_record = AuditRecord.from_json(json.loads(content[6]))
    tip = ChainTip(7, tip_record.record_hash)
    forged_lines = []
    for number in range(3):
        record = seal(tip, tip_record.timestamp, AuditEvent("doc.read", details={"n": -number}))
        forged_lines.append(canonical_json(record.to_json()) + b"\n")
        tip = ChainTip(record.seq, record.record_hash)
    rewrite(path, content[:7] + forged_lines)
    assert bad_seq(path, signer) == 10


async def test_a_manifest_rewritten_to_match_a_forged_file_fails_its_signature(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    manifest_path = manifest_path_for(path)
    manifest = json.loads(manifest_path.read_text())
    manifest["checkpoint"]["head"] = "00" * 32
    manifest["chain_head"] = "00" * 32
    manifest_path.write_text(json.dumps(manifest))
    report = verify_jsonl_export(path, signer.verifier())
    assert not report.ok
    assert "invalid signature" in report.reason


async def test_an_extra_line_after_the_last_record_is_named(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    content = lines(path)
    rewrite(path, [*content, content[-1]])
    assert bad_seq(path, signer) == 11


async def test_a_checkpoint_from_another_key_does_not_verify_the_export(
    exported: tuple[Path, AuditLog],
) -> None:
    path, _log = exported
    report = verify_jsonl_export(path, CheckpointSigner.generate().verifier())
    assert not report.ok
    assert "unknown key" in report.reason


async def test_a_missing_manifest_is_a_typed_error(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    path, _log = exported
    manifest_path_for(path).unlink()
    with pytest.raises(InvalidInput, match="manifest"):
        verify_jsonl_export(path, signer.verifier())


async def test_a_tampered_log_is_never_exported_nor_signed(
    tmp_path: Path, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    await log.append_many([event(n) for n in range(4)])
    seq, ts, prev, digest, body = store.rows[2]
    store.rows[2] = (seq, ts, prev, digest, body.replace("alice", "mallory"))
    path = tmp_path / "audit.jsonl"
    with pytest.raises(ChainBroken):
        await export_jsonl(log, path, signer=signer)
    assert list(tmp_path.iterdir()) == []


async def test_an_empty_range_is_a_typed_error_and_leaves_no_file(
    tmp_path: Path, exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    _path, log = exported
    target = tmp_path / "none.jsonl"
    with pytest.raises(InvalidInput):
        await export_jsonl(log, target, signer=signer, first_seq=50)
    assert not target.exists()


@pytest.mark.parametrize(
    ("action", "activity_id"),
    [(Action.CREATE, 1), (Action.READ, 2), (Action.UPDATE, 3), (Action.DELETE, 4),
     (Action.OTHER, 99)],
)
def test_ocsf_api_activity_carries_class_activity_and_type(
    action: Action, activity_id: int
) -> None:
    record = seal(
        ChainTip.genesis(), datetime.now(UTC), AuditEvent("tenant.changed", action=action)
    )
    body = to_ocsf(record, PRODUCT)
    assert body["class_uid"] == 6003
    assert body["category_uid"] == 6
    assert body["activity_id"] == activity_id
    assert body["type_uid"] == 600300 + activity_id


async def test_ocsf_events_carry_time_status_actor_and_unmapped_fields(
    tmp_path: Path, make_log: MakeLog
) -> None:
    log = await make_log(MemoryAuditStore())
    await log.append(
        AuditEvent(
            "tenant.deleted", action=Action.DELETE, outcome=Outcome.FAILURE, tenant="acme",
            actor="alice", correlation_id="req-1", source_ip="192.0.2.7", details={"why": "x"},
        )
    )
    path = tmp_path / "audit.ocsf.jsonl"
    assert await export_ocsf(log, path, PRODUCT) == 1
    (body,) = [json.loads(raw) for raw in lines(path)]
    record = await anext(log.records())
    assert isinstance(record, AuditRecord)
    assert body["time"] == record.timestamp_us // 1000
    assert (body["status_id"], body["status"]) == (2, "Failure")
    assert body["metadata"]["version"] == "1.3.0"
    assert body["metadata"]["product"]["vendor_name"] == "Example"
    assert body["metadata"]["uid"] == record.record_hash.hex()
    assert body["metadata"]["correlation_uid"] == "req-1"
    assert body["actor"] == {"user": {"uid": "alice"}}
    assert body["src_endpoint"] == {"ip": "192.0.2.7"}
    assert body["api"] == {"operation": "tenant.deleted"}
    assert body["unmapped"]["tenant"] == "acme"
    assert body["unmapped"]["details"] == {"why": "x"}
    assert body["unmapped"]["seq"] == 1


async def test_a_checkpoint_survives_publication_as_json(
    exported: tuple[Path, AuditLog], signer: CheckpointSigner
) -> None:
    _path, log = exported
    checkpoint = await log.checkpoint()
    published = json.loads(json.dumps(checkpoint.to_json()))
    restored = Checkpoint.from_json(published)
    assert restored == checkpoint
    assert restored.kind is CheckpointKind.PERIODIC
    signer.verifier().verify(restored, log_id="audit")


async def test_an_export_is_refused_when_a_stored_checkpoint_contradicts_the_chain(
    tmp_path: Path, make_log: MakeLog, signer: CheckpointSigner
) -> None:
    store = MemoryAuditStore()
    log = await make_log(store)
    await log.append_many([event(n) for n in range(4)])
    await store.add_checkpoint(
        signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(2, b"\x05" * 32), log.now())
    )
    with pytest.raises(ChainBroken) as caught:
        await export_jsonl(log, tmp_path / "audit.jsonl", signer=signer)
    assert caught.value.report.first_bad_seq == 2
    assert list(tmp_path.iterdir()) == []
