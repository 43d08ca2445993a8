"""The audit log as plain files in one directory: JSON lines anyone can read.

Layout: `records.jsonl` (one canonical record per line — the same bytes an
export holds), `checkpoints.jsonl` (one signed checkpoint per line),
`holds.json` (the active legal holds) and `.lock`.

Invariants:
- Every operation holds `flock` on `.lock` (exclusive to write, shared to read),
  so writers in any thread or process queue up; the tip is read under the lock
  and the chain never forks.
- An append is one `write` of whole lines to an `O_APPEND` file followed by
  `fsync`; it is acknowledged only after both. A process killed mid-append can
  leave a final line without its newline: that append was never acknowledged,
  readers ignore it and the next writer cuts it off. Nothing else is repaired.
- Two-file changes are ordered so a crash between them fails closed: a hold is
  stored before the record announcing it (a hold whose record never landed —
  `placed_seq` beyond the tip — is dropped by the next writer, it was never in
  force), and released after the record saying so; a truncation checkpoint is
  stored before the pruned prefix is cut (records at or below it are then
  ignored until the next prune removes them).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from platform_core.auditlog.chain import (
    AuditRecord,
    ChainTip,
    MalformedRecord,
    hex32,
    record_from_line,
    record_line,
)
from platform_core.auditlog.checkpoints import Checkpoint
from platform_core.auditlog.files import atomic_file, fsync_directory
from platform_core.auditlog.holds import LegalHold
from platform_core.auditlog.store import (
    PlaceHold,
    PrunePlan,
    ReleaseHold,
    Sealer,
    latest_truncation,
    stored_checkpoint,
)
from platform_core.errors import Conflict, IntegrityError, InvalidInput, NotFound, StorageError

__all__ = ["JsonlAuditStore"]

_T = TypeVar("_T")
_TAIL_BYTES = 256 * 1024


class JsonlAuditStore:
    """Open with `await JsonlAuditStore.open(directory)`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.records_path = directory / "records.jsonl"
        self._checkpoints_path = directory / "checkpoints.jsonl"
        self._holds_path = directory / "holds.json"
        self._lock_path = directory / ".lock"

    @classmethod
    async def open(cls, directory: str | Path) -> JsonlAuditStore:
        store = cls(Path(directory))

        def prepare() -> None:
            store.directory.mkdir(parents=True, exist_ok=True)
            for path in (store.records_path, store._checkpoints_path, store._lock_path):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            fsync_directory(store.directory)

        try:
            await asyncio.to_thread(prepare)
        except OSError as error:
            raise StorageError(f"cannot open audit directory: {error.strerror}") from None
        return store

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(descriptor)

    async def _run(self, work: Callable[[], _T], *, exclusive: bool) -> _T:
        def locked() -> _T:
            with self._locked(exclusive=exclusive):
                return work()

        try:
            return await asyncio.to_thread(locked)
        except OSError as error:
            raise StorageError(f"audit files failed: {error.strerror}") from None

    # -- files, always called under the lock --------------------------------

    def _read_checkpoints(self) -> list[Checkpoint]:
        return [stored_checkpoint(raw) for raw in self._checkpoints_path.read_bytes().splitlines()]

    def _append_lines(self, path: Path, data: bytes) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            written = os.write(descriptor, data)
            if written != len(data):
                raise StorageError("short write to the audit log")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _cut_torn_tail(self) -> None:
        """Drop a final line without its newline: an append that never returned."""
        size = self.records_path.stat().st_size
        if size == 0:
            return
        with self.records_path.open("rb") as handle:
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        if cut < 0 and size > len(tail):
            raise IntegrityError("records.jsonl ends in an over-long partial line")
        keep = size - len(tail) + cut + 1
        os.truncate(self.records_path, keep)
        descriptor = os.open(self.records_path, os.O_WRONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _tip(self) -> ChainTip:
        size = self.records_path.stat().st_size
        if size:
            with self.records_path.open("rb") as handle:
                handle.seek(max(0, size - _TAIL_BYTES))
                tail = handle.read()
            lines = tail.split(b"\n")
            last = lines[-2] if len(lines) >= 2 else b""
            try:
                body = json.loads(last)
                return ChainTip(int(body["seq"]), hex32(body["hash"], "hash"))
            except (ValueError, KeyError, TypeError, InvalidInput):
                raise IntegrityError("the last audit record is unreadable") from None
        truncation = latest_truncation(self._read_checkpoints())
        return truncation.tip if truncation is not None else ChainTip.genesis()

    def _read_holds(self, tip: ChainTip) -> list[LegalHold]:
        try:
            body = json.loads(self._holds_path.read_bytes())
        except FileNotFoundError:
            return []
        except ValueError:
            raise IntegrityError("holds.json is unreadable") from None
        holds = [LegalHold.from_text(text) for text in body.get("holds", [])]
        return [hold for hold in holds if hold.placed_seq <= tip.seq]

    def _write_holds(self, holds: Sequence[LegalHold]) -> None:
        with atomic_file(self._holds_path) as handle:
            handle.write(json.dumps({"holds": [h.to_text() for h in holds]}).encode())

    def _lines(self, after_seq: int) -> list[tuple[bytes, AuditRecord | MalformedRecord]]:
        """Complete lines after `after_seq` (and after the truncation point),
        each with what it parses to; unreadable lines are kept, never skipped."""
        data = self.records_path.read_bytes()
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
        truncation = latest_truncation(self._read_checkpoints())
        floor = max(after_seq, truncation.seq if truncation is not None else 0)
        lines: list[tuple[bytes, AuditRecord | MalformedRecord]] = []
        expected = floor + 1
        for raw in data.splitlines():
            record = record_from_line(raw, expected)
            if isinstance(record, AuditRecord) and record.seq <= floor:
                continue
            lines.append((raw, record))
            expected = record.seq + 1
        return lines

    # -- the AuditStore protocol --------------------------------------------

    async def append(
        self, sealer: Sealer, hold_change: PlaceHold | ReleaseHold | None = None
    ) -> Sequence[AuditRecord]:
        def work() -> Sequence[AuditRecord]:
            self._cut_torn_tail()
            tip = self._tip()
            records = sealer(tip)
            holds = self._read_holds(tip)
            if isinstance(hold_change, PlaceHold):
                hold = hold_change.build(records[-1])
                if any(existing.hold_id == hold.hold_id for existing in holds):
                    raise Conflict(f"legal hold {hold.hold_id!r} already exists")
                self._write_holds([*holds, hold])
            elif isinstance(hold_change, ReleaseHold) and not any(
                existing.hold_id == hold_change.hold_id for existing in holds
            ):
                raise NotFound(f"legal hold {hold_change.hold_id!r} does not exist")
            self._append_lines(self.records_path, b"".join(record_line(r) for r in records))
            if isinstance(hold_change, ReleaseHold):
                self._write_holds([h for h in holds if h.hold_id != hold_change.hold_id])
            return records

        return await self._run(work, exclusive=True)

    async def scan(self, after_seq: int = 0) -> AsyncIterator[AuditRecord | MalformedRecord]:
        lines = await self._run(lambda: self._lines(after_seq), exclusive=False)
        for _raw, record in lines:
            yield record

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        line = json.dumps(checkpoint.to_json(), sort_keys=True).encode() + b"\n"
        await self._run(lambda: self._append_lines(self._checkpoints_path, line), exclusive=True)

    async def checkpoints(self) -> Sequence[Checkpoint]:
        return await self._run(self._read_checkpoints, exclusive=False)

    async def holds(self) -> Sequence[LegalHold]:
        return await self._run(lambda: self._read_holds(self._tip()), exclusive=False)

    async def prune(self, cutoff_us: int, plan: PrunePlan) -> Checkpoint | None:
        def work() -> Checkpoint | None:
            self._cut_torn_tail()
            truncation = latest_truncation(self._read_checkpoints())
            start = truncation.tip if truncation is not None else ChainTip.genesis()
            lines = self._lines(0)
            candidates = [
                record for _raw, record in lines
                if isinstance(record, MalformedRecord) or record.timestamp_us < cutoff_us
            ]
            checkpoint = plan(start, self._read_holds(self._tip()), candidates)
            if checkpoint is None:
                return None
            line = json.dumps(checkpoint.to_json(), sort_keys=True).encode() + b"\n"
            self._append_lines(self._checkpoints_path, line)
            with atomic_file(self.records_path) as handle:
                for raw, record in lines:
                    if record.seq > checkpoint.seq:
                        handle.write(raw + b"\n")
            return checkpoint

        return await self._run(work, exclusive=True)

    async def close(self) -> None:
        return None
