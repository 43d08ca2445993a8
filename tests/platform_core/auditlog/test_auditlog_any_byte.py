"""Property: with a checkpoint over the last record, flipping any single bit of
any byte of a JSON-lines audit file is caught when the log opens, and the
error names the record on whose line the byte sits."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from platform_core.auditlog import (
    AuditEvent,
    AuditLog,
    ChainBroken,
    CheckpointSigner,
    JsonlAuditStore,
)

SIGNER = CheckpointSigner.generate()
RECORDS = 6


async def _seed(directory: Path) -> tuple[bytes, bytes]:
    store = await JsonlAuditStore.open(directory)
    log = await AuditLog.open(store, verifier=SIGNER.verifier(), signer=SIGNER)
    await log.append_many(
        [AuditEvent("doc.read", tenant="acme", actor="alice", source_ip="192.0.2.1",
                    details={"n": n, "note": "ünïcode ✓"}) for n in range(RECORDS)]
    )
    await log.checkpoint()
    return store.records_path.read_bytes(), (directory / "checkpoints.jsonl").read_bytes()


with tempfile.TemporaryDirectory() as _seed_dir:
    ORIGINAL, CHECKPOINTS = asyncio.run(_seed(Path(_seed_dir)))


async def _first_bad(directory: Path) -> int | None:
    store = await JsonlAuditStore.open(directory)
    try:
        await AuditLog.open(store, verifier=SIGNER.verifier())
    except ChainBroken as error:
        return error.report.first_bad_seq
    return None


@settings(max_examples=150, deadline=None)
@given(offset=st.integers(0, len(ORIGINAL) - 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_named_at_its_line(offset: int, bit: int) -> None:
    tampered = bytearray(ORIGINAL)
    tampered[offset] ^= 1 << bit
    line_of_byte = ORIGINAL.count(b"\n", 0, offset) + 1
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "records.jsonl").write_bytes(bytes(tampered))
        (root / "checkpoints.jsonl").write_bytes(CHECKPOINTS)
        assert asyncio.run(_first_bad(root)) == min(line_of_byte, RECORDS)
