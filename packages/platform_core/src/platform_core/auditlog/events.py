"""What an audit record says: the event value and its canonical JSON form.

An `AuditEvent` is the part of a record the caller supplies; the chain adds the
sequence number, timestamp and hashes. Its canonical JSON (sorted keys, no
whitespace, UTF-8, no NaN) is the exact byte string the chain hashes, so the
same event always hashes the same in every backend and in every export. Event
values are validated on construction: a kind outside the dotted-name grammar,
a non-JSON detail, or a payload above `MAX_EVENT_BYTES` is an `InvalidInput`.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from platform_core.errors import InvalidInput

__all__ = [
    "MAX_EVENT_BYTES",
    "Action",
    "AuditEvent",
    "Outcome",
    "canonical_json",
]

MAX_EVENT_BYTES = 64 * 1024
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_MAX_TEXT = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Action(enum.Enum):
    """What the audited operation did to its target (the OCSF activity)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    OTHER = "other"


class Outcome(enum.Enum):
    """Whether the audited operation succeeded."""

    SUCCESS = "success"
    FAILURE = "failure"


def canonical_json(value: object) -> bytes:
    """The one byte form of a JSON value that the chain hashes.

    Refuses anything that would not read back as itself: non-string keys,
    tuples, sets, bytes, NaN and infinities.
    """
    try:
        encoded = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError):
        raise InvalidInput(
            "audit event: not plain JSON (string keys, lists, finite numbers only)"
        ) from None
    if json.loads(encoded) != value:
        raise InvalidInput("audit event: not plain JSON (string keys, lists, finite numbers only)")
    return encoded.encode("utf-8")


def _optional_text(name: str) -> Any:
    def check(_instance: object, _attribute: object, value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
            raise InvalidInput(f"audit event {name}: must be 1..{_MAX_TEXT} characters")
        if _CONTROL.search(value):
            raise InvalidInput(f"audit event {name}: control characters are not allowed")

    return check


def _check_kind(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or len(value) > 128 or not _KIND.fullmatch(value):
        raise InvalidInput(
            "audit event kind: must be a dotted lower-case name such as 'tenant.created'"
        )


def _check_ip(_instance: object, _attribute: object, value: str | None) -> None:
    if value is None:
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise InvalidInput("audit event source_ip: not an IP address") from None


def _frozen_details(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("audit event details: must be a JSON object")
    encoded = canonical_json(dict(value))
    if len(encoded) > MAX_EVENT_BYTES:
        raise InvalidInput(f"audit event details: larger than {MAX_EVENT_BYTES} bytes")
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


@attrs.frozen
class AuditEvent:
    """One audited fact. Never put secrets or raw request payloads in `details`.

    `details` is a private copy taken at construction and its canonical bytes
    are fixed then: treat it as read-only.
    """

    kind: str = attrs.field(validator=_check_kind)
    action: Action = attrs.field(
        default=Action.OTHER, validator=attrs.validators.instance_of(Action)
    )
    outcome: Outcome = attrs.field(
        default=Outcome.SUCCESS, validator=attrs.validators.instance_of(Outcome)
    )
    tenant: str | None = attrs.field(default=None, validator=_optional_text("tenant"))
    actor: str | None = attrs.field(default=None, validator=_optional_text("actor"))
    correlation_id: str | None = attrs.field(
        default=None, validator=_optional_text("correlation_id")
    )
    source_ip: str | None = attrs.field(default=None, validator=_check_ip)
    details: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_details, eq=True)
    _canonical: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        encoded = canonical_json(self.to_json())
        if len(encoded) > MAX_EVENT_BYTES:
            raise InvalidInput(f"audit event: larger than {MAX_EVENT_BYTES} bytes")
        object.__setattr__(self, "_canonical", encoded)

    def to_json(self) -> dict[str, Any]:
        """The wire form; absent optional fields are omitted, not null."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "action": self.action.value,
            "outcome": self.outcome.value,
            "details": self.details,
        }
        for name in ("tenant", "actor", "correlation_id", "source_ip"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body

    def canonical_bytes(self) -> bytes:
        """Computed once at construction; `details` is a private copy."""
        return self._canonical

    @classmethod
    def from_json(cls, body: object) -> AuditEvent:
        """Parse the wire form; anything unexpected is an `InvalidInput`."""
        if not isinstance(body, Mapping):
            raise InvalidInput("audit event: must be a JSON object")
        known = {"kind", "action", "outcome", "details", "tenant", "actor", "correlation_id",
                 "source_ip"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise InvalidInput(f"audit event: unknown field {unknown[0]!r}")
        try:
            action = Action(body.get("action", "other"))
            outcome = Outcome(body.get("outcome", "success"))
        except ValueError:
            raise InvalidInput("audit event: unknown action or outcome") from None
        return cls(
            kind=body.get("kind"),  # type: ignore[arg-type]
            action=action,
            outcome=outcome,
            tenant=body.get("tenant"),
            actor=body.get("actor"),
            correlation_id=body.get("correlation_id"),
            source_ip=body.get("source_ip"),
            details=body.get("details", {}),
        )
