"""`Secret`: a credential value that never shows itself by accident.

Bearer tokens, API key tokens and client secrets travel through the identity
code wrapped in `Secret`, so a stray `repr`, f-string, log call or exception
message shows `***` instead of the value. The plaintext is reachable only via
`reveal()`, which makes every place that handles it easy to find in review.
"""

from __future__ import annotations

import hmac

import attrs

__all__ = ["Secret"]

MASK = "***"


@attrs.frozen(repr=False, eq=False)
class Secret:
    """An opaque credential string; equality is constant-time."""

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """The plaintext; call only where the credential is actually used."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))
