"""OIDC/JWKS bearer tokens against a real JWKS endpoint, including the hostile
token corpus of RFC 8725 and the rotation/outage/stampede probes of spec C5."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwk, jwt
from joserfc.errors import SecurityWarning

from platform_core.errors import InvalidInput, Unauthenticated
from platform_core.identity.oidc import OidcSettings, OidcTokenVerifier, pin_key_set
from platform_core.identity.principal import CredentialKind, PrincipalKind
from platform_core.identity.secret import Secret

if TYPE_CHECKING:
    from conftest import IdentityProviderServer, MovableClock

ISSUER = "https://idp.example.test"
AUDIENCE = "decision-gate"


@pytest.fixture(scope="module")
def rsa_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def next_rsa_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "use": "sig"})


@pytest.fixture
def oidc_settings(idp: IdentityProviderServer) -> OidcSettings:
    return OidcSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_uri=idp.jwks_uri,
        leeway_seconds=60,
        refresh_after_seconds=300,
        refresh_cooldown_seconds=30,
        max_key_age_seconds=3600,
        tenant_claim="tenant",
    )


@pytest.fixture
def verifier(
    oidc_settings: OidcSettings,
    http: httpx.AsyncClient,
    clock: MovableClock,
    idp: IdentityProviderServer,
    rsa_key: jwk.RSAKey,
) -> OidcTokenVerifier:
    idp.publish(rsa_key)
    return OidcTokenVerifier(oidc_settings, http, clock=clock)


def claims_at(now: float, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": int(now),
        "exp": int(now) + 600,
        "tenant": "acme",
        "scope": "gates:read gates:write",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def mint(key: jwk.Key, claims: dict[str, Any], alg: str = "RS256", **header: Any) -> str:
    kid = key.kid
    return jwt.encode({"alg": alg, "kid": kid, **header}, claims, key, algorithms=[alg])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


# --- the happy path -----------------------------------------------------------------


async def test_valid_token_yields_a_stable_oidc_principal(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    principal = await verifier.verify(mint(rsa_key, claims_at(clock())))
    assert principal.subject == f"oidc:{ISSUER}#user-42"
    assert principal.kind is PrincipalKind.USER
    assert principal.credential is CredentialKind.OIDC_JWT
    assert principal.tenant_id == "acme"
    assert principal.scopes == frozenset({"gates:read", "gates:write"})


async def test_client_credentials_token_is_a_service_principal(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), sub="svc-ci", azp="svc-ci"))
    principal = await verifier.verify(Secret(token))
    assert principal.kind is PrincipalKind.SERVICE
    assert principal.subject == f"oidc:{ISSUER}#svc-ci"


async def test_an_ec_key_verifies_es256(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    ec_key = jwk.ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    idp.publish(rsa_key, ec_key)
    principal = await verifier.verify(mint(ec_key, claims_at(clock()), alg="ES256"))
    assert principal.subject == f"oidc:{ISSUER}#user-42"


async def test_keys_are_cached_between_requests(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    for _ in range(20):
        await verifier.verify(mint(rsa_key, claims_at(clock())))
    assert idp.jwks_hits == 1


# --- hostile tokens (RFC 8725) ------------------------------------------------------


async def test_alg_none_is_rejected(
    verifier: OidcTokenVerifier, clock: MovableClock
) -> None:
    token = unsigned_parts({"alg": "none", "kid": "rsa-1"}, claims_at(clock())) + "."
    with pytest.raises(Unauthenticated, match="algorithm 'none'"):
        await verifier.verify(token)


async def test_hs256_signed_with_the_rsa_public_key_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    public_pem = rsa_key.as_pem(private=False)
    signing_input = unsigned_parts({"alg": "HS256", "kid": "rsa-1"}, claims_at(clock()))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated, match="algorithm 'HS256'"):
        await verifier.verify(f"{signing_input}.{b64url(signature)}")


async def test_a_symmetric_key_in_the_jwks_is_never_trusted(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    oct_key = jwk.OctKey.generate_key(256, parameters={"kid": "shared"})
    idp.jwks = {"keys": [rsa_key.as_dict(private=False), oct_key.as_dict(private=True)]}
    with pytest.raises(Unauthenticated, match="unknown key id"):
        await verifier.verify(mint(oct_key, claims_at(clock()), alg="HS256"))


async def test_a_forged_signature_is_rejected(
    verifier: OidcTokenVerifier, clock: MovableClock
) -> None:
    impostor = jwk.RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    with pytest.raises(Unauthenticated, match="signature"):
        await verifier.verify(mint(impostor, claims_at(clock())))


async def test_a_tampered_payload_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    header, _, signature = mint(rsa_key, claims_at(clock())).split(".")
    forged = b64url(json.dumps(claims_at(clock(), sub="admin")).encode())
    with pytest.raises(Unauthenticated, match="signature"):
        await verifier.verify(f"{header}.{forged}.{signature}")


async def test_wrong_issuer_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), iss="https://evil.example.test"))
    with pytest.raises(Unauthenticated, match="iss"):
        await verifier.verify(token)


async def test_wrong_audience_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), aud="another-service"))
    with pytest.raises(Unauthenticated, match="aud"):
        await verifier.verify(token)


async def test_audience_list_containing_ours_is_accepted(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), aud=["other", AUDIENCE]))
    assert (await verifier.verify(token)).subject.endswith("#user-42")


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
async def test_missing_required_claim_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock, claim: str
) -> None:
    token = mint(rsa_key, claims_at(clock(), **{claim: None}))
    with pytest.raises(Unauthenticated, match=claim):
        await verifier.verify(token)


async def test_expired_within_leeway_is_accepted(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    now = clock()
    token = mint(rsa_key, claims_at(now, iat=int(now) - 600, exp=int(now) - 59))
    assert (await verifier.verify(token)).subject.endswith("#user-42")


async def test_expired_beyond_leeway_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    now = clock()
    token = mint(rsa_key, claims_at(now, iat=int(now) - 600, exp=int(now) - 60))
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)


async def test_token_expires_as_the_clock_moves(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock()))
    await verifier.verify(token)
    clock.advance(600 + 60)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)


async def test_not_before_in_the_future_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), nbf=int(clock()) + 61))
    with pytest.raises(Unauthenticated, match="not yet valid"):
        await verifier.verify(token)


async def test_not_before_within_leeway_is_accepted(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), nbf=int(clock()) + 30))
    assert (await verifier.verify(token)).subject.endswith("#user-42")


async def test_issued_in_the_future_beyond_leeway_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), iat=int(clock()) + 120))
    with pytest.raises(Unauthenticated, match="future"):
        await verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d.e", "!!!.???.sig", "e30.e30.", "W10.e30.sig"],
)
async def test_malformed_tokens_are_rejected(verifier: OidcTokenVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_token_without_kid_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = jwt.encode({"alg": "RS256"}, claims_at(clock()), rsa_key)
    with pytest.raises(Unauthenticated, match="kid"):
        await verifier.verify(token)


async def test_a_non_jwt_typ_is_rejected(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock()), typ="secevent+jwt")
    with pytest.raises(Unauthenticated, match="type"):
        await verifier.verify(token)


async def test_rejection_reasons_never_contain_the_token(
    verifier: OidcTokenVerifier, rsa_key: jwk.RSAKey, clock: MovableClock
) -> None:
    token = mint(rsa_key, claims_at(clock(), aud="another-service"))
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert token not in str(caught.value)
    assert token.split(".")[2] not in repr(caught.value)


# --- key cache: stampede, rotation, outage ------------------------------------------


async def test_unknown_kid_flood_fetches_the_jwks_at_most_once_per_cooldown(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    await verifier.verify(mint(rsa_key, claims_at(clock())))
    clock.advance(31)
    forgeries = []
    for _ in range(200):
        stranger = jwk.OctKey.generate_key(256, parameters={"kid": secrets.token_hex(8)})
        header = {"alg": "RS256", "kid": stranger.kid}
        forgeries.append(unsigned_parts(header, claims_at(clock())) + ".c2ln")
    outcomes = await asyncio.gather(
        *(verifier.verify(f) for f in forgeries), return_exceptions=True
    )
    assert all(isinstance(o, Unauthenticated) for o in outcomes)
    assert idp.jwks_hits == 2
    clock.advance(29)
    await asyncio.gather(*(verifier.verify(f) for f in forgeries[:50]), return_exceptions=True)
    assert idp.jwks_hits == 2


async def test_concurrent_first_requests_share_one_fetch(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    token = mint(rsa_key, claims_at(clock()))
    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(50)))
    assert {p.subject for p in principals} == {f"oidc:{ISSUER}#user-42"}
    assert idp.jwks_hits == 1


async def test_rotation_mid_traffic_accepts_new_kid_after_one_refresh(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    next_rsa_key: jwk.RSAKey, clock: MovableClock,
) -> None:
    old_token = mint(rsa_key, claims_at(clock()))
    await verifier.verify(old_token)
    clock.advance(40)
    idp.publish(rsa_key, next_rsa_key)
    new_token = mint(next_rsa_key, claims_at(clock()))
    traffic = [new_token, old_token] * 25
    principals = await asyncio.gather(*(verifier.verify(t) for t in traffic))
    assert len(principals) == 50
    assert idp.jwks_hits == 2


async def test_a_key_withdrawn_by_the_idp_stops_verifying_after_refresh(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    next_rsa_key: jwk.RSAKey, clock: MovableClock,
) -> None:
    idp.publish(rsa_key, next_rsa_key)
    old_token = mint(rsa_key, claims_at(clock(), exp=int(clock()) + 3000))
    await verifier.verify(old_token)
    idp.publish(next_rsa_key)
    clock.advance(300)
    with pytest.raises(Unauthenticated, match="unknown key id"):
        await verifier.verify(old_token)


async def test_jwks_outage_serves_cached_keys_until_max_age_then_fails_closed(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    token = mint(rsa_key, claims_at(clock(), exp=int(clock()) + 86_400))
    await verifier.verify(token)
    idp.outage = True
    clock.advance(301)
    await verifier.verify(token)
    clock.advance(3600 - 301)
    await verifier.verify(token)
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired and the JWKS endpoint is unreachable"):
        await verifier.verify(token)
    idp.outage = False
    clock.advance(30)
    await verifier.verify(token)


async def test_jwks_unreachable_host_fails_closed_after_max_age(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    token = mint(rsa_key, claims_at(clock(), exp=int(clock()) + 86_400))
    await verifier.verify(token)
    idp.stop()
    clock.advance(3000)
    await verifier.verify(token)
    clock.advance(601)
    with pytest.raises(Unauthenticated, match="unreachable"):
        await verifier.verify(token)


async def test_no_keys_at_all_when_the_first_fetch_fails(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    idp.outage = True
    with pytest.raises(Unauthenticated, match="has not answered"):
        await verifier.verify(mint(rsa_key, claims_at(clock())))


async def test_a_garbage_jwks_response_keeps_the_cached_keys(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    token = mint(rsa_key, claims_at(clock()))
    await verifier.verify(token)
    idp.jwks = {"not": "a jwks"}
    clock.advance(301)
    await verifier.verify(token)
    assert idp.jwks_hits == 2


async def test_cache_control_max_age_shortens_the_refresh_interval(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    idp.cache_control = "public, max-age=60"
    token = mint(rsa_key, claims_at(clock()))
    await verifier.verify(token)
    clock.advance(59)
    await verifier.verify(token)
    assert idp.jwks_hits == 1
    clock.advance(1)
    await verifier.verify(token)
    assert idp.jwks_hits == 2


async def test_cache_control_cannot_push_refreshes_below_the_cooldown(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    idp.cache_control = "max-age=0"
    token = mint(rsa_key, claims_at(clock()))
    for _ in range(10):
        await verifier.verify(token)
        clock.advance(1)
    assert idp.jwks_hits == 1


async def test_cache_control_cannot_stretch_the_refresh_interval(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock,
) -> None:
    idp.cache_control = "max-age=86400"
    token = mint(rsa_key, claims_at(clock(), exp=int(clock()) + 3600))
    await verifier.verify(token)
    clock.advance(300)
    await verifier.verify(token)
    assert idp.jwks_hits == 2


# --- key pinning ----------------------------------------------------------------------


def test_rsa_key_declaring_an_hmac_alg_is_not_pinned(rsa_key: jwk.RSAKey) -> None:
    published = {**rsa_key.as_dict(private=False), "alg": "HS256"}
    assert pin_key_set({"keys": [published]}) == {}


def test_rsa_key_without_alg_is_pinned_to_rs256(rsa_key: jwk.RSAKey) -> None:
    pinned = pin_key_set({"keys": [rsa_key.as_dict(private=False)]})
    assert pinned["rsa-1"].alg == "RS256"


def test_weak_rsa_key_is_not_pinned() -> None:
    with pytest.warns(SecurityWarning):
        weak = jwk.RSAKey.generate_key(1024, parameters={"kid": "weak"}, private=True)
    assert pin_key_set({"keys": [weak.as_dict(private=False)]}) == {}


def test_a_duplicated_kid_is_not_trusted(rsa_key: jwk.RSAKey, next_rsa_key: jwk.RSAKey) -> None:
    first = rsa_key.as_dict(private=False)
    second = {**next_rsa_key.as_dict(private=False), "kid": "rsa-1"}
    assert pin_key_set({"keys": [first, second]}) == {}


def test_encryption_keys_are_not_pinned(rsa_key: jwk.RSAKey) -> None:
    published = {**rsa_key.as_dict(private=False), "use": "enc"}
    assert pin_key_set({"keys": [published]}) == {}


def test_private_parameters_are_never_imported(rsa_key: jwk.RSAKey) -> None:
    pinned = pin_key_set({"keys": [rsa_key.as_dict(private=True)]})
    assert not pinned["rsa-1"].key.is_private


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": ""},
        {"leeway_seconds": -1},
        {"leeway_seconds": 3600},
        {"refresh_cooldown_seconds": 0},
        {"max_key_age_seconds": 10, "refresh_after_seconds": 300},
    ],
)
def test_bad_settings_are_invalid_input(changes: dict[str, Any]) -> None:
    base: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": "https://idp.example.test/jwks"}
    with pytest.raises(InvalidInput):
        OidcSettings(**{**base, **changes})


# --- robustness ---------------------------------------------------------------------


@given(garbage=st.text(max_size=300))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_arbitrary_text_is_unauthenticated_never_a_crash(
    verifier: OidcTokenVerifier, garbage: str
) -> None:
    with pytest.raises(Unauthenticated):
        await verifier.verify(garbage)


@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jku", "x5u"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                  st.lists(st.text(max_size=5), max_size=3)),
    )
)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_hostile_headers_are_unauthenticated(
    verifier: OidcTokenVerifier, clock: MovableClock, header: dict[str, Any]
) -> None:
    token = unsigned_parts(header, claims_at(clock())) + "." + b64url(b"not a signature")
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_a_deeply_nested_header_is_unauthenticated(verifier: OidcTokenVerifier) -> None:
    nested = b64url(b"[" * 5000 + b"]" * 5000)
    with pytest.raises(Unauthenticated):
        await verifier.verify(f"{nested}.e30.sig")


async def test_tokens_never_reach_the_log(
    verifier: OidcTokenVerifier, idp: IdentityProviderServer, rsa_key: jwk.RSAKey,
    clock: MovableClock, caplog: pytest.LogCaptureFixture,
) -> None:
    token = mint(rsa_key, claims_at(clock()))
    await verifier.verify(token)
    idp.outage = True
    clock.advance(301)
    with caplog.at_level(logging.DEBUG):
        await verifier.verify(token)
        with pytest.raises(Unauthenticated):
            await verifier.verify(mint(rsa_key, claims_at(clock(), aud="x")))
    assert caplog.records
    assert token.split(".")[2] not in caplog.text
