"""Who may read and write the schema registry (server.md §3.5).

`builtin` mode: a local caller passes when `allow_local_only` is set; other
callers need a role bound to their principal (from `[[server.auth.principals]]`,
scoped by tenant and namespace): any registry role may read, and writing
needs TenantAdmin, NamespaceOwner, NamespaceAdmin, or SchemaManager outside
the `prod` policy class. `custom` mode: the first rule whose non-empty
dimensions all match decides; without a match the configured default does.
Every decision is a `registry_audit` event, emitted before the answer is
used; a denial reaches the client as `unauthorized`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from decision_gate.config.model import DecisionGateConfig
from decision_gate.plugins.guards import AuditFanout
from decision_gate.seams.access import CallContext
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.seams.schema_registry import DEFAULT_MAX_SCHEMA_BYTES
from decision_gate.server.auth import AuthOutcome
from decision_gate.server.errors import Unauthorized

READ_ROLES: Final = frozenset(
    {
        "TenantAdmin",
        "NamespaceOwner",
        "NamespaceAdmin",
        "NamespaceWriter",
        "NamespaceReader",
        "SchemaManager",
    }
)
WRITE_ROLES: Final = frozenset({"TenantAdmin", "NamespaceOwner", "NamespaceAdmin"})


class RegistryAcl:
    def __init__(
        self, config: DecisionGateConfig, audit: AuditFanout, *, clock: Callable[[], int]
    ) -> None:
        registry = config.sections.get("schema_registry") or {}
        acl = registry.get("acl") or {}
        self.mode: str = acl.get("mode", "builtin")
        self.default: str = acl.get("default", "deny")
        self.allow_local_only: bool = acl.get("allow_local_only", False)
        self.require_signing: bool = acl.get("require_signing", False)
        self.rules: tuple[Mapping[str, Any], ...] = tuple(acl.get("rules") or ())
        self.max_schema_bytes: int = registry.get("max_schema_bytes", DEFAULT_MAX_SCHEMA_BYTES)
        self._principals = {p.subject: p for p in config.server.auth_or_default.principals}
        self._audit = audit
        self._clock = clock

    def scoped_roles(
        self, principal_id: str, tenant_id: int | None, namespace_id: int | None
    ) -> Iterator[str]:
        """The principal's role names whose tenant/namespace scope covers the target."""
        principal = self._principals.get(principal_id)
        if principal is None:
            return
        for role in principal.roles:
            if role.tenant_id is not None and role.tenant_id != tenant_id:
                continue
            if role.namespace_id is not None and role.namespace_id != namespace_id:
                continue
            yield role.name

    def policy_class(self, principal_id: str) -> str | None:
        principal = self._principals.get(principal_id)
        return principal.policy_class if principal is not None else None

    def decide(
        self, auth: AuthOutcome, action: str, tenant_id: int, namespace_id: int
    ) -> tuple[bool, str]:
        principal_id = auth.principal.principal_id
        roles = set(self.scoped_roles(principal_id, tenant_id, namespace_id))
        policy_class = self.policy_class(principal_id)
        if self.mode == "custom":
            for rule in self.rules:
                if _rule_matches(
                    rule, action, tenant_id, namespace_id, principal_id, roles, policy_class
                ):
                    allowed = rule["effect"] == "allow"
                    return allowed, "custom_allow" if allowed else "custom_deny"
            allowed = self.default == "allow"
            return allowed, "default_allow" if allowed else "default_deny"
        if self.allow_local_only and auth.auth_method == "local":
            return True, "builtin_allow_local_only"
        if action == "register":
            prod = (policy_class or "prod").lower() == "prod"
            allowed = bool(roles & WRITE_ROLES) or ("SchemaManager" in roles and not prod)
            return allowed, "builtin_allow_write" if allowed else "builtin_deny_write"
        allowed = bool(roles & READ_ROLES)
        return allowed, "builtin_allow_read" if allowed else "builtin_deny_read"

    async def require(
        self, call: CallContext, auth: AuthOutcome, action: str, target: Mapping[str, Any]
    ) -> None:
        """Decide, audit, and raise `Unauthorized` on a denial."""
        tenant_id, namespace_id = target["tenant_id"], target["namespace_id"]
        allowed, reason = self.decide(auth, action, tenant_id, namespace_id)
        principal_id = auth.principal.principal_id
        await self._audit.emit(
            AuditEvent(
                AuditEventKind.REGISTRY,
                {
                    "timestamp_ms": self._clock(),
                    "request_id": call.request_id,
                    "unsafe_client_correlation_id": call.client_correlation_id,
                    "server_correlation_id": call.server_correlation_id or "missing",
                    "tenant_id": str(tenant_id),
                    "namespace_id": str(namespace_id),
                    "action": action,
                    "allowed": allowed,
                    "reason": reason,
                    "principal_id": principal_id,
                    "roles": list(sorted(self.scoped_roles(principal_id, tenant_id, namespace_id))),
                    "policy_class": self.policy_class(principal_id),
                    "schema_id": target.get("schema_id") if action != "list" else None,
                    "schema_version": target.get("version") if action != "list" else None,
                },
            )
        )
        if not allowed:
            raise Unauthorized(f"registry acl: {reason}")


def _rule_matches(
    rule: Mapping[str, Any],
    action: str,
    tenant_id: int,
    namespace_id: int,
    principal_id: str,
    roles: set[str],
    policy_class: str | None,
) -> bool:
    checks: tuple[tuple[str, Callable[[list[Any]], bool]], ...] = (
        ("actions", lambda values: action in values),
        ("tenants", lambda values: tenant_id in values),
        ("namespaces", lambda values: namespace_id in values),
        ("subjects", lambda values: principal_id in values),
        ("roles", lambda values: bool(roles & set(values))),
        ("policy_classes", lambda values: policy_class in values),
    )
    return all(not rule.get(key) or matches(rule[key]) for key, matches in checks)
