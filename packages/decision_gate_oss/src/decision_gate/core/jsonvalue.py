"""JSON values with the number model of the reference (placeholder; owned by the canonical-JSON work)."""

from __future__ import annotations

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
