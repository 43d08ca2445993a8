"""Legal holds: standing orders that exempt covered records from retention.

A hold covers records by tenant, by time range [start, end), or both (then a
record must match both). A hold that names neither would silently freeze
everything, so it is refused. Holds live beside the chain and change only in
the same transaction as the audit record that places or releases them, so the
log always says who froze or unfroze what.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import attrs

from platform_core.auditlog.chain import AuditRecord, parse_rfc3339, rfc3339
from platform_core.errors import IntegrityError, InvalidInput

__all__ = ["LegalHold"]

_HOLD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def _check_id(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _HOLD_ID.fullmatch(value):
        raise InvalidInput("legal hold id: 1..128 of letters, digits, '.', '_', ':' or '-'")


def _check_moment(_instance: object, attribute: Any, value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidInput(f"legal hold {attribute.name}: must be a timezone-aware datetime")


@attrs.frozen
class LegalHold:
    hold_id: str = attrs.field(validator=_check_id)
    reason: str = attrs.field(validator=attrs.validators.instance_of(str))
    placed_seq: int
    tenant: str | None = None
    start: datetime | None = attrs.field(default=None, validator=_check_moment)
    end: datetime | None = attrs.field(default=None, validator=_check_moment)

    def __attrs_post_init__(self) -> None:
        if self.tenant is None and self.start is None and self.end is None:
            raise InvalidInput("a legal hold must name a tenant, a time range, or both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("legal hold: end must be after start")
        if not self.reason.strip() or len(self.reason) > 1024:
            raise InvalidInput("legal hold reason: 1..1024 characters")

    def covers(self, record: AuditRecord) -> bool:
        if self.tenant is not None and record.event.tenant != self.tenant:
            return False
        if self.start is not None and record.timestamp < self.start:
            return False
        return not (self.end is not None and record.timestamp >= self.end)

    def scope_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"hold_id": self.hold_id, "reason": self.reason}
        if self.tenant is not None:
            body["tenant"] = self.tenant
        if self.start is not None:
            body["start"] = rfc3339(self.start)
        if self.end is not None:
            body["end"] = rfc3339(self.end)
        return body

    def to_text(self) -> str:
        return json.dumps({**self.scope_json(), "placed_seq": self.placed_seq}, sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> LegalHold:
        """Read a stored hold; anything unreadable is an `IntegrityError`."""
        try:
            body = json.loads(text)
            start, end = body.get("start"), body.get("end")
            return cls(
                hold_id=body["hold_id"],
                reason=body["reason"],
                placed_seq=int(body["placed_seq"]),
                tenant=body.get("tenant"),
                start=parse_rfc3339(start) if start is not None else None,
                end=parse_rfc3339(end) if end is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, InvalidInput):
            raise IntegrityError("a stored legal hold is unreadable") from None
