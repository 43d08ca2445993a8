"""Failure semantics around the access seams and the audit sinks.

The server calls authorizers, meters, namespace authorities and audit sinks
only through these wrappers, so the rules hold whatever a plugin does:
- `FailClosedAuthorizer`, `FailClosedMeter`: an exception, a timeout or a
  result of the wrong type is a denial (reasons `authorizer_error`,
  `authorizer_timeout`, `authorizer_invalid_result`, and `meter_*` alike).
  Every decision, allowed or denied, is emitted as a `tenant_authz` /
  `usage_audit` event before it is returned; if that emission fails the call
  fails (`AuditFailure`), so nothing is allowed unaudited.
- `FailClosedNamespaceAuthority`: an exception or timeout is `UNAVAILABLE`.
- `AuditFanout`: every sink receives every event, concurrently; if any sink
  raises or times out, the others still receive the event and `emit` raises
  `AuditFailure` naming the failed sinks, which fails the call being recorded.
- `FailClosedMeter.record` is called after success; its failure is an
  `AuditFailure`-like `UsageRecordFailure` the caller reports as internal.
Exception texts from plugins never reach the client or the audit log (they
might hold secrets); only the exception type is recorded.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar

import attrs

from decision_gate.core.errors import InternalError
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.seams.access import CallContext
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind, AuditSink
from decision_gate.seams.namespace_authority import NamespaceAuthority, NamespaceDecision
from decision_gate.seams.tenant_authorizer import AuthorizationDecision, TenantAuthorizer
from decision_gate.seams.usage_meter import UsageDecision, UsageMeter, UsageRequest

__all__ = [
    "DEFAULT_SEAM_TIMEOUT_SECONDS",
    "AuditFailure",
    "AuditFanout",
    "FailClosedAuthorizer",
    "FailClosedMeter",
    "FailClosedNamespaceAuthority",
    "UsageRecordFailure",
    "epoch_millis",
]

DEFAULT_SEAM_TIMEOUT_SECONDS: Final = 5.0
_T = TypeVar("_T")


class AuditFailure(InternalError):
    """An audit sink could not record an event; the call it recorded fails."""


class UsageRecordFailure(InternalError):
    """The usage meter could not record a successful call's usage."""


def epoch_millis() -> int:
    return time.time_ns() // 1_000_000


async def _bounded(call: Awaitable[_T], timeout: float) -> _T:
    return await asyncio.wait_for(call, timeout)


class AuditFanout:
    """Every configured sink, as one sink that fails if any of them fails."""

    def __init__(
        self, sinks: Sequence[AuditSink], *, timeout: float = DEFAULT_SEAM_TIMEOUT_SECONDS
    ) -> None:
        self.sinks = tuple(sinks)
        self._timeout = timeout

    async def emit(self, event: AuditEvent) -> None:
        results = await asyncio.gather(
            *(_bounded(sink.emit(event), self._timeout) for sink in self.sinks),
            return_exceptions=True,
        )
        failed = [
            f"{type(sink).__name__} ({type(result).__name__})"
            for sink, result in zip(self.sinks, results, strict=True)
            if isinstance(result, BaseException)
        ]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        if failed:
            raise AuditFailure(
                f"audit sink failed to record {event.kind.value}: {', '.join(failed)}"
            )

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


def _call_fields(call: CallContext) -> dict[str, JsonValue]:
    return {
        "request_id": call.request_id,
        "unsafe_client_correlation_id": call.client_correlation_id,
        "server_correlation_id": call.server_correlation_id or "missing",
        "tool": call.tool,
        "tenant_id": None if call.tenant_id is None else str(call.tenant_id),
        "namespace_id": None if call.namespace_id is None else str(call.namespace_id),
        "principal_id": call.principal.principal_id,
    }


@attrs.frozen
class _Failed:
    reason: str


async def _fail_closed(
    call: Callable[[], Awaitable[object]], expected: type[_T], prefix: str, timeout: float
) -> _T | _Failed:
    """Run one seam call: its result, or why it counts as a failure."""
    try:
        result = await asyncio.wait_for(call(), timeout)
    except TimeoutError:
        return _Failed(f"{prefix}_timeout")
    except Exception:  # noqa: BLE001 - a broken seam denies, it never allows
        return _Failed(f"{prefix}_error")
    if not isinstance(result, expected):
        return _Failed(f"{prefix}_invalid_result")
    return result


class FailClosedAuthorizer:
    """A `TenantAuthorizer` that denies on failure and audits every decision."""

    def __init__(
        self,
        inner: TenantAuthorizer,
        audit: AuditFanout,
        *,
        timeout: float = DEFAULT_SEAM_TIMEOUT_SECONDS,
        clock: Callable[[], int] = epoch_millis,
    ) -> None:
        self.inner = inner
        self._audit = audit
        self._timeout = timeout
        self._clock = clock

    async def authorize(self, call: CallContext) -> AuthorizationDecision:
        result = await _fail_closed(
            lambda: self.inner.authorize(call), AuthorizationDecision, "authorizer", self._timeout
        )
        decision = (
            AuthorizationDecision.deny(result.reason) if isinstance(result, _Failed) else result
        )
        await self._audit.emit(
            AuditEvent(
                AuditEventKind.TENANT_AUTHZ,
                {
                    "timestamp_ms": self._clock(),
                    **_call_fields(call),
                    "allowed": decision.allowed,
                    "reason": decision.reason,
                },
            )
        )
        return decision


class FailClosedMeter:
    """A `UsageMeter` that denies on failure and audits every check."""

    def __init__(
        self,
        inner: UsageMeter,
        audit: AuditFanout,
        *,
        timeout: float = DEFAULT_SEAM_TIMEOUT_SECONDS,
        clock: Callable[[], int] = epoch_millis,
    ) -> None:
        self.inner = inner
        self._audit = audit
        self._timeout = timeout
        self._clock = clock

    async def check(self, request: UsageRequest) -> UsageDecision:
        result = await _fail_closed(
            lambda: self.inner.check(request), UsageDecision, "meter", self._timeout
        )
        decision = (
            UsageDecision(allowed=False, reason=result.reason)
            if isinstance(result, _Failed)
            else result
        )
        await self._audit.emit(
            AuditEvent(
                AuditEventKind.USAGE,
                {
                    "timestamp_ms": self._clock(),
                    **_call_fields(request.call),
                    "metric": request.metric.value,
                    "units": request.units,
                    "allowed": decision.allowed,
                    "reason": decision.reason,
                },
            )
        )
        return decision

    async def record(self, request: UsageRequest, idempotency_key: str) -> None:
        try:
            await asyncio.wait_for(self.inner.record(request, idempotency_key), self._timeout)
        except TimeoutError:
            raise UsageRecordFailure(
                f"usage meter timed out recording {request.metric.value}"
            ) from None
        except Exception as error:  # noqa: BLE001 - reported as a typed failure, never swallowed
            raise UsageRecordFailure(
                f"usage meter failed recording {request.metric.value}: {type(error).__name__}"
            ) from None


class FailClosedNamespaceAuthority:
    """A `NamespaceAuthority` whose failures are `UNAVAILABLE`, never an allow."""

    def __init__(
        self, inner: NamespaceAuthority, *, timeout: float = DEFAULT_SEAM_TIMEOUT_SECONDS
    ) -> None:
        self.inner = inner
        self._timeout = timeout

    @property
    def security_context(self) -> str:
        return self.inner.security_context

    async def check(
        self, tenant_id: int, namespace_id: int, *, correlation_id: str | None = None
    ) -> NamespaceDecision:
        result = await _fail_closed(
            lambda: self.inner.check(tenant_id, namespace_id, correlation_id=correlation_id),
            NamespaceDecision,
            "namespace_authority",
            self._timeout,
        )
        return NamespaceDecision.UNAVAILABLE if isinstance(result, _Failed) else result

    async def close(self) -> None:
        """Close the authority if it holds resources (an HTTP client); idempotent."""
        close = getattr(self.inner, "close", None)
        if close is not None and inspect.iscoroutinefunction(close):
            await close()
