"""API keys: format, show-once, hashing, revocation, rotation overlap and listing."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from platform_core.errors import InvalidInput, NotFound, Unauthenticated
from platform_core.identity.api_key_store import ApiKeyStore, MemoryApiKeyStore
from platform_core.identity.api_keys import (
    BASE62,
    ApiKeyRegistry,
    checksum,
    looks_like_api_key,
)
from platform_core.identity.principal import CredentialKind, PrincipalKind

if TYPE_CHECKING:
    from conftest import MovableClock


@pytest.fixture
def registry(clock: MovableClock) -> ApiKeyRegistry:
    return ApiKeyRegistry(MemoryApiKeyStore(), clock=clock)


async def test_full_lifecycle_on_every_backend(
    api_key_store: ApiKeyStore, clock: MovableClock
) -> None:
    registry = ApiKeyRegistry(api_key_store, clock=clock)
    old = await registry.issue("acme", "ci bot")
    clock.advance(1)
    new = await registry.rotate(old.info.key_id, overlap_seconds=60)
    assert (await registry.authenticate(old.token)).subject == f"apikey:{old.info.key_id}"
    clock.advance(60)
    with pytest.raises(Unauthenticated, match="expired"):
        await registry.authenticate(old.token)
    assert [k.credential_id for k in await registry.list_keys("acme")] == [
        old.info.credential_id,
        new.info.credential_id,
    ]
    await registry.revoke(old.info.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        await registry.authenticate(new.token)


async def test_issued_token_has_prefix_and_valid_checksum(registry: ApiKeyRegistry) -> None:
    issued = await registry.issue("acme", "ci bot")
    token = issued.token.reveal()
    assert re.fullmatch(r"dgk_[0-9A-Za-z]{54}", token)
    assert token[-6:] == checksum(token[:-6])
    assert looks_like_api_key(token)


async def test_issued_token_authenticates_as_its_key(registry: ApiKeyRegistry) -> None:
    issued = await registry.issue("acme", "ci bot")
    principal = await registry.authenticate(issued.token)
    assert principal.subject == f"apikey:{issued.info.key_id}"
    assert principal.tenant_id == "acme"
    assert principal.kind is PrincipalKind.SERVICE
    assert principal.credential is CredentialKind.API_KEY


async def test_store_holds_only_the_sha256_of_the_token(
    api_key_store: ApiKeyStore, clock: MovableClock
) -> None:
    issued = await ApiKeyRegistry(api_key_store, clock=clock).issue("acme", "ci bot")
    stored = await api_key_store.get(issued.info.credential_id)
    assert stored is not None
    token = issued.token.reveal()
    assert stored.secret_hash == hashlib.sha256(token.encode()).digest()
    assert token not in repr(stored)


async def test_token_never_appears_in_reprs(registry: ApiKeyRegistry) -> None:
    issued = await registry.issue("acme", "ci bot")
    token = issued.token.reveal()
    assert token not in repr(issued)
    assert token not in f"{issued.token}"
    assert "***" in repr(issued.token)


async def test_listing_shows_the_tenants_keys_without_secrets(
    registry: ApiKeyRegistry, clock: MovableClock
) -> None:
    first = await registry.issue("acme", "ci bot")
    clock.advance(1)
    second = await registry.issue("acme", "deployer")
    await registry.issue("globex", "other")
    listed = await registry.list_keys("acme")
    assert [k.name for k in listed] == ["ci bot", "deployer"]
    shown = repr(listed)
    assert first.token.reveal() not in shown
    assert second.token.reveal() not in shown


async def test_a_typo_is_rejected_before_any_lookup(clock: MovableClock) -> None:
    class CountingStore(MemoryApiKeyStore):
        lookups = 0

        async def get(self, credential_id: str):  # type: ignore[no-untyped-def]
            CountingStore.lookups += 1
            return await super().get(credential_id)

    registry = ApiKeyRegistry(CountingStore(), clock=clock)
    token = (await registry.issue("acme", "ci bot")).token.reveal()
    typo = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    with pytest.raises(Unauthenticated, match="malformed"):
        await registry.authenticate(typo)
    assert CountingStore.lookups == 0


@pytest.mark.parametrize(
    "candidate",
    ["", "dgk_", "ghp_" + "a" * 54, "dgk_" + "!" * 54, "dgk_" + "a" * 53, "Bearer x"],
)
async def test_malformed_tokens_are_unauthenticated(
    registry: ApiKeyRegistry, candidate: str
) -> None:
    with pytest.raises(Unauthenticated, match="malformed"):
        await registry.authenticate(candidate)


async def test_well_formed_but_unknown_token_is_unauthenticated(registry: ApiKeyRegistry) -> None:
    unsigned = "dgk_" + "A" * 48
    with pytest.raises(Unauthenticated, match="unknown"):
        await registry.authenticate(unsigned + checksum(unsigned))


async def test_right_credential_id_with_wrong_secret_is_unauthenticated(
    registry: ApiKeyRegistry,
) -> None:
    token = (await registry.issue("acme", "ci bot")).token.reveal()
    forged_unsigned = token[: 4 + 16] + "Z" * 32
    with pytest.raises(Unauthenticated, match="unknown"):
        await registry.authenticate(forged_unsigned + checksum(forged_unsigned))


async def test_revocation_takes_effect_on_the_next_request(registry: ApiKeyRegistry) -> None:
    issued = await registry.issue("acme", "ci bot")
    await registry.authenticate(issued.token)
    await registry.revoke(issued.info.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        await registry.authenticate(issued.token)


async def test_expired_key_is_unauthenticated(
    registry: ApiKeyRegistry, clock: MovableClock
) -> None:
    issued = await registry.issue("acme", "ci bot", expires_at=clock() + 60)
    await registry.authenticate(issued.token)
    clock.advance(60)
    with pytest.raises(Unauthenticated, match="expired"):
        await registry.authenticate(issued.token)


async def test_rotation_keeps_the_old_token_valid_until_the_overlap_ends(
    registry: ApiKeyRegistry, clock: MovableClock
) -> None:
    old = await registry.issue("acme", "ci bot")
    new = await registry.rotate(old.info.key_id, overlap_seconds=300)
    clock.advance(299)
    assert (await registry.authenticate(old.token)).subject == f"apikey:{old.info.key_id}"
    assert (await registry.authenticate(new.token)).subject == f"apikey:{old.info.key_id}"
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        await registry.authenticate(old.token)
    await registry.authenticate(new.token)


async def test_rotation_with_zero_overlap_retires_the_old_token_at_once(
    registry: ApiKeyRegistry,
) -> None:
    old = await registry.issue("acme", "ci bot")
    await registry.rotate(old.info.key_id, overlap_seconds=0)
    with pytest.raises(Unauthenticated):
        await registry.authenticate(old.token)


async def test_revoking_a_rotated_key_revokes_every_token(registry: ApiKeyRegistry) -> None:
    old = await registry.issue("acme", "ci bot")
    new = await registry.rotate(old.info.key_id, overlap_seconds=300)
    await registry.revoke(old.info.key_id)
    for token in (old.token, new.token):
        with pytest.raises(Unauthenticated, match="revoked"):
            await registry.authenticate(token)


async def test_rotating_an_unknown_key_is_not_found(registry: ApiKeyRegistry) -> None:
    with pytest.raises(NotFound):
        await registry.rotate("nope", overlap_seconds=10)


@pytest.mark.parametrize(("tenant", "name"), [("", "bot"), ("acme", ""), ("acme", "a\nb")])
async def test_bad_labels_are_invalid_input(
    registry: ApiKeyRegistry, tenant: str, name: str
) -> None:
    with pytest.raises(InvalidInput):
        await registry.issue(tenant, name)


async def test_expiry_in_the_past_is_invalid_input(
    registry: ApiKeyRegistry, clock: MovableClock
) -> None:
    with pytest.raises(InvalidInput):
        await registry.issue("acme", "bot", expires_at=clock() - 1)


def test_a_prefix_without_trailing_underscore_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        ApiKeyRegistry(MemoryApiKeyStore(), prefix="dgk")


async def test_custom_prefix_is_used_and_enforced(clock: MovableClock) -> None:
    registry = ApiKeyRegistry(MemoryApiKeyStore(), prefix="acme_", clock=clock)
    token = (await registry.issue("acme", "bot")).token.reveal()
    assert token.startswith("acme_")
    await registry.authenticate(token)
    assert not looks_like_api_key(token, "dgk_")


@given(data=st.data())
@settings(max_examples=200)
def test_any_single_character_typo_fails_the_checksum(data: st.DataObject) -> None:
    unsigned = "dgk_" + data.draw(st.text(alphabet=BASE62, min_size=48, max_size=48))
    token = unsigned + checksum(unsigned)
    position = data.draw(st.integers(min_value=4, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from(BASE62).filter(lambda c: c != token[position]))
    typo = token[:position] + replacement + token[position + 1 :]
    assert not looks_like_api_key(typo)


@given(data=st.data())
@settings(max_examples=200)
def test_any_adjacent_transposition_fails_the_checksum(data: st.DataObject) -> None:
    unsigned = "dgk_" + data.draw(st.text(alphabet=BASE62, min_size=48, max_size=48))
    token = unsigned + checksum(unsigned)
    position = data.draw(st.integers(min_value=4, max_value=len(token) - 2))
    swapped = token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    assume(swapped != token)
    assert not looks_like_api_key(swapped)
