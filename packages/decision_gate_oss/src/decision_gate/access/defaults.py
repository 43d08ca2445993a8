"""The open-source defaults of the access seams (server.md §3.6-§3.8).

`AllowAllAuthorizer` allows with reason `noop_allow`; `NoopUsageMeter`
allows every check with `noop_allow` and keeps no records (recording is
trivially idempotent); `NoNamespaceAuthority` (`namespace.authority.mode =
"none"`) allows every namespace that passed the default-namespace rules and
records `dg_registry` as the runpack security context. All decisions are still
audited by the fail-closed wrappers that call them.
"""

from __future__ import annotations

from typing import Final

from decision_gate.seams.access import CallContext
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.seams.tenant_authorizer import AuthorizationDecision
from decision_gate.seams.usage_meter import UsageDecision, UsageRequest

NOOP_ALLOW: Final = "noop_allow"


class AllowAllAuthorizer:
    async def authorize(self, call: CallContext) -> AuthorizationDecision:
        return AuthorizationDecision.allow(NOOP_ALLOW)


class NoopUsageMeter:
    async def check(self, request: UsageRequest) -> UsageDecision:
        return UsageDecision(allowed=True, reason=NOOP_ALLOW)

    async def record(self, request: UsageRequest, idempotency_key: str) -> None:
        return None


class NoNamespaceAuthority:
    security_context: Final = "dg_registry"

    async def check(
        self, tenant_id: int, namespace_id: int, *, correlation_id: str | None = None
    ) -> NamespaceDecision:
        return NamespaceDecision.ALLOWED
