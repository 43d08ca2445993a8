"""The HTTP and SSE transports: `POST /rpc`, `GET /healthz`, `GET /readyz` (server.md §1.1-1.2).

Per request, in the reference's order: the body size is enforced while the
body is read, before any parsing (HTTP 413, plain text); then a server
correlation id is issued; the client's `x-correlation-id` is validated; an
inflight permit is taken (503 when none is free); the rate limit is counted
(429); and only then is the body handed to the JSON-RPC service. Every
`/rpc` response carries `x-server-correlation-id`, and echoes a valid client
id. In SSE mode the same response is sent as one `data:` event. `GET /metrics`
is served by `server.scrape` under the same auth mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from decision_gate.config.model import AuthMode, DecisionGateConfig, Transport
from decision_gate.server.app import DecisionGateServer
from decision_gate.server.auth import http_caller
from decision_gate.server.correlation import correlation_id_problem
from decision_gate.server.errors import InvalidCorrelationId, Overloaded, RateLimited, RpcError
from decision_gate.server.limits import InflightLimit, RateLimiter
from decision_gate.server.mcp_standard import StandardMcpEndpoint
from decision_gate.server.openapi import served_document
from decision_gate.server.rpc import RpcReply, RpcRequestInfo, error_reply
from decision_gate.server.scrape import scrape

SERVER_CORRELATION_HEADER: Final = "x-server-correlation-id"
CLIENT_CORRELATION_HEADER: Final = "x-correlation-id"
TOO_LARGE_TEXT: Final = "request body too large: length limit exceeded"


class BodyTooLarge(Exception):
    """The request body passed `max_body_bytes` while being read."""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes before buffering them."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class RpcEndpoint:
    """`POST /rpc` for one server; `sse` wraps every reply in a single event."""

    def __init__(self, server: DecisionGateServer, *, sse: bool) -> None:
        self.server = server
        self.sse = sse
        limits = server.config.server.limits
        self.inflight = InflightLimit(limits.max_inflight)
        self.rate_limiter = (
            RateLimiter(limits.rate_limit) if limits.rate_limit is not None else None
        )
        self.bearer_mode = server.config.server.auth_or_default.mode is AuthMode.BEARER_TOKEN
        self.max_body_bytes = server.config.server.max_body_bytes

    async def __call__(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLarge:
            self.server.metrics.refused_unread("size", "sse" if self.sse else "http")
            return PlainTextResponse(TOO_LARGE_TEXT, status_code=413)
        server_id = self.server.correlation_ids.issue()
        caller = http_caller(
            request, self.server.config.server, transport="sse" if self.sse else "http"
        )
        info = RpcRequestInfo(
            caller=caller, server_correlation_id=server_id, request_bytes=len(body)
        )
        raw_client_id = request.headers.get(CLIENT_CORRELATION_HEADER)
        if raw_client_id is not None:
            problem = correlation_id_problem(raw_client_id)
            if problem is not None:
                return await self._refused(
                    info,
                    InvalidCorrelationId(problem),
                    security=f"correlation_id_rejected: {problem}",
                )
            info = RpcRequestInfo(
                caller=caller,
                server_correlation_id=server_id,
                client_correlation_id=raw_client_id.strip(),
                request_bytes=len(body),
            )
        try:
            self.inflight.acquire()
        except Overloaded as error:
            return await self._refused(info, error)
        try:
            if self.rate_limiter is not None:
                try:
                    self.rate_limiter.check(caller)
                except (RateLimited, Overloaded) as error:
                    return await self._refused(info, error)
            reply = await self.server.rpc.handle(body, info)
        finally:
            self.inflight.release()
        return self._response(reply, info)

    async def _refused(
        self, info: RpcRequestInfo, error: BaseException, *, security: str | None = None
    ) -> Response:
        rpc = self.server.rpc
        if security is not None:
            await rpc.security_event(info, "invalid_correlation_id", security)
        reply = await rpc.audited(
            error_reply(RpcError.from_exception(error)), info, "Invalid", None, None
        )
        return self._response(reply, info)

    def _response(self, reply: RpcReply, info: RpcRequestInfo) -> Response:
        headers = {SERVER_CORRELATION_HEADER: info.server_correlation_id}
        if info.client_correlation_id is not None:
            headers[CLIENT_CORRELATION_HEADER] = info.client_correlation_id
        if reply.error is not None and reply.error.code == -32001 and self.bearer_mode:
            headers["www-authenticate"] = 'Bearer realm="decision-gate"'
        payload = reply.encoded()
        if self.sse:
            headers["cache-control"] = "no-cache"
            return Response(
                b"data: " + payload + b"\n\n",
                status_code=reply.status,
                headers=headers,
                media_type="text/event-stream",
            )
        return Response(
            payload, status_code=reply.status, headers=headers, media_type="application/json"
        )


def create_app(
    config: DecisionGateConfig, *, server: DecisionGateServer | None = None
) -> Starlette:
    """The ASGI app for `config`; builds (and closes) the server in its lifespan
    unless one is given."""
    state: dict[str, Any] = {}
    sse = config.server.transport is Transport.SSE
    mcp = StandardMcpEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        running = server if server is not None else await DecisionGateServer.start(config)
        state["server"] = running
        state["rpc"] = RpcEndpoint(running, sse=sse)
        try:
            async with mcp.serving(running, state["rpc"].inflight, state["rpc"].rate_limiter):
                yield
        finally:
            if server is None:
                await running.close()

    async def rpc(request: Request) -> Response:
        endpoint: RpcEndpoint = state["rpc"]
        return await endpoint(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        running: DecisionGateServer = state["server"]
        if await running.ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready"}, status_code=503)

    async def openapi(_: Request) -> Response:
        return JSONResponse(served_document(state["server"]))

    async def metrics(request: Request) -> Response:
        return await scrape(state["server"], request)

    return Starlette(
        routes=[
            Route("/rpc", rpc, methods=["POST"]),
            Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
