"""The JSON-lines audit sink: one compact JSON object per line, appended.

With a path, lines are appended to that file (created 0600 if missing, parent
directories created, never through a symlink) and flushed, optionally
fsynced, before `emit` returns, so an event that returned is on disk. Without
a path, lines go to stderr. A write that fails raises `AuditSinkError`, which
fails the call being recorded. Writes are serialised: lines never interleave.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import IO

from decision_gate.core.errors import InternalError
from decision_gate.seams.audit_sink import AuditEvent

__all__ = ["AuditSinkError", "JsonlAuditSink"]


class AuditSinkError(InternalError):
    """The audit sink could not write an event."""


class JsonlAuditSink:
    def __init__(self, path: str | os.PathLike[str] | None = None, *, fsync: bool = False) -> None:
        self.path = None if path is None else Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False

    def _open(self) -> int:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        return os.open(self.path, flags, 0o600)

    def _write(self, line: bytes) -> None:
        with self._lock:
            if self._closed:
                raise AuditSinkError("audit sink is closed")
            if self.path is None:
                stream: IO[bytes] = sys.stderr.buffer
                stream.write(line)
                stream.flush()
                return
            try:
                if self._fd is None:
                    self._fd = self._open()
                written = 0
                while written < len(line):
                    written += os.write(self._fd, line[written:])
                if self._fsync:
                    os.fsync(self._fd)
            except OSError as error:
                raise AuditSinkError(
                    f"audit log {self.path} could not be written: {error.strerror}"
                ) from None

    async def emit(self, event: AuditEvent) -> None:
        line = event.to_json_line().encode("utf-8")
        await asyncio.to_thread(self._write, line)

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
