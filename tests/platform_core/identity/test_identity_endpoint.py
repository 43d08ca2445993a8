"""Keys are trusted from, and secrets sent to, TLS endpoints only (plain HTTP to loopback)."""

from __future__ import annotations

import pytest

from platform_core.errors import InvalidInput
from platform_core.identity.endpoint import check_trusted_url
from platform_core.identity.introspection import IntrospectionSettings
from platform_core.identity.oidc import OidcSettings
from platform_core.identity.secret import Secret


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.com/.well-known/jwks.json",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9000/jwks",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert check_trusted_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://idp.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "https:///jwks",
        "https://user:pw@idp.example.com/jwks",
        "http://127.0.0.1.evil.example/jwks",
        "https://[::1/jwks",
    ],
)
def test_other_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_trusted_url(url)


def test_oidc_settings_refuse_a_plain_http_jwks_uri() -> None:
    with pytest.raises(InvalidInput):
        OidcSettings(issuer="https://idp", audience="gate", jwks_uri="http://idp.example.com/j")


def test_introspection_settings_refuse_a_plain_http_endpoint() -> None:
    with pytest.raises(InvalidInput):
        IntrospectionSettings(
            endpoint="http://idp.example.com/introspect",
            client_id="gate",
            client_secret=Secret("s"),
            issuer="https://idp",
        )
