"""Where API key credentials live: the `ApiKeyStore` interface and its memory backend.

A key (`key_id`, the stable identity a principal is named after) has one or
more credentials (`credential_id`, embedded in the token and used for lookup).
Rotation adds a credential to the same key and shortens the life of the old
ones; revocation marks every credential of the key at once. Stores hold only
the SHA-256 of a token, never the token. Every backend must pass the shared
contract suite in tests/platform_core/identity/test_identity_api_key_store_contract.py.
The SQL backends share one row layout, `CREDENTIAL_COLUMNS`, and its codec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from platform_core.errors import Conflict, NotFound

__all__ = [
    "CREDENTIAL_COLUMNS",
    "ApiKeyCredential",
    "ApiKeyStore",
    "CredentialRow",
    "MemoryApiKeyStore",
    "credential_from_row",
    "credential_to_row",
]


@attrs.frozen
class ApiKeyCredential:
    """One stored credential of an API key. Times are epoch seconds."""

    credential_id: str
    key_id: str
    tenant_id: str
    name: str
    secret_hash: bytes = attrs.field(repr=False)
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None


CREDENTIAL_COLUMNS = (
    "credential_id, key_id, tenant_id, name, secret_hash, created_at, expires_at, revoked_at"
)
CredentialRow = tuple[str, str, str, str, bytes, float, float | None, float | None]


def credential_from_row(row: Sequence[Any]) -> ApiKeyCredential:
    """The credential a row of `CREDENTIAL_COLUMNS` holds."""
    return ApiKeyCredential(
        credential_id=row[0],
        key_id=row[1],
        tenant_id=row[2],
        name=row[3],
        secret_hash=bytes(row[4]),
        created_at=row[5],
        expires_at=row[6],
        revoked_at=row[7],
    )


def credential_to_row(credential: ApiKeyCredential) -> CredentialRow:
    """The values of `CREDENTIAL_COLUMNS` for the credential, in order."""
    return (
        credential.credential_id,
        credential.key_id,
        credential.tenant_id,
        credential.name,
        credential.secret_hash,
        credential.created_at,
        credential.expires_at,
        credential.revoked_at,
    )


class ApiKeyStore(Protocol):
    """Durable storage of API key credentials. All methods are atomic."""

    async def insert(self, credential: ApiKeyCredential) -> None:
        """Add a credential. Raises `Conflict` if its credential_id exists."""

    async def get(self, credential_id: str) -> ApiKeyCredential | None:
        """The credential with this id, or None."""

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKeyCredential]:
        """Every credential of the tenant, oldest first."""

    async def list_for_key(self, key_id: str) -> list[ApiKeyCredential]:
        """Every credential of the key, oldest first."""

    async def rotate(self, key_id: str, new: ApiKeyCredential, old_expires_at: float) -> None:
        """In one transaction: cap the expiry of every unrevoked credential of
        `key_id` at `old_expires_at` and insert `new`. Raises `NotFound` if the
        key has no credential, `Conflict` if every credential is revoked."""

    async def revoke(self, key_id: str, revoked_at: float) -> None:
        """Mark every credential of the key revoked (keeping an earlier revocation
        time). Raises `NotFound` if the key has no credential."""

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


def _sort_key(credential: ApiKeyCredential) -> tuple[float, str]:
    return (credential.created_at, credential.credential_id)


def capped_expiry(current: float | None, cap: float) -> float:
    """The earlier of a credential's current expiry and the rotation cap."""
    return cap if current is None else min(current, cap)


class MemoryApiKeyStore:
    """A process-local store for tests and single-process embedding."""

    def __init__(self) -> None:
        self._credentials: dict[str, ApiKeyCredential] = {}
        self._lock = asyncio.Lock()

    async def insert(self, credential: ApiKeyCredential) -> None:
        async with self._lock:
            if credential.credential_id in self._credentials:
                raise Conflict(f"API key credential {credential.credential_id!r} already exists")
            self._credentials[credential.credential_id] = credential

    async def get(self, credential_id: str) -> ApiKeyCredential | None:
        return self._credentials.get(credential_id)

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKeyCredential]:
        found = [c for c in self._credentials.values() if c.tenant_id == tenant_id]
        return sorted(found, key=_sort_key)

    async def list_for_key(self, key_id: str) -> list[ApiKeyCredential]:
        found = [c for c in self._credentials.values() if c.key_id == key_id]
        return sorted(found, key=_sort_key)

    async def rotate(self, key_id: str, new: ApiKeyCredential, old_expires_at: float) -> None:
        async with self._lock:
            existing = [c for c in self._credentials.values() if c.key_id == key_id]
            if not existing:
                raise NotFound(f"API key {key_id!r} does not exist")
            live = [c for c in existing if c.revoked_at is None]
            if not live:
                raise Conflict(f"API key {key_id!r} is revoked")
            if new.credential_id in self._credentials:
                raise Conflict(f"API key credential {new.credential_id!r} already exists")
            for credential in live:
                self._credentials[credential.credential_id] = attrs.evolve(
                    credential, expires_at=capped_expiry(credential.expires_at, old_expires_at)
                )
            self._credentials[new.credential_id] = new

    async def revoke(self, key_id: str, revoked_at: float) -> None:
        async with self._lock:
            existing = [c for c in self._credentials.values() if c.key_id == key_id]
            if not existing:
                raise NotFound(f"API key {key_id!r} does not exist")
            for credential in existing:
                if credential.revoked_at is None:
                    self._credentials[credential.credential_id] = attrs.evolve(
                        credential, revoked_at=revoked_at
                    )

    async def close(self) -> None:
        self._credentials.clear()
