"""JSON-RPC errors on the wire: codes, kinds, HTTP statuses (server.md §1.5).

Every error a client sees is built here from a `DecisionGateError`: its
`code` and `kind` are class attributes, its message is `str(error)`, and the
HTTP status follows the reference's table - 400 for malformed requests and
invalid params, 401/403 for auth, 413/429/503 for the server's own limits,
and 200 for domain errors (not found, conflict, control plane, runpack), which
are answers about the request rather than refusals of it. Auth failures never
say why: their messages are the literal words `unauthenticated` and
`unauthorized`. Anything that is not a `DecisionGateError` becomes
`internal error` with no detail, so no exception text can leak.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from decision_gate.core.errors import DecisionGateError

_HTTP_STATUS: Final = {
    -32600: 400,
    -32601: 400,
    -32602: 400,
    -32001: 401,
    -32003: 403,
    -32073: 400,
}
RETRYABLE_CODES: Final = frozenset({-32071, -32072})


class InvalidRequest(DecisionGateError):
    """The body is not a JSON-RPC 2.0 request (or names another version)."""

    code = -32600
    kind = "invalid_request"


class MethodNotFound(DecisionGateError):
    """An unknown JSON-RPC method, or an unknown, hidden or disabled tool."""

    code = -32601
    kind = "method_not_found"


class Unauthenticated(DecisionGateError):
    """No acceptable credentials. `reason` is for the audit log only."""

    code = -32001
    kind = "unauthenticated"

    def __init__(self, reason: str) -> None:
        super().__init__("unauthenticated")
        self.reason = reason


class Unauthorized(DecisionGateError):
    """Authenticated, but not allowed. `reason` is for the audit log only."""

    code = -32003
    kind = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__("unauthorized")
        self.reason = reason


class RequestTooLarge(DecisionGateError):
    code = -32070
    kind = "request_too_large"
    http_status = 413

    def __init__(self) -> None:
        super().__init__("request body too large")


class ResponseTooLarge(DecisionGateError):
    """A tool answer over its size cap: an answer (HTTP 200), not a refusal."""

    code = -32070
    kind = "request_too_large"


class RateLimited(DecisionGateError):
    code = -32071
    kind = "rate_limited"
    http_status = 429

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after_ms = retry_after_ms


class Overloaded(DecisionGateError):
    code = -32072
    kind = "inflight_limit"
    http_status = 503

    def __init__(self, message: str = "server overloaded") -> None:
        super().__init__(message)


class InvalidCorrelationId(DecisionGateError):
    code = -32073
    kind = "invalid_correlation_id"

    def __init__(self, reason: str) -> None:
        super().__init__("invalid correlation id")
        self.reason = reason


class SerializationFailed(DecisionGateError):
    code = -32060
    kind = "serialization"

    def __init__(self) -> None:
        super().__init__("serialization failed")


@attrs.frozen
class RpcError:
    """A JSON-RPC error ready for the wire, with the HTTP status to send it under."""

    code: int
    kind: str
    message: str
    http_status: int
    retry_after_ms: int | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> RpcError:
        if not isinstance(error, DecisionGateError):
            return cls(code=-32050, kind="internal", message="internal error", http_status=200)
        status = getattr(error, "http_status", None) or _HTTP_STATUS.get(error.code, 200)
        return cls(
            code=error.code,
            kind=error.kind,
            message=str(error),
            http_status=status,
            retry_after_ms=getattr(error, "retry_after_ms", None),
        )

    def to_json(self, request_id: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "retryable": self.code in RETRYABLE_CODES,
            "request_id": request_id,
        }
        if self.retry_after_ms is not None:
            data["retry_after_ms"] = self.retry_after_ms
        return {"code": self.code, "message": self.message, "data": data}
