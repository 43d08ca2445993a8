"""identity: who is calling. Principals, API keys, OIDC/JWKS JWTs and RFC 7662
introspection; every path ends in a `Principal` or in `Unauthenticated`.

Invariants: credentials travel as `Secret` and never reach a repr or a log;
every failure fails closed; API keys are stored only as SHA-256 hashes.
"""

from platform_core.identity.api_key_postgres import PostgresApiKeyStore
from platform_core.identity.api_key_sqlite import SqliteApiKeyStore
from platform_core.identity.api_key_store import (
    ApiKeyCredential,
    ApiKeyStore,
    MemoryApiKeyStore,
)
from platform_core.identity.api_keys import ApiKeyInfo, ApiKeyRegistry, IssuedApiKey
from platform_core.identity.authenticator import BearerAuthenticator, bearer_token
from platform_core.identity.introspection import IntrospectionSettings, TokenIntrospector
from platform_core.identity.oidc import JwksKeyCache, OidcSettings, OidcTokenVerifier, PinnedKey
from platform_core.identity.principal import (
    CredentialKind,
    Principal,
    PrincipalKind,
    api_key_subject,
    oidc_subject,
)
from platform_core.identity.secret import Secret

__all__ = [
    "ApiKeyCredential",
    "ApiKeyInfo",
    "ApiKeyRegistry",
    "ApiKeyStore",
    "BearerAuthenticator",
    "CredentialKind",
    "IntrospectionSettings",
    "IssuedApiKey",
    "JwksKeyCache",
    "MemoryApiKeyStore",
    "OidcSettings",
    "OidcTokenVerifier",
    "PinnedKey",
    "PostgresApiKeyStore",
    "Principal",
    "PrincipalKind",
    "Secret",
    "SqliteApiKeyStore",
    "TokenIntrospector",
    "api_key_subject",
    "bearer_token",
    "oidc_subject",
]
