"""The `assetcore_http` namespace authority: Asset Core's write daemon says which namespaces exist.

server.md §3.6: `GET {base_url}/v1/write/namespaces/{namespace_id}` with
`Authorization: Bearer <auth_token>` when a token is configured and the
call's `x-correlation-id`. 200 allows; 404, 401 and 403 deny; any other
status, a timeout or a transport error is `UNAVAILABLE` (which the server also
refuses). Runpacks exported under this authority record `assetcore_catalog`.
The token never appears in a repr, an error or a log line. Only http(s) base
URLs are accepted; the client follows no redirects.
"""

from __future__ import annotations

import re
from typing import Final

import httpx

from decision_gate.core.errors import InvalidInput
from decision_gate.seams.namespace_authority import NamespaceDecision

__all__ = ["AssetcoreNamespaceAuthority"]

_CORRELATION_ID: Final = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,128}")
_DENY_STATUSES: Final = frozenset({401, 403, 404})


class AssetcoreNamespaceAuthority:
    security_context: Final = "assetcore_catalog"

    def __init__(
        self,
        base_url: str,
        *,
        auth_token: str | None = None,
        connect_timeout_ms: int = 500,
        request_timeout_ms: int = 2000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput("assetcore base_url must be an http(s) URL")
        if not 100 <= connect_timeout_ms <= 10_000:
            raise InvalidInput("assetcore connect_timeout_ms must be between 100 and 10000")
        if not 500 <= request_timeout_ms <= 30_000:
            raise InvalidInput("assetcore request_timeout_ms must be between 500 and 30000")
        self.base_url = base_url.rstrip("/")
        self._token = auth_token
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout_ms / 1000, connect=connect_timeout_ms / 1000),
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"AssetcoreNamespaceAuthority(base_url={self.base_url!r})"

    async def check(
        self, tenant_id: int, namespace_id: int, *, correlation_id: str | None = None
    ) -> NamespaceDecision:
        headers = {}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if correlation_id is not None and _CORRELATION_ID.fullmatch(correlation_id):
            headers["x-correlation-id"] = correlation_id
        url = f"{self.base_url}/v1/write/namespaces/{int(namespace_id)}"
        try:
            response = await self._client.get(url, headers=headers)
        except httpx.HTTPError:
            return NamespaceDecision.UNAVAILABLE
        if response.status_code == 200:
            return NamespaceDecision.ALLOWED
        if response.status_code in _DENY_STATUSES:
            return NamespaceDecision.DENIED
        return NamespaceDecision.UNAVAILABLE

    async def close(self) -> None:
        await self._client.aclose()
