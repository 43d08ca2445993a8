"""The JSON-RPC surface shared by every transport (server.md §0, §1.4-1.5).

`RpcService.handle` takes the raw body of one request and the caller's
identity and returns the JSON-RPC response with the HTTP status the
reference would send; transports only frame it (plain JSON, one SSE event,
or a Content-Length frame). Exactly four methods exist: `tools/list`,
`tools/call`, `resources/list`, `resources/read`; no batches, no
notifications. A request that does not parse is answered with id null; a
request that does parse has its id echoed verbatim, and error data carries
the JSON text of that id (`7` -> `"7"`, `"a"` -> `"\\"a\\""`).

Every request, refused or not, produces exactly one `mcp_request` audit
event (ids, labels and sizes, never params), and every authentication
decision one `mcp_tool_authz` line on the auth log. If the audit sinks fail
to record a request, the response becomes an internal error: nothing is
answered unaudited.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

import attrs

from decision_gate.core.errors import DecisionGateError, InvalidInput
from decision_gate.core.jsonvalue import loads
from decision_gate.plugins.guards import AuditFailure, AuditFanout, epoch_millis
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.server.auth import Authenticator, AuthOutcome, Caller
from decision_gate.server.catalogue import contract_for
from decision_gate.server.docs import URI_PREFIX, DocsCatalogue
from decision_gate.server.errors import (
    InvalidRequest,
    MethodNotFound,
    RpcError,
    Unauthenticated,
    Unauthorized,
)
from decision_gate.server.metrics import ServerMetrics
from decision_gate.server.tools import ToolCall, ToolRouter

_METHOD_LABELS: Final = {
    "tools/list": "ToolsList",
    "tools/call": "ToolsCall",
    "resources/list": "ResourcesList",
    "resources/read": "ResourcesRead",
}


@attrs.frozen
class RpcReply:
    """A JSON-RPC response and the HTTP status that carries it."""

    status: int
    body: dict[str, Any]
    error: RpcError | None = None

    def encoded(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@attrs.frozen
class RpcRequestInfo:
    """Transport-level facts about one request, for routing and audit."""

    caller: Caller
    server_correlation_id: str
    client_correlation_id: str | None = None
    request_bytes: int = 0
    standard_mcp: bool = False

    @property
    def metrics_transport(self) -> str:
        """The transport label of the metrics: `mcp` for standard MCP on any carrier."""
        return "mcp" if self.standard_mcp else self.caller.transport


def error_reply(
    error: RpcError, request_id: Any = None, request_id_text: str | None = None
) -> RpcReply:
    return RpcReply(
        status=error.http_status,
        body={"jsonrpc": "2.0", "id": request_id, "error": error.to_json(request_id_text)},
        error=error,
    )


def _id_text(request_id: Any) -> str:
    return json.dumps(request_id, separators=(",", ":"), ensure_ascii=False)


class RpcService:
    """Dispatches parsed JSON-RPC requests to the tool router and the docs."""

    def __init__(
        self,
        router: ToolRouter,
        authenticator: Authenticator,
        docs: DocsCatalogue,
        audit: AuditFanout,
        *,
        auth_log: TextIO | None = None,
        clock: Callable[[], int] = epoch_millis,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else ServerMetrics()
        self.router = router
        self.authenticator = authenticator
        self.docs = docs
        self.audit = audit
        self._auth_log = auth_log
        self._clock = clock

    async def handle(self, body: bytes, info: RpcRequestInfo) -> RpcReply:
        with self.metrics.in_flight(info.metrics_transport):
            return await self._handle(body, info, time.perf_counter())

    async def _handle(self, body: bytes, info: RpcRequestInfo, started: float) -> RpcReply:
        method_label, tool = "Invalid", None
        request_id: Any = None
        id_text: str | None = None
        try:
            request = _parse(body)
            request_id = request["id"]
            id_text = _id_text(request_id)
            method = request["method"]
            method_label = _METHOD_LABELS.get(method, "Other")
            if request["jsonrpc"] != "2.0":
                raise InvalidRequest("invalid json-rpc version")
            params = request.get("params")
            if method == "tools/call" and isinstance(params, dict):
                tool = params.get("name") if isinstance(params.get("name"), str) else None
            result = await self._dispatch(method, params, info, id_text)
            reply = RpcReply(
                status=200, body={"jsonrpc": "2.0", "id": request_id, "result": result}
            )
        except DecisionGateError as error:
            reply = error_reply(RpcError.from_exception(error), request_id, id_text)
        except Exception as error:  # noqa: BLE001 - a bug becomes "internal error", never a trace
            # Operators get the exception type and where, never its text (it may hold values).
            self._operator_line(
                {
                    "event": "internal_error",
                    "exception": type(error).__name__,
                    "method": method_label,
                    "tool": tool,
                    "server_correlation_id": info.server_correlation_id,
                }
            )
            reply = error_reply(RpcError.from_exception(error), request_id, id_text)
        reply = await self.audited(reply, info, method_label, tool, id_text)
        elapsed = time.perf_counter() - started
        self.metrics.handled(method_label, tool, info.metrics_transport, elapsed)
        return reply

    async def audited(
        self,
        reply: RpcReply,
        info: RpcRequestInfo,
        method_label: str,
        tool: str | None,
        request_id_text: str | None,
    ) -> RpcReply:
        """Emit the request's `mcp_request` event; an audit failure fails the reply."""
        size = len(reply.encoded())
        event = AuditEvent(
            AuditEventKind.MCP_REQUEST,
            {
                "timestamp_ms": self._clock(),
                "request_id": request_id_text,
                "unsafe_client_correlation_id": info.client_correlation_id,
                "server_correlation_id": info.server_correlation_id,
                "transport": info.caller.transport,
                "peer_ip": info.caller.peer_ip,
                "method": method_label,
                "tool": tool if tool is not None and contract_for(tool) is not None else None,
                "outcome": "Ok" if reply.error is None else "Error",
                "error_code": None if reply.error is None else reply.error.code,
                "error_kind": None if reply.error is None else reply.error.kind,
                "request_bytes": info.request_bytes,
                "response_bytes": size,
                "client_subject": info.caller.client_subject,
                "redaction": "evidence" if tool == "evidence_query" else "full",
            },
        )
        try:
            await self.audit.emit(event)
        except AuditFailure as failure:
            reply = error_reply(
                RpcError.from_exception(failure), reply.body.get("id"), request_id_text
            )
        self.metrics.answered(method_label, tool, info.metrics_transport, reply.error)
        return reply

    async def security_event(self, info: RpcRequestInfo, kind: str, message: str) -> None:
        await self.audit.emit(
            AuditEvent(
                AuditEventKind.SECURITY,
                {
                    "timestamp_ms": self._clock(),
                    "unsafe_client_correlation_id": info.client_correlation_id,
                    "server_correlation_id": info.server_correlation_id,
                    "kind": kind,
                    "message": message,
                    "dev_permissive": self.router.config.dev_permissive,
                    "namespace_authority": "n/a",
                },
            )
        )

    # ------------------------------------------------------------------ methods

    async def _dispatch(self, method: str, params: Any, info: RpcRequestInfo, id_text: str) -> Any:
        if method == "tools/list":
            self._authenticate(info, "tools/list", id_text)
            return {"tools": [_definition(name) for name in self.router.listed_tools()]}
        if method == "tools/call":
            if not isinstance(params, dict) or "name" not in params or "arguments" not in params:
                raise InvalidInput("invalid tool params")
            name = params["name"]
            if not isinstance(name, str):
                raise InvalidInput("invalid tool params")
            call = ToolCall(
                name=name,
                arguments=params["arguments"],
                caller=info.caller,
                request_id=id_text,
                client_correlation_id=info.client_correlation_id,
                server_correlation_id=info.server_correlation_id,
            )
            result = await self.router.call(
                call, lambda action: self._authenticate(info, action, id_text, tool=True)
            )
            return {"content": [{"type": "json", "json": result}]}
        if method in ("resources/list", "resources/read"):
            if not self.docs.resources_enabled:
                raise MethodNotFound("method not found")
            if method == "resources/list":
                self._authenticate(info, "tools/list", id_text)
                return {"resources": self.docs.resource_list()}
            uri = _resource_uri(params)
            if uri is None:
                raise InvalidInput("resources.read requires uri")
            if not uri.startswith(URI_PREFIX):
                raise InvalidInput(f"resource uri must start with {URI_PREFIX}")
            self._authenticate(info, "tools/list", id_text)
            return self.docs.read(uri)
        raise MethodNotFound("method not found")

    def _authenticate(
        self, info: RpcRequestInfo, action: str, id_text: str, *, tool: bool = False
    ) -> AuthOutcome:
        """Authenticate (and for tools, apply the allowlist), logging the decision."""
        outcome: AuthOutcome | None = None
        reason: str | None = None
        try:
            outcome = self.authenticator.authenticate(info.caller)
            if tool:
                self.authenticator.check_tool_allowed(action)
        except Unauthenticated as error:
            reason = f"unauthenticated: {error.reason}"
            raise
        except Unauthorized as error:
            reason = f"unauthorized: {error.reason}"
            raise
        finally:
            self._log_authz(info, action, id_text, outcome, reason)
        return outcome

    def _log_authz(
        self,
        info: RpcRequestInfo,
        action: str,
        id_text: str,
        outcome: AuthOutcome | None,
        reason: str | None,
    ) -> None:
        self._operator_line(
            {
                "event": "mcp_tool_authz",
                "decision": "allow" if reason is None else "deny",
                "action": action,
                "transport": info.caller.transport,
                "peer_ip": info.caller.peer_ip,
                "auth_method": outcome.auth_method if outcome else None,
                "subject": outcome.subject if outcome else None,
                "token_fingerprint": outcome.token_fingerprint if outcome else None,
                "reason": reason,
                "request_id": id_text,
                "unsafe_client_correlation_id": info.client_correlation_id,
                "server_correlation_id": info.server_correlation_id,
            }
        )

    def _operator_line(self, line: dict[str, Any]) -> None:
        """One JSON line on the auth/operator log (stderr unless given)."""
        stream = self._auth_log if self._auth_log is not None else sys.stderr
        stream.write(json.dumps(line, separators=(",", ":")) + "\n")
        stream.flush()


def _definition(name: str) -> dict[str, Any]:
    contract = contract_for(name)
    assert contract is not None
    return contract.definition()


def _resource_uri(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    uri = params.get("uri")
    if uri is None and isinstance(params.get("arguments"), dict):
        uri = params["arguments"].get("uri")
    return uri if isinstance(uri, str) else None


def _parse(body: bytes) -> dict[str, Any]:
    """The request object, or `InvalidRequest("invalid json-rpc request")`."""
    try:
        value = loads(body)
    except (InvalidInput, ValueError, RecursionError):
        raise InvalidRequest("invalid json-rpc request") from None
    if (
        not isinstance(value, dict)
        or "id" not in value
        or not isinstance(value.get("jsonrpc"), str)
        or not isinstance(value.get("method"), str)
        or _envelope_member_repeats(body)
    ):
        raise InvalidRequest("invalid json-rpc request")
    return value


def _envelope_member_repeats(body: bytes) -> bool:
    """Whether the request object names a member twice. The reference decodes the
    envelope into a typed struct, which refuses that; taking the last `method` or
    `id` would let a proxy and this server read different requests from one body.
    (Inside `params`, a free JSON value, the last duplicate wins, as there.)"""
    objects: list[list[tuple[str, Any]]] = []

    def remember(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        objects.append(pairs)
        return {}

    try:
        json.loads(
            body,
            object_pairs_hook=remember,
            parse_int=lambda _: 0,
            parse_float=lambda _: 0,
            parse_constant=lambda _: 0,
        )
    except (ValueError, RecursionError):
        return True
    envelope = objects[-1]
    return len({key for key, _ in envelope}) != len(envelope)
