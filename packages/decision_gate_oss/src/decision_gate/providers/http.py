"""The `http` provider: the status code or body hash of one bounded GET.

The URL is untrusted input (a scenario author or agent writes it), so every
request is fenced in before a byte leaves the host:
- https only, unless `allow_http`; a host outside `allowed_hosts` (when set)
  is refused; a URL carrying userinfo is refused outright, because the URL
  becomes the evidence anchor and ref and so lands in runs and runpacks.
- The URL is parsed once and that parsed value is both checked and requested,
  so no second parser can read a different host than the one allowed.
- Redirects are never followed: a 3xx is just the status, never a hop to a
  host nobody allowed.
- One deadline (`timeout_ms`) covers connect, headers and body together, so a
  server dripping a byte at a time fails within it; each socket operation has
  the same bound too.
- The body is read raw (no content decoding, `Accept-Encoding: identity`),
  a declared Content-Length over the cap is refused before reading, and the
  stream stops as soon as the cap is passed.
- TLS is always verified against the public roots (or a caller's trust
  context that itself verifies); proxies and CA bundles from the environment
  are ignored, so the environment cannot steer where evidence comes from.
Every failure is an `EvidenceProviderFailure` with a fixed message: never the
URL, never a byte of the response.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Collection
from typing import Final

import httpx

from decision_gate.core.canonical import SHA256, hash_bytes
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import (
    EvidenceAnchor,
    EvidenceContext,
    EvidenceQuery,
    EvidenceRef,
    EvidenceResult,
)
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

CHECKS: Final = ("body_hash", "status")
DEFAULT_MAX_RESPONSE_BYTES: Final = 1024 * 1024
DEFAULT_USER_AGENT: Final = "decision-gate/0.1"


class HttpProvider:
    provider_id: Final = "http"

    def __init__(
        self,
        *,
        allow_http: bool = False,
        timeout_ms: int = 5000,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allowed_hosts: Collection[str] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        hash_algorithm: str = SHA256,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`tls_context` replaces the public roots (a private CA, say); it must
        still verify certificates and hostnames, or construction fails."""
        if not _is_count(timeout_ms):
            raise InvalidInput("http provider timeout_ms must be a non-negative integer")
        if not _is_count(max_response_bytes):
            raise InvalidInput("http provider max_response_bytes must be a non-negative integer")
        if hash_algorithm != SHA256:
            raise InvalidInput(f"http provider hash_algorithm must be {SHA256!r}")
        if not isinstance(allow_http, bool):
            raise InvalidInput("http provider allow_http must be a boolean")
        if allowed_hosts is not None and (
            isinstance(allowed_hosts, str)
            or not all(isinstance(host, str) and host for host in allowed_hosts)
        ):
            raise InvalidInput("http provider allowed_hosts must be a list of host names")
        if (
            not isinstance(user_agent, str)
            or not user_agent.isprintable()
            or not user_agent.isascii()
        ):
            raise InvalidInput("http provider user_agent must be printable ascii")
        if tls_context is not None and (
            tls_context.verify_mode != ssl.CERT_REQUIRED or not tls_context.check_hostname
        ):
            raise InvalidInput("http provider tls_context must verify certificates and hostnames")
        self.allow_http = allow_http
        self.timeout_ms = timeout_ms
        self.max_response_bytes = max_response_bytes
        self.allowed_hosts = (
            frozenset(_allowed_host(host) for host in allowed_hosts)
            if allowed_hosts is not None
            else None
        )
        self.user_agent = user_agent
        self.hash_algorithm = hash_algorithm
        self._tls = tls_context or httpx.create_ssl_context(trust_env=False)

    @property
    def checks(self) -> Collection[str]:
        return CHECKS

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        url = self._allowed_url(query.params)
        if query.check_id == "status":
            status, _ = await self._get(url, read_body=False)
            value: JsonValue = status
        elif query.check_id == "body_hash":
            _, body = await self._get(url, read_body=True)
            value = hash_bytes(body).to_json()
        else:
            raise EvidenceProviderFailure("unsupported http check")
        text = str(url)
        return EvidenceResult(
            value=JsonEvidence(value),
            evidence_ref=EvidenceRef(uri=text),
            evidence_anchor=EvidenceAnchor(anchor_type="url", anchor_value=text),
            content_type="application/json",
        )

    def _allowed_url(self, params: JsonValue) -> httpx.URL:
        if params is None:
            raise EvidenceProviderFailure("http check requires params")
        if not isinstance(params, dict):
            raise EvidenceProviderFailure("http params must be an object")
        if "url" not in params:
            raise EvidenceProviderFailure("missing url param")
        raw = params["url"]
        if not isinstance(raw, str):
            raise EvidenceProviderFailure("url param must be a string")
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            raise EvidenceProviderFailure("invalid url") from None
        if url.scheme != "https" and not (url.scheme == "http" and self.allow_http):
            raise EvidenceProviderFailure("unsupported url scheme")
        if url.userinfo:
            raise EvidenceProviderFailure("url credentials are not allowed")
        if not url.host:
            raise EvidenceProviderFailure("url host required")
        if self.allowed_hosts is not None and _host_label(url) not in self.allowed_hosts:
            raise EvidenceProviderFailure("url host not allowed")
        if url.path == "/":
            url = url.copy_with(path="/")  # spell an empty path "/", as the reference's anchors do
        return url

    async def _get(self, url: httpx.URL, *, read_body: bool) -> tuple[int, bytes]:
        """The status and (when asked) the capped raw body of one GET, all within the deadline."""
        seconds = self.timeout_ms / 1000
        reading_body = False
        try:
            async with (
                asyncio.timeout(seconds),
                httpx.AsyncClient(
                    verify=self._tls,
                    timeout=httpx.Timeout(seconds),
                    follow_redirects=False,
                    trust_env=False,
                ) as client,
            ):
                request = client.build_request(
                    "GET",
                    url,
                    headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"},
                )
                try:
                    response = await client.send(request, stream=True)
                except (httpx.HTTPError, OSError):
                    raise EvidenceProviderFailure("http request failed") from None
                try:
                    if not read_body:
                        return response.status_code, b""
                    reading_body = True
                    return response.status_code, await _read_capped(
                        response, self.max_response_bytes
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            message = "failed to read response" if reading_body else "http request failed"
            raise EvidenceProviderFailure(message) from None


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = _declared_length(response)
    if declared is not None and declared > limit:
        raise EvidenceProviderFailure("http response exceeds size limit")
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > limit:
                raise EvidenceProviderFailure("http response exceeds size limit")
    except (httpx.HTTPError, OSError):
        if declared is not None and len(body) < declared:
            raise EvidenceProviderFailure("http response truncated") from None
        raise EvidenceProviderFailure("failed to read response") from None
    if declared is not None and len(body) < declared:
        raise EvidenceProviderFailure("http response truncated")
    return bytes(body)


def _declared_length(response: httpx.Response) -> int | None:
    header = response.headers.get("content-length")
    if header is None:
        return None
    if not header.isdigit():
        raise EvidenceProviderFailure("failed to read response")
    return int(header)


def _host_label(url: httpx.URL) -> str:
    """A URL's host as the allowlist compares it: ASCII (IDNA), lowercase, no trailing dot."""
    return url.raw_host.decode("ascii").rstrip(".").lower()


def _allowed_host(entry: str) -> str:
    """An allowlist entry read by the same parser as the URLs it is compared with."""
    try:
        url: httpx.URL | None = httpx.URL(f"https://{entry}/")
    except httpx.InvalidURL:
        url = None
    bare = entry.lower().removeprefix("[").removesuffix("]")
    if url is None or url.host != bare or url.userinfo or url.port is not None:
        raise InvalidInput(f"http provider allowed_hosts entry is not a host name: {entry!r}")
    return _host_label(url)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
