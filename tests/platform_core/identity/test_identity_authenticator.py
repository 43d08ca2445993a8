"""`BearerAuthenticator`: one header, the right verifier, fail closed otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from joserfc import jwk, jwt

from platform_core.errors import Unauthenticated
from platform_core.identity.api_key_store import MemoryApiKeyStore
from platform_core.identity.api_keys import ApiKeyRegistry
from platform_core.identity.authenticator import BearerAuthenticator, bearer_token
from platform_core.identity.introspection import IntrospectionSettings, TokenIntrospector
from platform_core.identity.oidc import OidcSettings, OidcTokenVerifier
from platform_core.identity.principal import CredentialKind
from platform_core.identity.secret import Secret

if TYPE_CHECKING:
    from conftest import IdentityProviderServer, MovableClock

ISSUER = "https://idp.example.test"


@pytest.fixture(scope="module")
def signing_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture
def api_keys(clock: MovableClock) -> ApiKeyRegistry:
    return ApiKeyRegistry(MemoryApiKeyStore(), clock=clock)


@pytest.fixture
def authenticator(
    idp: IdentityProviderServer, http: httpx.AsyncClient, clock: MovableClock,
    api_keys: ApiKeyRegistry, signing_key: jwk.RSAKey,
) -> BearerAuthenticator:
    idp.publish(signing_key)
    oidc = OidcTokenVerifier(
        OidcSettings(issuer=ISSUER, audience="gate", jwks_uri=idp.jwks_uri), http, clock=clock
    )
    introspection = TokenIntrospector(
        IntrospectionSettings(
            endpoint=idp.introspection_uri, client_id="gate",
            client_secret=Secret("s3cret-client"), issuer=ISSUER,
        ),
        http,
        clock=clock,
    )
    return BearerAuthenticator(api_keys=api_keys, oidc=oidc, introspection=introspection)


async def test_api_key_goes_to_the_key_registry(
    authenticator: BearerAuthenticator, api_keys: ApiKeyRegistry,
    idp: IdentityProviderServer,
) -> None:
    issued = await api_keys.issue("acme", "bot")
    principal = await authenticator.authenticate(f"Bearer {issued.token.reveal()}")
    assert principal.credential is CredentialKind.API_KEY
    assert idp.introspection_requests == []


async def test_jwt_goes_to_oidc_validation(
    authenticator: BearerAuthenticator, signing_key: jwk.RSAKey, clock: MovableClock,
) -> None:
    claims = {"iss": ISSUER, "aud": "gate", "sub": "u1", "exp": int(clock()) + 60}
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, signing_key)
    principal = await authenticator.authenticate(f"bearer {token}")
    assert principal.credential is CredentialKind.OIDC_JWT
    assert principal.subject == f"oidc:{ISSUER}#u1"


async def test_opaque_token_goes_to_introspection(
    authenticator: BearerAuthenticator, idp: IdentityProviderServer,
) -> None:
    idp.introspection["opaque-1"] = {"active": True, "sub": "u1", "iss": ISSUER}
    principal = await authenticator.authenticate("Bearer opaque-1")
    assert principal.credential is CredentialKind.OPAQUE_TOKEN
    assert principal.subject == f"oidc:{ISSUER}#u1"


async def test_a_mistyped_api_key_is_never_sent_to_introspection(
    authenticator: BearerAuthenticator, api_keys: ApiKeyRegistry,
    idp: IdentityProviderServer,
) -> None:
    token = (await api_keys.issue("acme", "bot")).token.reveal()
    with pytest.raises(Unauthenticated, match="malformed API key"):
        await authenticator.authenticate(f"Bearer {token[:-1]}{'x' if token[-1] != 'x' else 'y'}")
    assert idp.introspection_requests == []


async def test_a_shape_without_a_configured_verifier_is_rejected() -> None:
    authenticator = BearerAuthenticator()
    for header in ("Bearer a.b.c", "Bearer opaque", "Bearer dgk_x"):
        with pytest.raises(Unauthenticated, match="not accepted"):
            await authenticator.authenticate(header)


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"])
def test_non_bearer_headers_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


async def test_a_custom_api_key_prefix_is_routed_to_the_registry(clock: MovableClock) -> None:
    keys = ApiKeyRegistry(MemoryApiKeyStore(), prefix="acme_", clock=clock)
    token = (await keys.issue("acme", "bot")).token.reveal()
    principal = await BearerAuthenticator(api_keys=keys).authenticate(f"Bearer {token}")
    assert principal.credential is CredentialKind.API_KEY
