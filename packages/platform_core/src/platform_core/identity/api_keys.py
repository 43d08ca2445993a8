"""API keys: issue, authenticate, rotate, revoke and list.

Token format: `<prefix><credential id: 16><secret: 32><checksum: 6>`, all
base62 after the prefix (default `dgk_`). The prefix lets secret scanners
recognise a leaked key; the checksum (CRC32 of everything before it, base62)
lets them, and us, reject a typo or a random string before any lookup.

The token is shown once, at issue or rotation. The store keeps only SHA-256 of
the whole token. A slow KDF (bcrypt, scrypt, Argon2) protects low-entropy
passwords against offline guessing; a token carries ~190 random bits, which no
amount of guessing covers, so SHA-256 is as safe here and keeps every request
cheap (a slow KDF on the hot path would also hand attackers a CPU-exhaustion
lever). Hashes are compared with `hmac.compare_digest`.

Authentication reads the store on every call, so a revocation takes effect on
the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import zlib
from collections.abc import Callable

import attrs

from platform_core.errors import InvalidInput, NotFound, Unauthenticated
from platform_core.identity.api_key_store import ApiKeyCredential, ApiKeyStore
from platform_core.identity.principal import (
    CredentialKind,
    Principal,
    PrincipalKind,
    api_key_subject,
)
from platform_core.identity.secret import Secret

__all__ = [
    "ApiKeyInfo",
    "ApiKeyRegistry",
    "IssuedApiKey",
    "checksum",
    "looks_like_api_key",
]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CREDENTIAL_ID_LENGTH = 16
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
_BODY_LENGTH = CREDENTIAL_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
_PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{1,15}_")
_BASE62_PATTERN = re.compile(r"[0-9A-Za-z]+")
_MAX_LABEL = 200


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def checksum(text: str) -> str:
    """CRC32 of `text` as six base62 digits (62**6 > 2**32, so it never truncates)."""
    return _base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


def looks_like_api_key(token: str, prefix: str = "dgk_") -> bool:
    """Whether `token` has the prefix, length, alphabet and checksum of a key."""
    if not token.startswith(prefix) or len(token) != len(prefix) + _BODY_LENGTH:
        return False
    body = token[len(prefix) :]
    if not _BASE62_PATTERN.fullmatch(body):
        return False
    return hmac.compare_digest(token[-CHECKSUM_LENGTH:], checksum(token[:-CHECKSUM_LENGTH]))


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _label(value: str, what: str) -> str:
    if not value or len(value) > _MAX_LABEL or not value.isprintable():
        raise InvalidInput(f"{what} must be 1-{_MAX_LABEL} printable characters")
    return value


@attrs.frozen
class ApiKeyInfo:
    """What may be shown about a key credential: everything but the secret."""

    key_id: str
    credential_id: str
    tenant_id: str
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    token_prefix: str

    @classmethod
    def of(cls, credential: ApiKeyCredential, prefix: str) -> ApiKeyInfo:
        return cls(
            key_id=credential.key_id,
            credential_id=credential.credential_id,
            tenant_id=credential.tenant_id,
            name=credential.name,
            created_at=credential.created_at,
            expires_at=credential.expires_at,
            revoked_at=credential.revoked_at,
            token_prefix=f"{prefix}{credential.credential_id}",
        )


@attrs.frozen
class IssuedApiKey:
    """A freshly issued credential and its token: the only time the token exists."""

    info: ApiKeyInfo
    token: Secret


class ApiKeyRegistry:
    """The lifecycle of API keys on top of an `ApiKeyStore`."""

    def __init__(
        self,
        store: ApiKeyStore,
        *,
        prefix: str = "dgk_",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _PREFIX_PATTERN.fullmatch(prefix):
            raise InvalidInput("an API key prefix is 2-16 lowercase letters/digits and a final '_'")
        self._store = store
        self._prefix = prefix
        self._clock = clock

    @property
    def prefix(self) -> str:
        """The prefix every token of this registry starts with."""
        return self._prefix

    def _new_credential(
        self, key_id: str, tenant_id: str, name: str, expires_at: float | None
    ) -> tuple[ApiKeyCredential, Secret]:
        credential_id = _random_base62(CREDENTIAL_ID_LENGTH)
        unsigned = f"{self._prefix}{credential_id}{_random_base62(SECRET_LENGTH)}"
        token = unsigned + checksum(unsigned)
        credential = ApiKeyCredential(
            credential_id=credential_id,
            key_id=key_id,
            tenant_id=tenant_id,
            name=name,
            secret_hash=_token_hash(token),
            created_at=self._clock(),
            expires_at=expires_at,
        )
        return credential, Secret(token)

    async def issue(
        self, tenant_id: str, name: str, *, expires_at: float | None = None
    ) -> IssuedApiKey:
        """Create a key for `tenant_id`; the returned token is never shown again."""
        _label(tenant_id, "tenant id")
        _label(name, "key name")
        if expires_at is not None and expires_at <= self._clock():
            raise InvalidInput("an API key must expire in the future")
        key_id = _random_base62(CREDENTIAL_ID_LENGTH)
        credential, token = self._new_credential(key_id, tenant_id, name, expires_at)
        await self._store.insert(credential)
        return IssuedApiKey(ApiKeyInfo.of(credential, self._prefix), token)

    async def authenticate(self, token: Secret | str) -> Principal:
        """The principal of a valid, unrevoked, unexpired key; `Unauthenticated` otherwise."""
        plain = token.reveal() if isinstance(token, Secret) else token
        if not looks_like_api_key(plain, self._prefix):
            raise Unauthenticated("malformed API key")
        credential_id = plain[len(self._prefix) : len(self._prefix) + CREDENTIAL_ID_LENGTH]
        credential = await self._store.get(credential_id)
        if credential is None:
            raise Unauthenticated("unknown API key")
        if not hmac.compare_digest(credential.secret_hash, _token_hash(plain)):
            raise Unauthenticated("unknown API key")
        if credential.revoked_at is not None:
            raise Unauthenticated("API key revoked")
        if credential.expires_at is not None and credential.expires_at <= self._clock():
            raise Unauthenticated("API key expired")
        return Principal(
            subject=api_key_subject(credential.key_id),
            kind=PrincipalKind.SERVICE,
            credential=CredentialKind.API_KEY,
            tenant_id=credential.tenant_id,
            expires_at=credential.expires_at,
            display_name=credential.name,
        )

    async def rotate(self, key_id: str, *, overlap_seconds: float) -> IssuedApiKey:
        """A new token for the same key; older tokens stay valid for `overlap_seconds`."""
        if overlap_seconds < 0:
            raise InvalidInput("the rotation overlap cannot be negative")
        existing = await self._store.list_for_key(key_id)
        if not existing:
            raise NotFound(f"API key {key_id!r} does not exist")
        newest = existing[-1]
        now = self._clock()
        credential, token = self._new_credential(
            key_id, newest.tenant_id, newest.name, newest.expires_at
        )
        await self._store.rotate(key_id, credential, now + overlap_seconds)
        return IssuedApiKey(ApiKeyInfo.of(credential, self._prefix), token)

    async def revoke(self, key_id: str) -> None:
        """Revoke every token of the key; effective on the next request."""
        await self._store.revoke(key_id, self._clock())

    async def list_keys(self, tenant_id: str) -> list[ApiKeyInfo]:
        """Every credential of the tenant, oldest first, without secrets."""
        credentials = await self._store.list_for_tenant(tenant_id)
        return [ApiKeyInfo.of(c, self._prefix) for c in credentials]
