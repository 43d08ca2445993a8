"""Checking that what a factory returned really implements its seam.

`isinstance` against a runtime-checkable Protocol only sees that attributes
exist; this check also requires every method the Protocol declares `async def`
to be a coroutine function on the object, and every plain method to be
callable, so a sync `authorize` is refused at start-up rather than failing on
the first request. The error names the seam, the implementation and the
plugin that provided it.
"""

from __future__ import annotations

import inspect
from typing import Any

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins.records import RegisteredImplementation

__all__ = ["ProtocolMismatch", "protocol_problems", "require_protocol"]


class ProtocolMismatch(InvalidInput):
    """An implementation's object does not satisfy its seam's Protocol."""


def _members(protocol: type) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or klass.__name__ in {"Protocol", "Generic"}:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            members[name] = value
    for name in getattr(protocol, "__annotations__", {}):
        if not name.startswith("_"):
            members.setdefault(name, None)
    return members


def protocol_problems(obj: object, protocol: type) -> list[str]:
    """What `obj` lacks to be a `protocol` (empty when it conforms)."""
    problems = []
    for name, declared in sorted(_members(protocol).items()):
        if not hasattr(obj, name):
            problems.append(f"missing {name}")
            continue
        if isinstance(declared, property) or declared is None:
            continue
        actual = getattr(obj, name)
        if inspect.iscoroutinefunction(declared):
            if not inspect.iscoroutinefunction(actual):
                problems.append(f"{name} must be an async method")
        elif callable(declared):
            if not callable(actual):
                problems.append(f"{name} must be callable")
            elif inspect.iscoroutinefunction(actual):
                problems.append(f"{name} must not be a coroutine function")
    return problems


def require_protocol(
    obj: object, protocol: type, registered: RegisteredImplementation[Any]
) -> None:
    problems = protocol_problems(obj, protocol)
    if problems:
        raise ProtocolMismatch(
            f"{registered.seam.value} {registered.name!r} from plugin "
            f"{registered.plugin.label} returned {type(obj).__name__}, which is not a "
            f"{protocol.__name__}: {'; '.join(problems)}"
        )
