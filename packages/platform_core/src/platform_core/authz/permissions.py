"""Actions and the permission patterns that grant them.

An action is `<domain>:<name>` in lowercase (`tool:scenario_start`,
`registry:read`). A permission is an action, `<domain>:*` (every action of
the domain) or `*` (everything). There is no other wildcard: a permission
grants exactly what it spells, so reviewing a role is reading its list.
"""

from __future__ import annotations

import re

from platform_core.errors import InvalidInput

__all__ = [
    "REGISTRY_READ",
    "REGISTRY_WRITE",
    "check_action",
    "check_permission",
    "permission_grants",
    "tool_action",
]

_ACTION = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_.-]*")
_DOMAIN_WILDCARD = re.compile(r"[a-z][a-z0-9_]*:\*")

REGISTRY_READ = "registry:read"
REGISTRY_WRITE = "registry:write"


def check_action(action: str) -> str:
    """`action` itself if it is a well-formed action, else `InvalidInput`."""
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise InvalidInput(f"{action!r} is not an action of the form 'domain:name'")
    return action


def check_permission(permission: str) -> str:
    """`permission` itself if it is an action, `domain:*` or `*`, else `InvalidInput`."""
    if permission == "*" or (
        isinstance(permission, str)
        and (_ACTION.fullmatch(permission) or _DOMAIN_WILDCARD.fullmatch(permission))
    ):
        return permission
    raise InvalidInput(f"{permission!r} is not a permission ('domain:name', 'domain:*' or '*')")


def tool_action(tool: str) -> str:
    """The action of calling one tool, e.g. `tool:scenario_start`."""
    return check_action(f"tool:{tool}")


def permission_grants(permission: str, action: str) -> bool:
    """Whether one permission pattern covers one well-formed action."""
    if permission in ("*", action):
        return True
    if permission.endswith(":*"):
        return action.startswith(permission[:-1])
    return False
