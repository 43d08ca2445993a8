"""Opaque bearer tokens checked by RFC 7662 token introspection.

The authorization server is asked on every request (no caching), so a token
it revokes stops working at once. Anything but an HTTP 200 JSON object with
`"active": true` (the JSON boolean, not a truthy string), a matching issuer,
audience and time window is `Unauthenticated`: errors, timeouts and odd
answers fail closed. The client secret and the token never reach a log line.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from platform_core.errors import InvalidInput, Unauthenticated
from platform_core.identity.endpoint import trusted_url
from platform_core.identity.principal import (
    CredentialKind,
    Principal,
    PrincipalKind,
    oidc_subject,
)
from platform_core.identity.secret import Secret

__all__ = ["IntrospectionSettings", "TokenIntrospector"]

logger = logging.getLogger(__name__)

_MAX_RESPONSE_BYTES = 64 * 1024


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{attribute.name} must be a non-empty string")


def _seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise InvalidInput(f"{attribute.name} must be a non-negative number of seconds")


@attrs.frozen
class IntrospectionSettings:
    """Where and how to introspect. Tokens are attributed to `issuer`; an
    answer naming another issuer is rejected. With `audience` set, the answer
    must list it in `aud`."""

    endpoint: str = attrs.field(validator=trusted_url)
    client_id: str = attrs.field(validator=_non_empty)
    client_secret: Secret
    issuer: str = attrs.field(validator=_non_empty)
    audience: str | None = None
    leeway_seconds: float = attrs.field(default=60.0, validator=_seconds)
    timeout_seconds: float = attrs.field(default=5.0, validator=_seconds)
    tenant_claim: str | None = None


def _audiences(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _number(answer: Mapping[str, Any], name: str) -> float | None:
    value = answer.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthenticated(f"introspection answer has a malformed {name!r}")
    return float(value)


class TokenIntrospector:
    """Turns an opaque token into a `Principal` by asking the authorization server."""

    def __init__(
        self,
        settings: IntrospectionSettings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock

    async def verify(self, token: Secret | str) -> Principal:
        """The principal of an active token; `Unauthenticated` otherwise."""
        plain = token.reveal() if isinstance(token, Secret) else token
        if not plain:
            raise Unauthenticated("empty token")
        answer = await self._introspect(plain)
        return self._principal(answer)

    async def _introspect(self, token: str) -> Mapping[str, Any]:
        settings = self._settings
        try:
            response = await self._http.post(
                settings.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(settings.client_id, settings.client_secret.reveal()),
                headers={"Accept": "application/json"},
                timeout=settings.timeout_seconds,
            )
        except httpx.HTTPError as error:
            logger.warning("token introspection failed: %s", type(error).__name__)
            raise Unauthenticated("token introspection unavailable") from error
        if response.status_code != 200:
            logger.warning("token introspection answered HTTP %d", response.status_code)
            raise Unauthenticated("token introspection unavailable")
        if len(response.content) > _MAX_RESPONSE_BYTES:
            raise Unauthenticated("token introspection answer too large")
        try:
            answer = json.loads(response.content)
        except ValueError as error:
            raise Unauthenticated("token introspection answer is not JSON") from error
        if not isinstance(answer, dict):
            raise Unauthenticated("token introspection answer is not an object")
        return answer

    def _principal(self, answer: Mapping[str, Any]) -> Principal:
        settings = self._settings
        if answer.get("active") is not True:
            raise Unauthenticated("token is not active")
        issuer = answer.get("iss", settings.issuer)
        if issuer != settings.issuer:
            raise Unauthenticated("token issued by an untrusted issuer")
        if settings.audience is not None and settings.audience not in _audiences(
            answer.get("aud")
        ):
            raise Unauthenticated("token not intended for this audience")
        now = self._clock()
        expires_at = _number(answer, "exp")
        if expires_at is not None and expires_at <= now - settings.leeway_seconds:
            raise Unauthenticated("token expired")
        not_before = _number(answer, "nbf")
        if not_before is not None and not_before > now + settings.leeway_seconds:
            raise Unauthenticated("token not yet valid")
        sub, client_id = answer.get("sub"), answer.get("client_id")
        subject = sub if isinstance(sub, str) and sub else client_id
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("introspection answer names no subject")
        is_service = not (isinstance(sub, str) and sub) or sub == client_id
        scope = answer.get("scope")
        tenant = answer.get(settings.tenant_claim) if settings.tenant_claim else None
        username = answer.get("username")
        return Principal(
            subject=oidc_subject(settings.issuer, subject),
            kind=PrincipalKind.SERVICE if is_service else PrincipalKind.USER,
            credential=CredentialKind.OPAQUE_TOKEN,
            tenant_id=tenant if isinstance(tenant, str) and tenant else None,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            expires_at=expires_at,
            display_name=username if isinstance(username, str) else None,
        )
