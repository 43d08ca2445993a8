"""Principals: who is calling, whatever credential they presented.

A `Principal` carries a stable `subject` that authorization, quotas and audit
records key on. The subject depends on who the caller is, not on how they
proved it: an OIDC user keeps `oidc:<issuer>#<sub>` whether they sent a JWT or
an opaque token introspected at the same issuer, and an API key keeps
`apikey:<key_id>` across secret rotations. Principals never hold credentials.
"""

from __future__ import annotations

import enum

import attrs

from platform_core.errors import InvalidInput

__all__ = [
    "CredentialKind",
    "Principal",
    "PrincipalKind",
    "api_key_subject",
    "oidc_subject",
]


class PrincipalKind(enum.Enum):
    """A person, or a workload acting for itself."""

    USER = "user"
    SERVICE = "service"


class CredentialKind(enum.Enum):
    """How the principal proved who it is; recorded for audit, never for identity."""

    OIDC_JWT = "oidc_jwt"
    OPAQUE_TOKEN = "opaque_token"  # noqa: S105 (a label, not a secret)
    API_KEY = "api_key"


def oidc_subject(issuer: str, subject: str) -> str:
    """The stable subject id of an OIDC identity: issuer and `sub` together,
    because `sub` is unique only within its issuer."""
    if not issuer or not subject:
        raise InvalidInput("an OIDC subject needs a non-empty issuer and sub")
    return f"oidc:{issuer}#{subject}"


def api_key_subject(key_id: str) -> str:
    """The stable subject id of an API key; unchanged by rotation."""
    if not key_id:
        raise InvalidInput("an API key subject needs a non-empty key id")
    return f"apikey:{key_id}"


@attrs.frozen
class Principal:
    """An authenticated caller.

    `tenant_id` is set when the credential itself is bound to one tenant (API
    keys are); a principal bound to a tenant can never act in another one.
    `expires_at` is when the credential stops being valid (epoch seconds), if known.
    """

    subject: str
    kind: PrincipalKind
    credential: CredentialKind
    tenant_id: str | None = None
    scopes: frozenset[str] = frozenset()
    expires_at: float | None = None
    display_name: str | None = None
