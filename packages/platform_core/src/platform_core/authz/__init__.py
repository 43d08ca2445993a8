"""authz: who may do what, where. Roles bound to tenant/namespace scopes,
permissions over tool and registry actions, and a deny-by-default
`PolicyEngine` whose every decision is audited (an audit failure denies).
"""

from platform_core.authz.bindings import (
    MemoryRoleBindingStore,
    PostgresRoleBindingStore,
    RoleBindingSource,
    RoleBindingStore,
    SqliteRoleBindingStore,
)
from platform_core.authz.engine import (
    DecisionAuditor,
    DecisionRecord,
    PolicyDecision,
    PolicyEngine,
)
from platform_core.authz.permissions import (
    REGISTRY_READ,
    REGISTRY_WRITE,
    check_action,
    permission_grants,
    tool_action,
)
from platform_core.authz.roles import (
    AUDITOR,
    BUILTIN_ROLES,
    ORG_ADMIN,
    PROJECT_ADMIN,
    SERVICE,
    Role,
    RoleBinding,
    RoleCatalog,
    Scope,
)

__all__ = [
    "AUDITOR",
    "BUILTIN_ROLES",
    "ORG_ADMIN",
    "PROJECT_ADMIN",
    "REGISTRY_READ",
    "REGISTRY_WRITE",
    "SERVICE",
    "DecisionAuditor",
    "DecisionRecord",
    "MemoryRoleBindingStore",
    "PolicyDecision",
    "PolicyEngine",
    "PostgresRoleBindingStore",
    "Role",
    "RoleBinding",
    "RoleBindingSource",
    "RoleBindingStore",
    "RoleCatalog",
    "Scope",
    "SqliteRoleBindingStore",
    "check_action",
    "permission_grants",
    "tool_action",
]
