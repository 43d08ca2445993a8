"""Correlation ids: one token per request, carried implicitly through async code.

A correlation id is 1..128 RFC 7230 token characters (letters, digits and
!#$%&'*+-.^_`|~), so it is safe in a header, a log line and a file name, and
can never smuggle whitespace or a line break into a log. The current id lives
in a `ContextVar`: every task spawned inside `correlation_scope` inherits it,
and leaving the scope restores the outer one. An invalid id from a client is
refused with a typed error that does not echo it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from platform_core.errors import InvalidInput

__all__ = [
    "CORRELATION_HEADER",
    "CorrelationIdLogFilter",
    "InvalidCorrelationId",
    "correlation_id_from_header",
    "correlation_scope",
    "current_correlation_id",
    "new_correlation_id",
    "validate_correlation_id",
]

CORRELATION_HEADER = "x-correlation-id"
MAX_LENGTH = 128
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
_current: ContextVar[str | None] = ContextVar("platform_core_correlation_id", default=None)


class InvalidCorrelationId(InvalidInput):
    """The supplied correlation id is not 1..128 RFC 7230 token characters."""


def validate_correlation_id(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidCorrelationId("correlation id must be a string")
    if not _TOKEN.fullmatch(value):
        raise InvalidCorrelationId(
            f"correlation id must be 1..{MAX_LENGTH} RFC 7230 token characters"
            f" (got {len(value)} characters)"
        )
    return value


def new_correlation_id() -> str:
    """A fresh 128-bit random id (32 hex characters)."""
    return secrets.token_hex(16)


def correlation_id_from_header(value: str | None) -> str:
    """The id a request carries, or a fresh one if it carries none."""
    if value is None or value == "":
        return new_correlation_id()
    return validate_correlation_id(value)


def current_correlation_id() -> str | None:
    return _current.get()


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Make `correlation_id` (or a fresh one) current for the enclosed code."""
    value = new_correlation_id() if correlation_id is None else validate_correlation_id(
        correlation_id
    )
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


class CorrelationIdLogFilter(logging.Filter):
    """Adds `record.correlation_id` ("-" outside a scope) for log formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get() or "-"
        return True
