"""The namespace authority seam: does this namespace exist for this tenant?

Consulted after the default-namespace rules (server.md §3.6). The answer is
one of three: allowed, denied, or unavailable (the authority could not be
asked). Only `ALLOWED` lets the call through; denied and unavailable both
reach the client as `unauthorized`. Through
`decision_gate.plugins.guards.FailClosedNamespaceAuthority` an exception or a
timeout is `UNAVAILABLE`, never an allow.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

__all__ = ["NamespaceAuthority", "NamespaceDecision"]


class NamespaceDecision(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"


@runtime_checkable
class NamespaceAuthority(Protocol):
    @property
    def security_context(self) -> str:
        """The label runpack manifests record (`dg_registry` for the default)."""
        ...

    async def check(
        self, tenant_id: int, namespace_id: int, *, correlation_id: str | None = None
    ) -> NamespaceDecision:
        """Whether `namespace_id` may be used by `tenant_id`."""
        ...
