"""`BearerAuthenticator`: one entry point from an `Authorization` header to a `Principal`.

The token's shape picks the verifier: the API key prefix (with a valid
checksum) goes to the API key registry, a three-part compact JWS to OIDC
validation, anything else to introspection. A shape with no configured
verifier is rejected, never passed to another verifier, so an API key can
never be sent to the IdP's introspection endpoint by mistake.
"""

from __future__ import annotations

import re

from platform_core.errors import Unauthenticated
from platform_core.identity.api_keys import ApiKeyRegistry
from platform_core.identity.introspection import TokenIntrospector
from platform_core.identity.oidc import OidcTokenVerifier
from platform_core.identity.principal import Principal
from platform_core.identity.secret import Secret

__all__ = ["BearerAuthenticator", "bearer_token"]

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def bearer_token(authorization: str | None) -> Secret:
    """The credential of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("authorization header is not a bearer token")
    return Secret(token)


class BearerAuthenticator:
    """Routes a bearer credential to the verifier its shape calls for."""

    def __init__(
        self,
        *,
        api_keys: ApiKeyRegistry | None = None,
        oidc: OidcTokenVerifier | None = None,
        introspection: TokenIntrospector | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._oidc = oidc
        self._introspection = introspection
        self._api_key_prefix = api_keys.prefix if api_keys is not None else "dgk_"

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an `Authorization` header value."""
        token = bearer_token(authorization)
        plain = token.reveal()
        if plain.startswith(self._api_key_prefix):
            if self._api_keys is None:
                raise Unauthenticated("API keys are not accepted here")
            return await self._api_keys.authenticate(token)
        if _COMPACT_JWS.fullmatch(plain):
            if self._oidc is None:
                raise Unauthenticated("JWT bearer tokens are not accepted here")
            return await self._oidc.verify(token)
        if self._introspection is None:
            raise Unauthenticated("opaque bearer tokens are not accepted here")
        return await self._introspection.verify(token)
