"""Correlation ids (server.md §3.10): the client's, validated, and the server's own.

A client may name its request with `x-correlation-id`; the value is echoed
back and recorded, so it must be a short, printable HTTP token (it ends up
in headers and log lines). Anything else is refused with a label saying
why, checked in the reference's order. Every `/rpc` response carries the
server's id `dg-<boot>-<seq>`: a random 64-bit boot id per process and a
sequence that only grows, so ids are unique across restarts and ordered
within one process.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
from typing import Final

MAX_CORRELATION_ID_CHARS: Final = 128
_TOKEN_CHARS: Final = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def correlation_id_problem(raw: str) -> str | None:
    """Why `raw` is not an acceptable correlation id (a label), or None if it is."""
    value = raw.strip()
    if not value:
        return "empty_after_trim"
    if len(value) > MAX_CORRELATION_ID_CHARS:
        return "too_long"
    if not value.isascii():
        return "non_ascii"
    if any(char.isspace() for char in value):
        return "contains_whitespace"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "contains_control_char"
    if any(char not in _TOKEN_CHARS for char in value):
        return "contains_disallowed_char"
    return None


def sanitize_correlation_id(raw: str) -> str | None:
    """The value to echo and record (trimmed), or None if it is not acceptable."""
    return None if correlation_id_problem(raw) is not None else raw.strip()


class ServerCorrelationIds:
    """Issues `dg-{boot:016x}-{seq:016x}`; thread-safe (stdio and HTTP may share it)."""

    def __init__(self, boot_id: int | None = None) -> None:
        self.boot_id = secrets.randbits(64) if boot_id is None else boot_id
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    def issue(self) -> str:
        with self._lock:
            sequence = next(self._sequence)
        return f"dg-{self.boot_id:016x}-{sequence:016x}"
