"""Quota periods: which counting window an instant falls in.

A window is named by its start in epoch seconds (UTC), so every process that
reads the same clock agrees on the window without coordination, and a counter
row for a new window starts at zero without any reset job.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from platform_core.errors import InvalidInput

__all__ = ["CalendarMonth", "FixedWindow", "Lifetime", "Period"]


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise InvalidInput("quota clocks must return timezone-aware datetimes")
    return at.astimezone(UTC)


@attrs.frozen
class Lifetime:
    """One window for ever: usage never resets (e.g. registry entries, stored bytes)."""

    def window_start(self, at: datetime) -> int:
        _utc(at)
        return 0

    def window_end(self, start: int) -> int | None:
        return None


@attrs.frozen
class CalendarMonth:
    """Calendar months in UTC, from the first day 00:00 to the next first day."""

    def window_start(self, at: datetime) -> int:
        moment = _utc(at)
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())

    def window_end(self, start: int) -> int | None:
        first = datetime.fromtimestamp(start, UTC)
        year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def _positive_seconds(_instance: object, _attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput("a fixed window must last a whole number of seconds >= 1")


@attrs.frozen
class FixedWindow:
    """Back-to-back windows of `seconds`, aligned to the Unix epoch (so a day is a UTC day)."""

    seconds: int = attrs.field(validator=_positive_seconds)

    def window_start(self, at: datetime) -> int:
        epoch = int(_utc(at).timestamp())
        return epoch - epoch % self.seconds

    def window_end(self, start: int) -> int | None:
        return start + self.seconds


Period = Lifetime | CalendarMonth | FixedWindow
