"""The tenant authorizer seam: may this principal call this tool on this tenant?

Asked for every tenant-scoped tool call before the namespace guard (server.md
§2.1 step 5, §3.7). Invariants:
- It fails closed. The server never calls an implementation directly: it calls
  it through `decision_gate.plugins.guards.FailClosedAuthorizer`, which turns
  an exception, a timeout or a result that is not an `AuthorizationDecision`
  into a denial, so a broken authorizer can only refuse.
- Every decision, allow or deny, is audited as a `tenant_authz` event by that
  same wrapper; an implementation does not emit it itself.
- `reason` is a short machine label (`noop_allow`, `role_missing`); it goes to
  the audit log, never to the client, which only ever sees `unauthorized`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from decision_gate.seams.access import CallContext

__all__ = ["AuthorizationDecision", "TenantAuthorizer"]


@attrs.frozen
class AuthorizationDecision:
    allowed: bool
    reason: str

    @classmethod
    def allow(cls, reason: str) -> AuthorizationDecision:
        return cls(allowed=True, reason=reason)

    @classmethod
    def deny(cls, reason: str) -> AuthorizationDecision:
        return cls(allowed=False, reason=reason)


@runtime_checkable
class TenantAuthorizer(Protocol):
    async def authorize(self, call: CallContext) -> AuthorizationDecision:
        """Allow or deny `call`. Raising denies (the wrapper records why)."""
        ...
