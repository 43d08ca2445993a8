"""Who is calling, and about which tenant: the context every access seam receives.

`Principal` is what the server's authentication established; `CallContext`
adds the call's identity (tool, tenant, namespace, request and correlation
ids) so an authorizer, a meter and the audit events they produce all speak
about the same call. Both are plain values: a seam may read them, never change
them, and nothing in them is secret (a bearer token never reaches a seam).
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Principal:
    """An authenticated caller. `auth_method` is `local`, `bearer` or `mtls`."""

    principal_id: str
    auth_method: str = "local"
    roles: tuple[str, ...] = ()
    policy_class: str | None = None


@attrs.frozen
class CallContext:
    """One tool call as the access seams see it."""

    principal: Principal
    tool: str
    tenant_id: int | None = None
    namespace_id: int | None = None
    request_id: str | None = None
    client_correlation_id: str | None = None
    server_correlation_id: str | None = None
