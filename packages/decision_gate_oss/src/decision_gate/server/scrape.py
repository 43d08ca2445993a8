"""`GET /metrics`: who may scrape a server, and what they are given.

A scrape is authenticated exactly as a JSON-RPC request would be under the
server's `[server.auth]` mode - `local_only` admits loopback peers only,
`bearer_token` a configured token, `mtls` an allowed client subject (taken
from the same source as on `/rpc`, `auth.http_caller`) - so
exposing a server never exposes its traffic figures to someone who could not
call it. No tool allowlist applies (a scrape runs no tool). A refused scrape
answers a one-word plain-text body, like `/rpc` never says why, and is
recorded as a `security_audit` event; an admitted one receives the
Prometheus text format of the server's own registry, whose labels hold no id
and no secret (see `server.metrics`).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from decision_gate.config.model import AuthMode
from decision_gate.server.app import DecisionGateServer
from decision_gate.server.auth import http_caller
from decision_gate.server.errors import Unauthenticated, Unauthorized
from decision_gate.server.metrics import CONTENT_TYPE
from decision_gate.server.rpc import RpcRequestInfo

SECURITY_EVENT_KIND: Final = "metrics_scrape_refused"


async def scrape(server: DecisionGateServer, request: Request) -> Response:
    """The metrics of `server` for an authenticated caller, else 401/403."""
    caller = http_caller(request, server.config.server)
    try:
        server.authenticator.authenticate(caller)
    except (Unauthenticated, Unauthorized) as refusal:
        info = RpcRequestInfo(caller=caller, server_correlation_id=server.correlation_ids.issue())
        await server.rpc.security_event(
            info, SECURITY_EVENT_KIND, f"{refusal.kind}: {refusal.reason}"
        )
        headers = {}
        if isinstance(refusal, Unauthenticated) and (
            server.config.server.auth_or_default.mode is AuthMode.BEARER_TOKEN
        ):
            headers["www-authenticate"] = 'Bearer realm="decision-gate"'
        status = 401 if isinstance(refusal, Unauthenticated) else 403
        return PlainTextResponse(str(refusal), status_code=status, headers=headers)
    return Response(server.metrics.render(), media_type=CONTENT_TYPE)
