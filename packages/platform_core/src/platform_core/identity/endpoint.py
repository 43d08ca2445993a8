"""The rule for URLs that identity code sends credentials to or trusts keys from.

A JWKS document decides which signatures are trusted and an introspection
request carries a client secret and a bearer token, so both must travel over
TLS. Plain HTTP is accepted only to the loopback interface, where a local
IdP or a test double may listen.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import attrs

from platform_core.errors import InvalidInput

__all__ = ["check_trusted_url", "trusted_url"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_trusted_url(url: str) -> str:
    """`url` itself if it is https, or http to loopback; `InvalidInput` otherwise."""
    if not url:
        raise InvalidInput("an endpoint URL is required")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        raise InvalidInput("the endpoint URL is malformed") from error
    if not host:
        raise InvalidInput("the endpoint URL has no host")
    if parts.username or parts.password:
        raise InvalidInput("the endpoint URL must not carry credentials")
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return url
    raise InvalidInput("the endpoint must use https (plain http only to loopback)")


def trusted_url(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """attrs validator form of `check_trusted_url`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{attribute.name} must be a URL string")
    check_trusted_url(value)
