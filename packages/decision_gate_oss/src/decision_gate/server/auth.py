"""Who is calling (server.md §3.1-3.3): authentication modes and the tool allowlist.

`local_only` trusts the transport: stdio always, HTTP only from a loopback
peer. `bearer_token` compares the `Authorization` header's token with the
configured ones (exact match, constant time); the principal is
`token:<sha256 hex of the token>`, so a token never becomes an id, a log
field or an error message. `mtls` checks the client subject against the
configured subjects. Roles and policy class come from
`[[server.auth.principals]]` by principal id.

Every HTTP route (`/rpc`, `/mcp`, `/metrics`) learns who is calling through
`http_caller`, so the client subject has one source per config: when this
process verifies client certificates (`[server.tls] client_ca_path`), the
verified certificate's subject and nothing else - the
`x-decision-gate-client-subject` header is then the client's own claim and
is ignored; otherwise the header, which only a TLS-terminating proxy in
front of the server can vouch for (the reference's model).

Failures raise `Unauthenticated` (401) or `Unauthorized` (403) whose client
message is one word; the reason goes only to the authorization audit line
(`mcp_tool_authz`), which the server writes for every decision.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Final

import attrs
from starlette.requests import Request

from decision_gate.config.model import AuthConfig, AuthMode, ServerConfig
from decision_gate.seams.access import Principal
from decision_gate.server.errors import Unauthenticated, Unauthorized
from decision_gate.server.peer_certificate import STATE_KEY as TLS_SUBJECT_KEY

MAX_AUTHORIZATION_HEADER_BYTES: Final = 8192
CLIENT_SUBJECT_HEADER: Final = "x-decision-gate-client-subject"


@attrs.frozen
class Caller:
    """What a transport knows about the sender of one request."""

    transport: str
    peer_ip: str | None = None
    authorization: str | None = attrs.field(default=None, repr=False)
    client_subject: str | None = None


def verifies_client_certificates(config: ServerConfig) -> bool:
    """Whether this process checks client certificates itself (in-process mTLS)."""
    return config.tls is not None and config.tls.client_ca_path is not None


def client_subject(request: Request, config: ServerConfig) -> str | None:
    """The caller's mTLS subject: the verified certificate's under in-process mTLS
    (None without one, whatever the headers say), else the proxy-set header."""
    if verifies_client_certificates(config):
        subject = request.scope.get("state", {}).get(TLS_SUBJECT_KEY)
        return subject if isinstance(subject, str) else None
    return request.headers.get(CLIENT_SUBJECT_HEADER)


def http_caller(request: Request, config: ServerConfig, *, transport: str = "http") -> Caller:
    """The `Caller` of one HTTP request, the same way on every route."""
    return Caller(
        transport=transport,
        peer_ip=request.client.host if request.client is not None else None,
        authorization=request.headers.get("authorization"),
        client_subject=client_subject(request, config),
    )


@attrs.frozen
class AuthOutcome:
    """An authenticated principal, with the labels the audit line needs."""

    principal: Principal
    auth_method: str
    subject: str | None
    token_fingerprint: str | None = None


def bearer_token(authorization: str | None) -> str | None:
    """The token of a well-formed `Bearer <token>` header value, else None."""
    if authorization is None or len(authorization.encode("utf-8")) > MAX_AUTHORIZATION_HEADER_BYTES:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_loopback(peer_ip: str | None) -> bool:
    if peer_ip is None:
        return False
    try:
        return ipaddress.ip_address(peer_ip.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Turns a `Caller` into an `AuthOutcome` under one `[server.auth]` config."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._tokens = tuple(token.encode("utf-8") for token in config.bearer_tokens)
        self._principals = {principal.subject: principal for principal in config.principals}

    def authenticate(self, caller: Caller) -> AuthOutcome:
        mode = self.config.mode
        if mode is AuthMode.LOCAL_ONLY:
            if caller.transport == "stdio":
                return self._outcome("stdio", "local", "stdio")
            if is_loopback(caller.peer_ip):
                return self._outcome("loopback", "local", "loopback")
            raise Unauthenticated("local-only mode requires loopback access")
        if mode is AuthMode.BEARER_TOKEN:
            token = bearer_token(caller.authorization)
            if token is None:
                raise Unauthenticated("missing or malformed bearer token")
            encoded = token.encode("utf-8")
            # Compare against every token so the time taken does not say which one matched.
            matched = False
            for known in self._tokens:
                matched |= hmac.compare_digest(encoded, known)
            if not matched:
                raise Unauthenticated("unknown bearer token")
            fingerprint = token_fingerprint(token)
            outcome = self._outcome(f"token:{fingerprint}", "bearer_token", None)
            return attrs.evolve(outcome, token_fingerprint=fingerprint)
        subject = (caller.client_subject or "").strip()
        if not subject:
            raise Unauthenticated("missing mtls client subject")
        if subject not in self.config.mtls_subjects:
            raise Unauthorized("mtls subject not allowed")
        return self._outcome(subject, "mtls_subject", subject)

    def check_tool_allowed(self, tool: str) -> None:
        allowed = self.config.allowed_tools
        if allowed and tool not in allowed:
            raise Unauthorized(f"tool not in allowlist: {tool}")

    def _outcome(self, principal_id: str, method: str, subject: str | None) -> AuthOutcome:
        configured = self._principals.get(principal_id)
        roles = tuple(role.name for role in configured.roles) if configured else ()
        policy_class = configured.policy_class if configured else None
        seam_method = {"bearer_token": "bearer", "mtls_subject": "mtls"}.get(method, "local")
        return AuthOutcome(
            principal=Principal(
                principal_id=principal_id,
                auth_method=seam_method,
                roles=roles,
                policy_class=policy_class,
            ),
            auth_method=method,
            subject=subject,
        )
