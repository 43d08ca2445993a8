"""Opaque tokens via RFC 7662 introspection against a real HTTP endpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from platform_core.errors import InvalidInput, Unauthenticated
from platform_core.identity.introspection import IntrospectionSettings, TokenIntrospector
from platform_core.identity.principal import CredentialKind, PrincipalKind
from platform_core.identity.secret import Secret

if TYPE_CHECKING:
    from conftest import IdentityProviderServer, MovableClock

ISSUER = "https://idp.example.test"
TOKEN = "opaque-2YotnFZFEjr1zCsicMWpAA"


@pytest.fixture
def introspector(
    idp: IdentityProviderServer, http: httpx.AsyncClient, clock: MovableClock
) -> TokenIntrospector:
    settings = IntrospectionSettings(
        endpoint=idp.introspection_uri,
        client_id="gate",
        client_secret=Secret("s3cret-client"),
        issuer=ISSUER,
        audience="decision-gate",
        tenant_claim="tenant",
    )
    return TokenIntrospector(settings, http, clock=clock)


def active(clock: MovableClock, **changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "active": True,
        "iss": ISSUER,
        "aud": ["decision-gate"],
        "sub": "user-42",
        "client_id": "portal",
        "scope": "gates:read",
        "exp": clock() + 600,
        "tenant": "acme",
    }
    answer.update(changes)
    return {k: v for k, v in answer.items() if v is not None}


async def test_active_token_yields_the_same_subject_as_its_jwt_would(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    principal = await introspector.verify(Secret(TOKEN))
    assert principal.subject == f"oidc:{ISSUER}#user-42"
    assert principal.kind is PrincipalKind.USER
    assert principal.credential is CredentialKind.OPAQUE_TOKEN
    assert principal.tenant_id == "acme"
    assert principal.scopes == frozenset({"gates:read"})


async def test_request_carries_the_token_and_client_credentials(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    await introspector.verify(TOKEN)
    assert idp.introspection_requests == [
        {"token": [TOKEN], "token_type_hint": ["access_token"]}
    ]


async def test_client_credentials_token_without_sub_is_a_service(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock, sub=None, client_id="svc-ci")
    principal = await introspector.verify(TOKEN)
    assert principal.subject == f"oidc:{ISSUER}#svc-ci"
    assert principal.kind is PrincipalKind.SERVICE


async def test_inactive_token_is_rejected(introspector: TokenIntrospector) -> None:
    with pytest.raises(Unauthenticated, match="not active"):
        await introspector.verify(TOKEN)


@pytest.mark.parametrize("flag", ["true", 1, None])
async def test_only_the_json_true_counts_as_active(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock,
    flag: object,
) -> None:
    idp.introspection[TOKEN] = active(clock, active=flag)
    with pytest.raises(Unauthenticated, match="not active"):
        await introspector.verify(TOKEN)


async def test_revocation_at_the_server_takes_effect_on_the_next_request(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    await introspector.verify(TOKEN)
    idp.introspection[TOKEN] = {"active": False}
    with pytest.raises(Unauthenticated):
        await introspector.verify(TOKEN)


async def test_server_error_fails_closed(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    idp.outage = True
    with pytest.raises(Unauthenticated, match="unavailable"):
        await introspector.verify(TOKEN)


async def test_unreachable_server_fails_closed(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    idp.stop()
    with pytest.raises(Unauthenticated, match="unavailable"):
        await introspector.verify(TOKEN)


async def test_wrong_client_secret_fails_closed(
    idp: IdentityProviderServer, http: httpx.AsyncClient, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock)
    settings = IntrospectionSettings(
        endpoint=idp.introspection_uri,
        client_id="gate",
        client_secret=Secret("wrong"),
        issuer=ISSUER,
    )
    with pytest.raises(Unauthenticated, match="unavailable"):
        await TokenIntrospector(settings, http, clock=clock).verify(TOKEN)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example.test"}, "issuer"),
        ({"aud": ["someone-else"]}, "audience"),
        ({"aud": None}, "audience"),
        ({"sub": None, "client_id": None}, "no subject"),
        ({"exp": "tomorrow"}, "malformed 'exp'"),
    ],
)
async def test_answers_that_do_not_fit_are_rejected(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock,
    changes: dict[str, Any], reason: str,
) -> None:
    idp.introspection[TOKEN] = active(clock, **changes)
    with pytest.raises(Unauthenticated, match=reason):
        await introspector.verify(TOKEN)


async def test_expiry_honours_the_leeway(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock, exp=clock() - 59)
    await introspector.verify(TOKEN)
    idp.introspection[TOKEN] = active(clock, exp=clock() - 60)
    with pytest.raises(Unauthenticated, match="expired"):
        await introspector.verify(TOKEN)


async def test_not_before_beyond_leeway_is_rejected(
    introspector: TokenIntrospector, idp: IdentityProviderServer, clock: MovableClock
) -> None:
    idp.introspection[TOKEN] = active(clock, nbf=clock() + 61)
    with pytest.raises(Unauthenticated, match="not yet valid"):
        await introspector.verify(TOKEN)


async def test_neither_token_nor_client_secret_reaches_the_log(
    introspector: TokenIntrospector, idp: IdentityProviderServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.outage = True
    with caplog.at_level(logging.DEBUG), pytest.raises(Unauthenticated) as caught:
        await introspector.verify(TOKEN)
    logged = caplog.text + str(caught.value)
    assert caplog.records
    assert TOKEN not in logged
    assert "s3cret-client" not in logged


def test_settings_never_show_the_client_secret() -> None:
    settings = IntrospectionSettings(
        endpoint="https://idp.example.test/introspect", client_id="gate",
        client_secret=Secret("s3cret-client"), issuer=ISSUER,
    )
    assert "s3cret-client" not in repr(settings)


def test_settings_without_an_issuer_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        IntrospectionSettings(
            endpoint="https://idp.example.test/introspect", client_id="gate",
            client_secret=Secret("s"), issuer="",
        )
