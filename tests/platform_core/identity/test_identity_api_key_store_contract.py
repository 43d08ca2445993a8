"""The behaviour every `ApiKeyStore` backend promises (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from platform_core.errors import Conflict, NotFound
from platform_core.identity.api_key_store import ApiKeyCredential, ApiKeyStore


def credential(
    credential_id: str = "c1", key_id: str = "k1", tenant_id: str = "acme", **changes: object
) -> ApiKeyCredential:
    base = ApiKeyCredential(
        credential_id=credential_id,
        key_id=key_id,
        tenant_id=tenant_id,
        name="ci bot",
        secret_hash=b"\x01" * 32,
        created_at=100.0,
    )
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


async def test_inserted_credential_reads_back_identically(api_key_store: ApiKeyStore) -> None:
    stored = credential(expires_at=500.5)
    await api_key_store.insert(stored)
    assert await api_key_store.get("c1") == stored


async def test_unknown_credential_reads_as_none(api_key_store: ApiKeyStore) -> None:
    assert await api_key_store.get("missing") is None


async def test_duplicate_credential_id_is_a_conflict_and_keeps_the_first(
    api_key_store: ApiKeyStore,
) -> None:
    await api_key_store.insert(credential(name="first"))
    with pytest.raises(Conflict):
        await api_key_store.insert(credential(name="second"))
    found = await api_key_store.get("c1")
    assert found is not None
    assert found.name == "first"


async def test_tenant_listing_holds_only_that_tenant_oldest_first(
    api_key_store: ApiKeyStore,
) -> None:
    await api_key_store.insert(credential("c2", "k2", created_at=200.0))
    await api_key_store.insert(credential("c1", "k1", created_at=100.0))
    await api_key_store.insert(credential("c3", "k3", tenant_id="globex"))
    listed = await api_key_store.list_for_tenant("acme")
    assert [c.credential_id for c in listed] == ["c1", "c2"]


async def test_rotation_caps_old_expiry_and_adds_the_new_credential(
    api_key_store: ApiKeyStore,
) -> None:
    await api_key_store.insert(credential("c1", expires_at=10_000.0))
    await api_key_store.rotate("k1", credential("c2", created_at=150.0), old_expires_at=400.0)
    old, new = await api_key_store.list_for_key("k1")
    assert (old.credential_id, old.expires_at) == ("c1", 400.0)
    assert (new.credential_id, new.expires_at) == ("c2", None)


async def test_rotation_never_extends_an_earlier_expiry(api_key_store: ApiKeyStore) -> None:
    await api_key_store.insert(credential("c1", expires_at=300.0))
    await api_key_store.rotate("k1", credential("c2"), old_expires_at=400.0)
    old = await api_key_store.get("c1")
    assert old is not None
    assert old.expires_at == 300.0


async def test_rotating_an_unknown_key_is_not_found(api_key_store: ApiKeyStore) -> None:
    with pytest.raises(NotFound):
        await api_key_store.rotate("nope", credential("c2", key_id="nope"), old_expires_at=1.0)
    assert await api_key_store.get("c2") is None


async def test_rotating_a_revoked_key_is_a_conflict_and_writes_nothing(
    api_key_store: ApiKeyStore,
) -> None:
    await api_key_store.insert(credential("c1"))
    await api_key_store.revoke("k1", revoked_at=120.0)
    with pytest.raises(Conflict):
        await api_key_store.rotate("k1", credential("c2"), old_expires_at=400.0)
    assert await api_key_store.get("c2") is None


async def test_rotation_with_a_taken_credential_id_changes_nothing(
    api_key_store: ApiKeyStore,
) -> None:
    await api_key_store.insert(credential("c1", expires_at=10_000.0))
    await api_key_store.insert(credential("c9", key_id="k9"))
    with pytest.raises(Conflict):
        await api_key_store.rotate("k1", credential("c9"), old_expires_at=400.0)
    old = await api_key_store.get("c1")
    assert old is not None
    assert old.expires_at == 10_000.0


async def test_revocation_marks_every_credential_of_the_key(api_key_store: ApiKeyStore) -> None:
    await api_key_store.insert(credential("c1"))
    await api_key_store.rotate("k1", credential("c2"), old_expires_at=400.0)
    await api_key_store.insert(credential("c3", key_id="k3"))
    await api_key_store.revoke("k1", revoked_at=120.0)
    assert [c.revoked_at for c in await api_key_store.list_for_key("k1")] == [120.0, 120.0]
    other = await api_key_store.get("c3")
    assert other is not None
    assert other.revoked_at is None


async def test_revoking_again_keeps_the_first_revocation_time(api_key_store: ApiKeyStore) -> None:
    await api_key_store.insert(credential("c1"))
    await api_key_store.revoke("k1", revoked_at=120.0)
    await api_key_store.revoke("k1", revoked_at=900.0)
    found = await api_key_store.get("c1")
    assert found is not None
    assert found.revoked_at == 120.0


async def test_revoking_an_unknown_key_is_not_found(api_key_store: ApiKeyStore) -> None:
    with pytest.raises(NotFound):
        await api_key_store.revoke("nope", revoked_at=1.0)


async def test_concurrent_rotations_each_land_once(api_key_store: ApiKeyStore) -> None:
    await api_key_store.insert(credential("c0"))
    await asyncio.gather(
        *(
            api_key_store.rotate("k1", credential(f"r{i}", created_at=200.0 + i), 400.0)
            for i in range(8)
        )
    )
    listed = await api_key_store.list_for_key("k1")
    assert sorted(c.credential_id for c in listed) == ["c0"] + [f"r{i}" for i in range(8)]


async def test_ties_in_creation_time_are_ordered_by_credential_id_bytes(
    api_key_store: ApiKeyStore,
) -> None:
    for credential_id in ("b", "B", "a", "A"):
        await api_key_store.insert(credential(credential_id, key_id="k1"))
    listed = await api_key_store.list_for_key("k1")
    assert [c.credential_id for c in listed] == ["A", "B", "a", "b"]
