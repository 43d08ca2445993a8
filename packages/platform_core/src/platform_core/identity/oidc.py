"""OIDC bearer tokens: JWKS key cache and JWT validation (RFC 7519, RFC 8725).

Invariants:
- A key's algorithm is decided by the key (its `alg`, else its `kty`/`crv`),
  never by the token header. `none` and every HMAC algorithm are refused: a
  public JWKS never carries a symmetric key, so an RSA public key can never be
  abused as an HS256 secret.
- Only the public parameters of a published key are imported.
- An unknown `kid` costs at most one JWKS fetch per `refresh_cooldown_seconds`,
  and concurrent callers share one in-flight fetch, so a flood of random kids
  cannot stampede the IdP.
- When the JWKS endpoint is unreachable, keys from the last successful fetch
  keep working until `max_key_age_seconds`, then every token fails closed.
- `iss`, `aud`, `exp` and `sub` are required; `exp`, `nbf` and `iat` are
  checked against the injected clock with an explicit leeway.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
from joserfc import jwk, jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)

from platform_core.errors import InvalidInput, Unauthenticated
from platform_core.identity.endpoint import trusted_url
from platform_core.identity.principal import (
    CredentialKind,
    Principal,
    PrincipalKind,
    oidc_subject,
)
from platform_core.identity.secret import Secret

__all__ = ["JwksKeyCache", "OidcSettings", "OidcTokenVerifier", "PinnedKey"]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHM_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_OKP_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})
_MIN_RSA_BITS = 2048
_MAX_TOKEN_BYTES = 16 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,9})\"?", re.IGNORECASE)


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{attribute.name} must be a positive number")
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"{attribute.name} must be a positive number")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{attribute.name} must be a non-empty string")


def _leeway(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0 <= value <= 300):
        raise InvalidInput("leeway_seconds must be between 0 and 300")


@attrs.frozen
class OidcSettings:
    """How to trust one OIDC issuer. Times in seconds.

    `refresh_after_seconds`: a cache older than this is refreshed on the next
    request; a JWKS answer with `Cache-Control: max-age` may shorten it (IdPs
    do so near a rotation) but never below the cooldown.
    `refresh_cooldown_seconds`: minimum interval between two JWKS fetches,
    whatever triggers them. `max_key_age_seconds`: keys older than
    this (since the last successful fetch) are no longer trusted.
    """

    issuer: str = attrs.field(validator=_non_empty)
    audience: str = attrs.field(validator=_non_empty)
    jwks_uri: str = attrs.field(validator=trusted_url)
    leeway_seconds: float = attrs.field(default=60.0, validator=_leeway)
    refresh_after_seconds: float = attrs.field(default=300.0, validator=_positive)
    refresh_cooldown_seconds: float = attrs.field(default=30.0, validator=_positive)
    max_key_age_seconds: float = attrs.field(default=3600.0, validator=_positive)
    fetch_timeout_seconds: float = attrs.field(default=5.0, validator=_positive)
    max_jwks_bytes: int = attrs.field(default=256 * 1024, validator=_positive)
    tenant_claim: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_key_age_seconds < self.refresh_after_seconds:
            raise InvalidInput("max_key_age_seconds must not be shorter than refresh_after_seconds")


@attrs.frozen
class PinnedKey:
    """A published verification key and the single algorithm it may verify."""

    kid: str
    alg: str
    key: jwk.Key = attrs.field(repr=False)


def _b64url_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _public_parameters(data: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(algorithm, public-only JWK) for a usable signing key, or None."""
    kty = data.get("kty")
    declared = data.get("alg")
    if kty == "RSA":
        n, e = data.get("n"), data.get("e")
        if not isinstance(n, str) or not isinstance(e, str):
            return None
        try:
            if len(_b64url_bytes(n).lstrip(b"\0")) * 8 < _MIN_RSA_BITS:
                return None
        except (binascii.Error, ValueError):
            return None
        alg = declared if declared is not None else "RS256"
        if alg not in _RSA_ALGORITHMS:
            return None
        return alg, {"kty": "RSA", "n": n, "e": e}
    if kty == "EC":
        expected = _EC_ALGORITHM_BY_CURVE.get(str(data.get("crv")))
        if expected is None or declared not in (None, expected):
            return None
        return expected, {k: data.get(k) for k in ("kty", "crv", "x", "y")}
    if kty == "OKP" and data.get("crv") == "Ed25519":
        alg = declared if declared is not None else "EdDSA"
        if alg not in _OKP_ALGORITHMS:
            return None
        return alg, {k: data.get(k) for k in ("kty", "crv", "x")}
    return None


def pin_key_set(document: object) -> dict[str, PinnedKey]:
    """Usable signing keys of a JWKS document by kid. Keys without a kid, not
    for signing, symmetric, too weak or malformed are left out; a kid that
    appears twice is left out entirely rather than guessed at."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS document is an object with a 'keys' array")
    pinned: dict[str, PinnedKey] = {}
    duplicated: set[str] = set()
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        public = _public_parameters(entry)
        if public is None:
            logger.warning("JWKS key %r skipped: not a usable signing key", kid)
            continue
        alg, parameters = public
        try:
            key = jwk.import_key(parameters)
        except (JoseError, ValueError, TypeError):
            logger.warning("JWKS key %r skipped: malformed", kid)
            continue
        if kid in pinned:
            duplicated.add(kid)
        pinned[kid] = PinnedKey(kid=kid, alg=alg, key=key)
    for kid in duplicated:
        logger.warning("JWKS key id %r is published twice; neither copy is trusted", kid)
        del pinned[kid]
    return pinned


class JwksKeyCache:
    """Verification keys of one issuer, fetched from its JWKS endpoint."""

    def __init__(self, settings: OidcSettings, http: httpx.AsyncClient, clock: Clock) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._keys: dict[str, PinnedKey] = {}
        self._fetched_at: float | None = None
        self._refresh_after = settings.refresh_after_seconds
        self._last_attempt: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    async def key_for(self, kid: str) -> PinnedKey:
        """The pinned key with this kid; `Unauthenticated` if it is unknown
        after the refresh the cooldown allows, or if the keys are too old."""
        settings = self._settings
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._refresh_after
        if stale or kid not in self._keys:
            await self._refresh()
        fetched_at = self._fetched_at
        if fetched_at is None:
            raise Unauthenticated("no signing keys: the JWKS endpoint has not answered")
        if self._clock() - fetched_at > settings.max_key_age_seconds:
            raise Unauthenticated("signing keys expired and the JWKS endpoint is unreachable")
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("token signed with an unknown key id")
        return key

    async def _refresh(self) -> None:
        inflight = self._inflight
        if inflight is not None:
            await asyncio.shield(inflight)
            return
        now = self._clock()
        if (
            self._last_attempt is not None
            and now - self._last_attempt < self._settings.refresh_cooldown_seconds
        ):
            return
        self._last_attempt = now
        task = asyncio.get_running_loop().create_task(self._fetch())
        self._inflight = task
        task.add_done_callback(self._fetch_done)
        await asyncio.shield(task)

    def _fetch_done(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> None:
        settings = self._settings
        try:
            body = bytearray()
            async with self._http.stream(
                "GET", settings.jwks_uri, timeout=settings.fetch_timeout_seconds
            ) as response:
                response.raise_for_status()
                refresh_after = self._refresh_interval(response.headers.get("cache-control"))
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > settings.max_jwks_bytes:
                        raise ValueError("JWKS document exceeds max_jwks_bytes")
            keys = pin_key_set(json.loads(body))
        except (httpx.HTTPError, ValueError, RecursionError) as error:
            logger.warning(
                "JWKS fetch from %s failed (%s); keeping %d cached keys",
                settings.jwks_uri,
                type(error).__name__,
                len(self._keys),
            )
            return
        self._keys = keys
        self._refresh_after = refresh_after
        self._fetched_at = self._clock()

    def _refresh_interval(self, cache_control: str | None) -> float:
        settings = self._settings
        match = _MAX_AGE.search(cache_control or "")
        if match is None:
            return settings.refresh_after_seconds
        advertised = float(match.group(1))
        shortest = settings.refresh_cooldown_seconds
        return max(shortest, min(advertised, settings.refresh_after_seconds))


def _segment_json(segment: str) -> object:
    try:
        return json.loads(_b64url_bytes(segment))
    except (binascii.Error, ValueError, RecursionError) as error:
        raise Unauthenticated("malformed token") from error


def _token_header(token: str) -> tuple[str, str]:
    """(alg, kid) of a compact JWS, read without trusting either."""
    if len(token) > _MAX_TOKEN_BYTES:
        raise Unauthenticated("token too large")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise Unauthenticated("malformed token")
    header = _segment_json(parts[0])
    if not isinstance(header, dict):
        raise Unauthenticated("malformed token")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or not isinstance(kid, str) or not kid:
        raise Unauthenticated("token header needs an alg and a kid")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in {"jwt", "at+jwt"}):
        raise Unauthenticated("token type is not a JWT access token")
    return alg, kid


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    return frozenset()


def principal_kind(claims: Mapping[str, Any]) -> PrincipalKind:
    """A client-credentials token (its subject is the client itself) is a service."""
    subject = claims.get("sub")
    if claims.get("gty") == "client-credentials":
        return PrincipalKind.SERVICE
    if any(claims.get(name) == subject for name in ("client_id", "azp", "cid")):
        return PrincipalKind.SERVICE
    return PrincipalKind.USER


class OidcTokenVerifier:
    """Turns a signed JWT from one trusted issuer into a `Principal`."""

    def __init__(
        self,
        settings: OidcSettings,
        http: httpx.AsyncClient,
        *,
        clock: Clock = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.keys = JwksKeyCache(settings, http, clock)

    async def verify(self, token: Secret | str) -> Principal:
        """The principal of a valid token; `Unauthenticated` (with a reason
        that never contains the token) for anything else."""
        plain = token.reveal() if isinstance(token, Secret) else token
        alg, kid = _token_header(plain)
        pinned = await self.keys.key_for(kid)
        if alg != pinned.alg:
            raise Unauthenticated(f"algorithm {alg!r} is not the one pinned for this key")
        try:
            decoded = jwt.decode(plain, pinned.key, algorithms=[pinned.alg])
        except JoseError as error:
            raise Unauthenticated("token signature is invalid") from error
        claims = decoded.claims
        self._validate_claims(claims)
        tenant_claim = self._settings.tenant_claim
        tenant = claims.get(tenant_claim) if tenant_claim else None
        return Principal(
            subject=oidc_subject(claims["iss"], claims["sub"]),
            kind=principal_kind(claims),
            credential=CredentialKind.OIDC_JWT,
            tenant_id=tenant if isinstance(tenant, str) and tenant else None,
            scopes=_scopes(claims),
            expires_at=float(claims["exp"]),
            display_name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        )

    def _validate_claims(self, claims: dict[str, Any]) -> None:
        settings = self._settings
        registry = jwt.JWTClaimsRegistry(
            now=lambda: math.floor(self._clock()),
            leeway=math.ceil(settings.leeway_seconds),
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise Unauthenticated("token expired") from error
        except MissingClaimError as error:
            raise Unauthenticated(f"token lacks required claims: {error.description}") from error
        except InvalidClaimError as error:
            raise Unauthenticated(f"token claim rejected: {error.description}") from error
        except JoseError as error:
            raise Unauthenticated("token claims are invalid") from error
