"""Stable subject ids and secrets that never show themselves."""

from __future__ import annotations

import logging

import attrs
import pytest

from platform_core.errors import InvalidInput
from platform_core.identity.principal import (
    CredentialKind,
    Principal,
    PrincipalKind,
    api_key_subject,
    oidc_subject,
)
from platform_core.identity.secret import Secret


def test_oidc_subject_joins_issuer_and_sub() -> None:
    assert oidc_subject("https://idp.test", "u-1") == "oidc:https://idp.test#u-1"


def test_api_key_subject_names_the_key() -> None:
    assert api_key_subject("K123") == "apikey:K123"


@pytest.mark.parametrize(("issuer", "sub"), [("", "u"), ("https://idp.test", "")])
def test_oidc_subject_needs_both_parts(issuer: str, sub: str) -> None:
    with pytest.raises(InvalidInput):
        oidc_subject(issuer, sub)


def test_principal_is_immutable() -> None:
    principal = Principal("apikey:K", PrincipalKind.SERVICE, CredentialKind.API_KEY, "acme")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        principal.tenant_id = "globex"  # type: ignore[misc]


def test_secret_is_masked_in_repr_str_and_format() -> None:
    secret = Secret("hunter2-token")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret} {secret!r} {secret:>20}"
    assert secret.reveal() == "hunter2-token"


def test_secret_is_masked_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("token=%s also %r", Secret("hunter2"), Secret("hunter2"))
    assert "hunter2" not in caplog.text
    assert "***" in caplog.text


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
