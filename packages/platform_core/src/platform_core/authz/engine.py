"""`PolicyEngine`: deny-by-default decisions, every one of them audited.

Invariants:
- Nothing is allowed unless a role binding of the principal, at a scope that
  covers the requested scope, names a role whose permissions grant the action.
- A principal whose credential is bound to a tenant never acts in another
  tenant, whatever bindings exist.
- Every decision, allow and deny, is handed to the `DecisionAuditor` before
  it is returned. If the bindings cannot be read, or the auditor fails or
  takes longer than `timeout_seconds`, the answer is deny: an unrecorded
  allow never leaves the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from platform_core.authz.bindings import RoleBindingSource
from platform_core.authz.permissions import check_action
from platform_core.authz.roles import RoleBinding, RoleCatalog, Scope
from platform_core.errors import InvalidInput, Unauthorized
from platform_core.identity.principal import Principal

__all__ = ["DecisionAuditor", "DecisionRecord", "PolicyDecision", "PolicyEngine"]

logger = logging.getLogger(__name__)


@attrs.frozen
class PolicyDecision:
    """The answer to "may this principal do this action here?" and why."""

    decision_id: str
    allowed: bool
    reason: str
    subject: str
    action: str
    scope: Scope
    role: str | None = None
    binding_scope: Scope | None = None


@attrs.frozen
class DecisionRecord:
    """The audit record of one decision: flat, JSON-ready, free of credentials.

    `occurred_at` is epoch seconds (UTC) with fraction."""

    decision_id: str
    occurred_at: float
    subject: str
    principal_kind: str
    credential: str
    tenant_id: str
    namespace: str | None
    action: str
    allowed: bool
    reason: str
    role: str | None
    binding_namespace: str | None
    event: str = "authz_decision"

    def as_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


class DecisionAuditor(Protocol):
    """Receives every decision; raising makes the decision a deny."""

    async def record_decision(self, record: DecisionRecord) -> None:
        """Persist or forward one decision record."""


def _specific_first(binding: RoleBinding) -> tuple[bool, str, str]:
    return (binding.scope.namespace is None, binding.role, binding.scope.namespace or "")


class PolicyEngine:
    """Decides actions for principals from role bindings, deny by default."""

    def __init__(
        self,
        bindings: RoleBindingSource,
        auditor: DecisionAuditor,
        *,
        roles: RoleCatalog | None = None,
        clock: Callable[[], float] = time.time,
        timeout_seconds: float = 5.0,
    ) -> None:
        if not timeout_seconds > 0:
            raise InvalidInput("timeout_seconds must be positive")
        self._bindings = bindings
        self._auditor = auditor
        self._roles = roles if roles is not None else RoleCatalog()
        self._clock = clock
        self._timeout = timeout_seconds

    async def decide(self, principal: Principal, action: str, scope: Scope) -> PolicyDecision:
        """Allow or deny `action` for `principal` in `scope`; audited either way.
        A malformed action is `InvalidInput`, raised before any decision."""
        check_action(action)
        decision = await self._evaluate(uuid.uuid4().hex, principal, action, scope)
        return await self._audited(principal, decision)

    async def require(self, principal: Principal, action: str, scope: Scope) -> PolicyDecision:
        """Like `decide`, but a deny raises `Unauthorized` carrying its reason."""
        decision = await self.decide(principal, action, scope)
        if not decision.allowed:
            raise Unauthorized(decision.reason)
        return decision

    async def _evaluate(
        self, decision_id: str, principal: Principal, action: str, scope: Scope
    ) -> PolicyDecision:
        def deny(reason: str) -> PolicyDecision:
            return PolicyDecision(decision_id, False, reason, principal.subject, action, scope)

        if principal.tenant_id is not None and principal.tenant_id != scope.tenant_id:
            return deny(f"credential is bound to tenant {principal.tenant_id}")
        try:
            async with asyncio.timeout(self._timeout):
                bindings: Sequence[RoleBinding] = await self._bindings.bindings_for(
                    principal.subject, scope.tenant_id
                )
        except Exception as error:  # noqa: BLE001 - any failure to read bindings must deny
            logger.error("role bindings unavailable: %s", type(error).__name__)
            return deny("role bindings unavailable")
        for binding in sorted(bindings, key=_specific_first):
            if binding.subject != principal.subject or not binding.scope.covers(scope):
                continue
            role = self._roles.get(binding.role)
            if role is not None and role.grants(action):
                return PolicyDecision(
                    decision_id,
                    True,
                    f"role {role.name} at {binding.scope} grants {action}",
                    principal.subject,
                    action,
                    scope,
                    role=role.name,
                    binding_scope=binding.scope,
                )
        return deny(f"no role binding grants {action} in {scope}")

    async def _audited(self, principal: Principal, decision: PolicyDecision) -> PolicyDecision:
        record = DecisionRecord(
            decision_id=decision.decision_id,
            occurred_at=self._clock(),
            subject=principal.subject,
            principal_kind=principal.kind.value,
            credential=principal.credential.value,
            tenant_id=decision.scope.tenant_id,
            namespace=decision.scope.namespace,
            action=decision.action,
            allowed=decision.allowed,
            reason=decision.reason,
            role=decision.role,
            binding_namespace=None if decision.binding_scope is None
            else decision.binding_scope.namespace,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await self._auditor.record_decision(record)
        except Exception as error:  # noqa: BLE001 - an unrecorded decision must not allow
            logger.error(
                "decision %s could not be audited (%s); denying",
                decision.decision_id,
                type(error).__name__,
            )
            return attrs.evolve(
                decision,
                allowed=False,
                reason=f"decision could not be audited; denied ({decision.reason})",
                role=None,
                binding_scope=None,
            )
        return decision
