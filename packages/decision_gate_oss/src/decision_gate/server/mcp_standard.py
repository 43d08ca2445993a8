"""Standard MCP through the official `mcp` SDK: streamable HTTP at `/mcp`, newline-delimited stdio.

The reference speaks its own JSON-RPC dialect (`/rpc`, `{"type": "json"}`
content, Content-Length framed stdio); MCP clients speak the standard one.
This module is only a translator between the two. Every `tools/list`,
`tools/call`, `resources/list` and `resources/read` an MCP client sends is
re-expressed as the reference request and handed to the same
`RpcService.handle` that serves `/rpc`, so authentication, the tool
allowlist and visibility, argument validation, tenant and namespace guards,
usage metering, the `mcp_request` audit event and the `mcp_tool_authz` line
are the ones `/rpc` applies - there is no second implementation of a tool.

Translation rules:
- `tools/list` publishes each visible tool with the contract's
  `input_schema` as `inputSchema` and `output_schema` as `outputSchema`.
- A successful `tools/call` returns the tool's result as `structuredContent`
  and, for clients that read only text, the same JSON as one text item.
- A failed `tools/call` is an `isError` result whose text is exactly the
  JSON-RPC error object `/rpc` would send (code, message, data.kind,
  data.retryable, data.retry_after_ms); failed list and read requests are
  JSON-RPC errors with that code, message and data. Nothing a tool raises
  escapes as a crash.

Before each of those requests the transport guards of `/rpc` apply, in its
order: a server correlation id is issued, the client's `x-correlation-id`
is validated, an inflight permit is taken and the rate limit counted (the
HTTP app shares `/rpc`'s limiter objects, so one budget covers both
routes). Request bodies over `max_body_bytes` are refused before parsing -
by the SDK on HTTP, by the bounded line reader on stdio.

`/mcp` runs the SDK's session manager stateless with JSON responses: every
POST carries its own credentials, so no session can outlive or borrow
another caller's authentication. With a loopback bind, Host and Origin are
checked against loopback names (DNS-rebinding protection).
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any, BinaryIO, Final, TextIO, cast

import anyio
import attrs
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from decision_gate import __version__
from decision_gate.config import is_loopback_bind
from decision_gate.config.model import DecisionGateConfig, ServerConfig, Transport
from decision_gate.core.errors import DecisionGateError
from decision_gate.plugins.guards import AuditFailure
from decision_gate.server.app import DecisionGateServer
from decision_gate.server.auth import Caller, http_caller
from decision_gate.server.catalogue import contract_for
from decision_gate.server.correlation import correlation_id_problem
from decision_gate.server.errors import (
    InvalidCorrelationId,
    InvalidRequest,
    Overloaded,
    RateLimited,
    RequestTooLarge,
    RpcError,
    SerializationFailed,
)
from decision_gate.server.limits import InflightLimit, RateLimiter
from decision_gate.server.rpc import RpcReply, RpcRequestInfo, error_reply

SERVER_NAME: Final = "decision-gate"
CLIENT_CORRELATION_HEADER: Final = "x-correlation-id"
SERVER_CORRELATION_META: Final = "decision-gate/server_correlation_id"
INSTRUCTIONS: Final = (
    "Decision Gate evaluates gates over evidence. Define a scenario (scenario_define), "
    "start a run (scenario_start), advance it (scenario_next, scenario_trigger, "
    "scenario_submit), then export and verify the runpack (runpack_export, runpack_verify). "
    "decision_gate_docs_search answers questions about the tools."
)
SdkContext = ServerRequestContext[Any, Any]
_TRANSPORT_SECURITY_STATUSES: Final = frozenset({403, 421})
_LOOPBACK_HOSTS: Final = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
_LOOPBACK_ORIGINS: Final = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


@attrs.frozen
class RequestGuards:
    """The per-request limits `/rpc` applies; shared objects mean one shared budget."""

    inflight: InflightLimit
    rate_limiter: RateLimiter | None

    @classmethod
    def for_config(cls, config: DecisionGateConfig) -> RequestGuards:
        limits = config.server.limits
        return cls(
            InflightLimit(limits.max_inflight),
            RateLimiter(limits.rate_limit) if limits.rate_limit is not None else None,
        )


class StandardMcp:
    """One SDK `Server` whose handlers forward to a running `DecisionGateServer`."""

    def __init__(
        self, server: DecisionGateServer, guards: RequestGuards, *, transport: Transport
    ) -> None:
        self.server = server
        self.guards = guards
        self.transport = transport
        resources = server.docs.resources_enabled
        self.sdk: Server[Any] = Server(
            SERVER_NAME,
            version=__version__,
            instructions=INSTRUCTIONS,
            get_tool_input_schema=_input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources if resources else None,
            on_read_resource=self._read_resource if resources else None,
        )

    # ------------------------------------------------------------------ handlers

    async def _list_tools(
        self, ctx: SdkContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        result = _result_or_raise(await self._forward(ctx, "tools/list", None))
        return types.ListToolsResult(tools=[_tool(entry["name"]) for entry in result["tools"]])

    async def _call_tool(
        self, ctx: SdkContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = params.arguments if params.arguments is not None else {}
        reply = await self._forward(
            ctx, "tools/call", {"name": params.name, "arguments": arguments}
        )
        meta = {SERVER_CORRELATION_META: reply.server_correlation_id}
        error = reply.rpc.body.get("error")
        if error is None:
            (item,) = reply.rpc.body["result"]["content"]
            value = item["json"]
            if isinstance(value, dict):
                return types.CallToolResult(
                    content=[types.TextContent(type="text", text=_json_text(value))],
                    structured_content=value,
                    _meta=meta,
                )
            error = RpcError.from_exception(SerializationFailed()).to_json(reply.id_text)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=_json_text(error))],
            is_error=True,
            _meta=meta,
        )

    async def _list_resources(
        self, ctx: SdkContext, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        result = _result_or_raise(await self._forward(ctx, "resources/list", None))
        return types.ListResourcesResult.model_validate(result, by_name=False)

    async def _read_resource(
        self, ctx: SdkContext, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        reply = await self._forward(ctx, "resources/read", {"uri": str(params.uri)})
        return types.ReadResourceResult.model_validate(_result_or_raise(reply), by_name=False)

    # ------------------------------------------------------------------ forwarding

    async def _forward(self, ctx: SdkContext, method: str, params: Any) -> _ForwardedReply:
        """Guard, then hand the reference request to the shared `RpcService`."""
        request_id = ctx.request_id
        caller, raw_client_id = caller_for(self.transport, ctx.request, self.server.config.server)
        rpc = self.server.rpc
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            body["params"] = params
        encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        info = RpcRequestInfo(
            caller=caller,
            server_correlation_id=self.server.correlation_ids.issue(),
            request_bytes=len(encoded),
            standard_mcp=True,
        )
        if raw_client_id is not None:
            problem = correlation_id_problem(raw_client_id)
            if problem is not None:
                try:
                    await rpc.security_event(
                        info, "invalid_correlation_id", f"correlation_id_rejected: {problem}"
                    )
                except AuditFailure as failure:
                    return await self._refused(info, failure)
                return await self._refused(info, InvalidCorrelationId(problem))
            info = attrs.evolve(info, client_correlation_id=raw_client_id.strip())
        try:
            self.guards.inflight.acquire()
        except Overloaded as error:
            return await self._refused(info, error)
        try:
            if self.guards.rate_limiter is not None:
                try:
                    self.guards.rate_limiter.check(caller)
                except (RateLimited, Overloaded) as error:
                    return await self._refused(info, error)
            reply = await rpc.handle(encoded, info)
        finally:
            self.guards.inflight.release()
        return _ForwardedReply(reply, info.server_correlation_id, _id_text(request_id))

    async def audit_transport_refusal(self, request: Request, status: int) -> None:
        """Audit a request the SDK refused before any handler ran (size, Host, framing).

        The answer has been sent, so an audit failure here cannot change it.
        """
        caller, raw_client_id = caller_for(self.transport, request, self.server.config.server)
        info = RpcRequestInfo(
            caller=caller,
            server_correlation_id=self.server.correlation_ids.issue(),
            client_correlation_id=raw_client_id.strip()
            if raw_client_id is not None and correlation_id_problem(raw_client_id) is None
            else None,
            standard_mcp=True,
        )
        error: DecisionGateError = (
            RequestTooLarge() if status == 413 else InvalidRequest("invalid request")
        )
        with contextlib.suppress(AuditFailure):
            if status in _TRANSPORT_SECURITY_STATUSES:
                await self.server.rpc.security_event(
                    info, "transport_security_rejected", f"host or origin rejected ({status})"
                )
            await self._refused(info, error)

    async def _refused(self, info: RpcRequestInfo, error: DecisionGateError) -> _ForwardedReply:
        reply = await self.server.rpc.audited(
            error_reply(RpcError.from_exception(error)), info, "Invalid", None, None
        )
        return _ForwardedReply(reply, info.server_correlation_id, None)


@attrs.frozen
class _ForwardedReply:
    rpc: RpcReply
    server_correlation_id: str
    id_text: str | None


def caller_for(
    transport: Transport, request: Any, config: ServerConfig
) -> tuple[Caller, str | None]:
    """Who sent the request: the stdio parent, or an HTTP peer known exactly as
    `/rpc` knows it (`auth.http_caller`: under in-process mTLS, the verified
    certificate's subject, never the subject header).

    An HTTP message without its request carries no identity at all, which
    every auth mode refuses - never the trust stdio gets.
    """
    if transport is Transport.STDIO:
        return Caller(transport="stdio"), None
    if not isinstance(request, Request):
        return Caller(transport="http"), None
    return http_caller(request, config), request.headers.get(CLIENT_CORRELATION_HEADER)


def _result_or_raise(reply: _ForwardedReply) -> Any:
    error = reply.rpc.body.get("error")
    if error is not None:
        raise MCPError(code=error["code"], message=error["message"], data=error["data"])
    return reply.rpc.body["result"]


def _tool(name: str) -> types.Tool:
    contract = contract_for(name)
    assert contract is not None, "tools/list names only contract tools"
    return types.Tool(
        name=contract.name,
        description=contract.description,
        input_schema=dict(contract.input_schema),
        output_schema=dict(contract.output_schema),
    )


def _input_schema(name: str) -> Mapping[str, Any] | None:
    """The published input schema, for the SDK's `Mcp-Param-*` header check.

    Without it the SDK would run `tools/list` before every 2026-07-28
    `tools/call`, and each call would be audited and rate-counted twice.
    """
    contract = contract_for(name)
    return contract.input_schema if contract is not None else None


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _id_text(request_id: Any) -> str | None:
    return None if request_id is None else _json_text(request_id)


# ---------------------------------------------------------------------- HTTP


def transport_security(bind: str | None) -> TransportSecuritySettings | None:
    """DNS-rebinding protection for a loopback bind; None (off) for an exposed one.

    An exposed server needs bearer or mTLS auth (the bind policy), which a
    page in a browser cannot borrow, so the Host check adds nothing there.
    """
    if bind is not None and not is_loopback_bind(bind):
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(_LOOPBACK_HOSTS),
        allowed_origins=list(_LOOPBACK_ORIGINS),
    )


class StandardMcpEndpoint:
    """The ASGI app behind `/mcp`; live only inside `serving(...)` (the app's lifespan)."""

    def __init__(self) -> None:
        self._manager: StreamableHTTPSessionManager | None = None
        self._standard: StandardMcp | None = None

    @contextlib.asynccontextmanager
    async def serving(
        self,
        server: DecisionGateServer,
        inflight: InflightLimit,
        rate_limiter: RateLimiter | None,
    ) -> AsyncIterator[None]:
        """Serve `server` at `/mcp`, sharing `/rpc`'s inflight and rate limits."""
        standard = StandardMcp(
            server, RequestGuards(inflight, rate_limiter), transport=Transport.HTTP
        )
        manager = StreamableHTTPSessionManager(
            app=standard.sdk,
            json_response=True,
            stateless=True,
            security_settings=transport_security(server.config.server.bind),
            max_request_body_size=server.config.server.max_body_bytes,
        )
        async with manager.run():
            self._manager, self._standard = manager, standard
            try:
                yield
            finally:
                self._manager, self._standard = None, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager, standard = self._manager, self._standard
        if manager is None or standard is None:
            raise RuntimeError("/mcp is served only while the app's lifespan is running")
        if scope["method"] != "POST":
            # Stateless: no session to delete and nothing the server would push on a
            # GET stream, which would only hold a connection open (the spec allows 405).
            response = PlainTextResponse(
                "method not allowed", status_code=405, headers={"allow": "POST"}
            )
            await response(scope, receive, send)
            await standard.audit_transport_refusal(Request(scope), 405)
            return
        statuses: list[int] = []

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)

        await manager.handle_request(scope, receive, observed)
        if statuses and statuses[0] >= 400:
            await standard.audit_transport_refusal(Request(scope), statuses[0])


# ---------------------------------------------------------------------- stdio


class StdioFraming(enum.Enum):
    """How a stdio client frames its messages, told apart by the first bytes."""

    CONTENT_LENGTH = "content-length"
    NEWLINE_JSON = "newline-json"


_BLANK: Final = b" \t\r\n"
_PEEK_BYTES: Final = 64


def detect_stdio_framing(stdin: io.BufferedReader[Any]) -> StdioFraming | None:
    """Peek (without consuming a message byte) at the first message's framing.

    A JSON value (`{`, or a `[` batch) is newline-delimited MCP; anything else
    is header-framed input for the reference transport, whose reader names
    exactly what is wrong with a bad frame (a missing `Content-Length`, an
    overlong header). Leading blank bytes are consumed; None means stdin
    closed before any message.
    """
    while True:
        head = stdin.peek(_PEEK_BYTES)
        if not head:
            return None
        start = head.lstrip(_BLANK)
        if not start:
            stdin.read(len(head))
            continue
        if start[:1] in (b"{", b"["):
            return StdioFraming.NEWLINE_JSON
        return StdioFraming.CONTENT_LENGTH


class BoundedLines:
    """The lines of a text stream, each at most `limit` characters.

    A longer line is never buffered whole: it is read in `limit`-sized
    pieces, dropped, and reported on `errors` - the stdio counterpart of the
    HTTP 413 refusal before parsing. (UTF-8 never has fewer bytes than
    characters, so no message within the byte limit is refused.)
    """

    def __init__(self, stream: TextIO, limit: int, errors: TextIO) -> None:
        self._stream = stream
        self._limit = limit
        self._errors = errors

    def __aiter__(self) -> BoundedLines:
        return self

    async def __anext__(self) -> str:
        while True:
            line = await anyio.to_thread.run_sync(self._stream.readline, self._limit + 1)
            if not line:
                raise StopAsyncIteration
            if len(line) <= self._limit or line.endswith("\n"):
                return line
            while line and not line.endswith("\n"):
                line = await anyio.to_thread.run_sync(self._stream.readline, self._limit)
            self._errors.write(
                f"{RequestTooLarge()}: a stdio line over {self._limit} characters was dropped\n"
            )
            self._errors.flush()


class _Utf8Lines:
    """An anyio-style async text writer over a binary stream (the SDK's stdout)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        await anyio.to_thread.run_sync(self._stream.write, text.encode("utf-8"))

    async def flush(self) -> None:
        await anyio.to_thread.run_sync(self._stream.flush)


async def serve_newline_stdio(
    server: DecisionGateServer,
    stdin: BinaryIO,
    stdout: BinaryIO,
    *,
    errors: TextIO | None = None,
) -> None:
    """Serve standard MCP on newline-delimited JSON until stdin closes.

    `stdin` is read through the caller's buffer, so bytes already peeked by
    `detect_stdio_framing` are the first ones served.
    """
    standard = StandardMcp(
        server, RequestGuards.for_config(server.config), transport=Transport.STDIO
    )
    text_in = io.TextIOWrapper(stdin, encoding="utf-8", errors="replace", newline="\n")
    lines = BoundedLines(
        text_in, server.config.server.max_body_bytes, errors if errors is not None else sys.stderr
    )
    try:
        async with stdio_server(lines, _Utf8Lines(stdout)) as (read_stream, write_stream):  # type: ignore[arg-type]
            await standard.sdk.run(
                read_stream, write_stream, standard.sdk.create_initialization_options()
            )
    finally:
        text_in.detach()


async def serve_stdio_any_framing(
    server: DecisionGateServer, stdin: BinaryIO, stdout: BinaryIO
) -> None:
    """Serve stdio in whichever framing the client speaks, told by its first bytes.

    `Content-Length:` goes to the reference transport (`server.stdio`), `{`
    to standard MCP; a stdin closed before any message is a clean shutdown.
    """
    from decision_gate.server.stdio import serve_stdio

    reader: io.BufferedReader[Any] = (
        stdin
        if isinstance(stdin, io.BufferedReader)
        else io.BufferedReader(cast(io.RawIOBase, stdin))
    )
    framing = await anyio.to_thread.run_sync(detect_stdio_framing, reader)
    if framing is StdioFraming.CONTENT_LENGTH:
        await serve_stdio(server, reader, stdout)
    elif framing is StdioFraming.NEWLINE_JSON:
        await serve_newline_stdio(server, reader, stdout)
