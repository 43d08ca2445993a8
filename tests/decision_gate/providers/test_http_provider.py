"""The `http` provider against real servers on 127.0.0.1 that behave, and that do not.

Each server is a few lines of asyncio speaking HTTP/1.1 byte by byte, so a test
can lie about Content-Length, drip bytes, stream forever or present a
certificate nobody trusts, and then check that the provider failed closed, in
time, with a fixed message that carries neither the URL nor the body.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import ssl
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import (
    EvidenceAnchor,
    EvidenceContext,
    EvidenceQuery,
    EvidenceRef,
    EvidenceResult,
    Logical,
)
from decision_gate.providers.http import HttpProvider
from decision_gate.seams.evidence_provider import EvidenceProvider, EvidenceProviderFailure

CONTEXT = EvidenceContext(1, 1, "run", "scenario", "stage", "trigger", Logical(1))  # type: ignore[arg-type]
SECRET = "s3cr3t-7f1e"
FIXED_MESSAGES = {
    "unsupported url scheme",
    "url host not allowed",
    "url credentials are not allowed",
    "http response exceeds size limit",
    "http response truncated",
    "http request failed",
    "failed to read response",
}

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


class ScriptedServer:
    """Answers each connection on 127.0.0.1 (port 0) with `script` once the request head is in."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.requests: list[bytes] = []
        self._handlers: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            await self.script(writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
        writer.write(f"HTTP/1.1 {status} Status\r\n{lines}\r\n".encode() + body)

    return script


def raw(data: bytes) -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(data)

    return script


def ask(provider: HttpProvider, check: str, url: object) -> Awaitable[EvidenceResult]:
    return provider.query(EvidenceQuery("http", check, {"url": url}), CONTEXT)  # type: ignore[dict-item]


def plain(**config: Any) -> HttpProvider:
    return HttpProvider(allow_http=True, **config)


async def failure_of(provider: HttpProvider, check: str, url: str) -> EvidenceProviderFailure:
    with pytest.raises(EvidenceProviderFailure) as caught:
        await ask(provider, check, url)
    return caught.value


# --------------------------------------------------------------------------- well-behaved servers


async def test_is_an_evidence_provider_answering_status_and_body_hash() -> None:
    provider = HttpProvider()
    assert isinstance(provider, EvidenceProvider)
    assert provider.provider_id == "http"
    assert sorted(provider.checks) == ["body_hash", "status"]


async def test_status_is_the_response_code_with_url_anchor_and_ref() -> None:
    async with ScriptedServer(respond(204)) as server:
        url = server.url("/health?probe=1")
        result = await ask(plain(), "status", url)
    assert result.value == JsonEvidence(204)
    assert result.error is None
    assert result.content_type == "application/json"
    assert result.evidence_anchor == EvidenceAnchor(anchor_type="url", anchor_value=url)
    assert result.evidence_ref == EvidenceRef(uri=url)


async def test_error_statuses_are_values_not_failures() -> None:
    async with ScriptedServer(respond(503, b"down")) as server:
        result = await ask(plain(), "status", server.url())
    assert result.value == JsonEvidence(503)


async def test_an_empty_path_is_anchored_as_slash() -> None:
    async with ScriptedServer(respond(200)) as server:
        result = await ask(plain(), "status", f"http://127.0.0.1:{server.port}")
    assert result.evidence_anchor == EvidenceAnchor("url", f"http://127.0.0.1:{server.port}/")


async def test_body_hash_is_sha256_of_the_exact_body() -> None:
    body = b'{"ok": true}\n' * 100
    async with ScriptedServer(respond(200, body)) as server:
        result = await ask(plain(), "body_hash", server.url())
    assert result.value == JsonEvidence(
        {"algorithm": "sha256", "value": hashlib.sha256(body).hexdigest()}
    )
    assert result.evidence_anchor == EvidenceAnchor("url", server.url())


async def test_body_hash_is_over_raw_bytes_never_decoded() -> None:
    compressed = gzip.compress(b"hello " * 50)
    async with ScriptedServer(respond(200, compressed, {"Content-Encoding": "gzip"})) as server:
        result = await ask(plain(), "body_hash", server.url())
    assert result.value == JsonEvidence(
        {"algorithm": "sha256", "value": hashlib.sha256(compressed).hexdigest()}
    )


async def test_body_of_exactly_the_cap_is_accepted() -> None:
    body = b"x" * 64
    async with ScriptedServer(respond(200, body)) as server:
        result = await ask(plain(max_response_bytes=64), "body_hash", server.url())
    assert result.value == JsonEvidence(
        {"algorithm": "sha256", "value": hashlib.sha256(body).hexdigest()}
    )


async def test_requests_carry_the_user_agent_and_ask_for_identity_encoding() -> None:
    async with ScriptedServer(respond(200)) as server:
        await ask(plain(user_agent="gatekeeper/9"), "status", server.url())
    head = server.requests[0].decode().lower()
    assert head.startswith("get / http/1.1\r\n")
    assert "user-agent: gatekeeper/9\r\n" in head
    assert "accept-encoding: identity\r\n" in head


async def test_status_does_not_read_the_body() -> None:
    async def headers_then_silence(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    async with ScriptedServer(headers_then_silence) as server:
        result = await ask(plain(timeout_ms=2000), "status", server.url())
    assert result.value == JsonEvidence(200)


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_a_redirect_is_the_status_and_is_never_followed(code: int) -> None:
    async with ScriptedServer(respond(200, b"elsewhere")) as target:
        redirect = respond(code, headers={"Location": target.url("/internal")})
        async with ScriptedServer(redirect) as server:
            status = await ask(plain(), "status", server.url())
            digest = await ask(plain(), "body_hash", server.url())
    assert status.value == JsonEvidence(code)
    assert digest.value == JsonEvidence(
        {"algorithm": "sha256", "value": hashlib.sha256(b"").hexdigest()}
    )
    assert target.requests == []


# --------------------------------------------------------------------------- URL policy


async def test_http_scheme_is_refused_by_default_before_connecting() -> None:
    async with ScriptedServer(respond(200)) as server:
        failure = await failure_of(HttpProvider(), "status", server.url())
    assert str(failure) == "unsupported url scheme"
    assert server.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url"]
)
async def test_other_schemes_are_refused(url: str) -> None:
    failure = await failure_of(HttpProvider(allow_http=True), "status", url)
    assert str(failure) == "unsupported url scheme"


async def test_host_outside_the_allowlist_is_refused_before_connecting() -> None:
    async with ScriptedServer(respond(200)) as server:
        provider = plain(allowed_hosts=["localhost"])
        failure = await failure_of(provider, "status", server.url(host="127.0.0.1"))
    assert str(failure) == "url host not allowed"
    assert server.requests == []


async def test_allowlist_compares_hosts_case_and_trailing_dot_insensitively() -> None:
    async with ScriptedServer(respond(200)) as server:
        provider = plain(allowed_hosts=["127.0.0.1."])
        result = await ask(provider, "status", server.url(host="127.0.0.1"))
        by_name = await ask(
            plain(allowed_hosts=["LocalHost"]), "status", server.url(host="localhost")
        )
    assert result.value == JsonEvidence(200)
    assert by_name.value == JsonEvidence(200)


async def test_allowlist_and_urls_compare_international_names_in_one_form() -> None:
    provider = HttpProvider(allowed_hosts=["BÜCHER.invalid"], timeout_ms=2000)
    for url in ("https://xn--bcher-kva.invalid/", "https://Bücher.invalid./"):
        failure = await failure_of(provider, "status", url)
        assert str(failure) == "http request failed"  # allowed; the name just does not resolve
    refused = await failure_of(provider, "status", "https://buecher.invalid/")
    assert str(refused) == "url host not allowed"


@pytest.mark.parametrize(
    "entry", ["example.com/path", "user@example.com", "example.com:443", "a.com?q", "[::1]:8"]
)
def test_allowlist_entries_must_be_bare_host_names(entry: str) -> None:
    with pytest.raises(InvalidInput, match="allowed_hosts entry is not a host name"):
        HttpProvider(allowed_hosts=[entry])


async def test_an_empty_allowlist_allows_nothing() -> None:
    failure = await failure_of(plain(allowed_hosts=[]), "status", "http://127.0.0.1:1/")
    assert str(failure) == "url host not allowed"


async def test_urls_with_credentials_are_refused_and_never_sent() -> None:
    async with ScriptedServer(respond(200)) as server:
        url = f"http://admin:{SECRET}@127.0.0.1:{server.port}/"
        failure = await failure_of(plain(), "status", url)
    assert str(failure) == "url credentials are not allowed"
    assert server.requests == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (None, "http check requires params"),
        ("https://example.com", "http params must be an object"),
        ({}, "missing url param"),
        ({"url": 7}, "url param must be a string"),
        ({"url": "https://"}, "url host required"),
    ],
)
async def test_bad_params_fail_with_a_precise_message(params: Any, message: str) -> None:
    with pytest.raises(EvidenceProviderFailure) as caught:
        await HttpProvider().query(EvidenceQuery("http", "status", params), CONTEXT)
    assert str(caught.value) == message


async def test_unknown_check_fails() -> None:
    failure = await failure_of(HttpProvider(), "headers", "https://example.com/")
    assert str(failure) == "unsupported http check"


# --------------------------------------------------------------------------- hostile responses


async def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    async def promise_a_lot(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(30)  # a provider that waited for the body would time out instead

    async with ScriptedServer(promise_a_lot) as server:
        failure = await failure_of(
            plain(max_response_bytes=1024, timeout_ms=3000), "body_hash", server.url()
        )
    assert str(failure) == "http response exceeds size limit"


async def test_chunked_body_over_the_cap_is_refused() -> None:
    async def chunked(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(8):
            writer.write(b"100\r\n" + b"z" * 256 + b"\r\n")
        writer.write(b"0\r\n\r\n")

    async with ScriptedServer(chunked) as server:
        failure = await failure_of(plain(max_response_bytes=1024), "body_hash", server.url())
    assert str(failure) == "http response exceeds size limit"


async def test_an_endless_body_is_cut_at_the_cap() -> None:
    sent = 0

    async def endless(writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"4000\r\n" + b"z" * 0x4000 + b"\r\n")
            sent += 0x4000
            await writer.drain()

    async with ScriptedServer(endless) as server:
        failure = await failure_of(plain(max_response_bytes=65536), "body_hash", server.url())
    assert str(failure) == "http response exceeds size limit"
    assert sent < 64 * 1024 * 1024


async def test_body_shorter_than_its_content_length_is_truncated() -> None:
    short = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"only ten b")
    async with ScriptedServer(short) as server:
        failure = await failure_of(plain(), "body_hash", server.url())
    assert str(failure) == "http response truncated"


async def test_a_body_dripped_past_the_deadline_fails_within_it() -> None:
    async def drip_body(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while True:
            writer.write(b".")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with ScriptedServer(drip_body) as server:
        started = time.monotonic()
        failure = await failure_of(plain(timeout_ms=400), "body_hash", server.url())
        elapsed = time.monotonic() - started
    assert str(failure) == "failed to read response"
    assert elapsed < 2.0


async def test_headers_dripped_past_the_deadline_fail_within_it() -> None:
    async def drip_headers(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with ScriptedServer(drip_headers) as server:
        started = time.monotonic()
        failure = await failure_of(plain(timeout_ms=400), "status", server.url())
        elapsed = time.monotonic() - started
    assert str(failure) == "http request failed"
    assert elapsed < 2.0


async def test_a_server_that_never_answers_times_out() -> None:
    async def silent(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with ScriptedServer(silent) as server:
        failure = await failure_of(plain(timeout_ms=300), "status", server.url())
    assert str(failure) == "http request failed"


async def test_garbage_instead_of_http_fails() -> None:
    async with ScriptedServer(raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as server:
        failure = await failure_of(plain(), "status", server.url())
    assert str(failure) == "http request failed"


async def test_connection_refused_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = await failure_of(plain(), "status", f"http://127.0.0.1:{port}/")
    assert str(failure) == "http request failed"


# --------------------------------------------------------------------------- TLS


async def test_self_signed_certificate_fails_closed(
    self_signed: tuple[ssl.SSLContext, Path],
) -> None:
    server_tls, _ = self_signed
    async with ScriptedServer(respond(200, SECRET.encode()), tls=server_tls) as server:
        failure = await failure_of(HttpProvider(), "body_hash", server.url(scheme="https"))
    assert str(failure) == "http request failed"
    assert server.requests == []


async def test_the_same_server_passes_when_its_certificate_is_trusted(
    self_signed: tuple[ssl.SSLContext, Path],
) -> None:
    server_tls, cert_path = self_signed
    trust = ssl.create_default_context(cafile=str(cert_path))
    async with ScriptedServer(respond(200, b"ok"), tls=server_tls) as server:
        result = await ask(HttpProvider(tls_context=trust), "status", server.url(scheme="https"))
    assert result.value == JsonEvidence(200)


async def test_a_trusted_certificate_for_another_host_still_fails(
    self_signed: tuple[ssl.SSLContext, Path],
) -> None:
    server_tls, cert_path = self_signed
    trust = ssl.create_default_context(cafile=str(cert_path))
    async with ScriptedServer(respond(200), tls=server_tls) as server:
        url = server.url(scheme="https", host="localhost")
        failure = await failure_of(HttpProvider(tls_context=trust), "status", url)
    assert str(failure) == "http request failed"


async def test_https_to_a_plaintext_server_fails() -> None:
    async with ScriptedServer(respond(200)) as server:
        provider = HttpProvider(timeout_ms=500)
        failure = await failure_of(provider, "status", server.url(scheme="https"))
    assert str(failure) == "http request failed"


def test_a_trust_context_that_does_not_verify_is_refused() -> None:
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with pytest.raises(InvalidInput, match="must verify certificates and hostnames"):
        HttpProvider(tls_context=lax)


# --------------------------------------------------------------------------- no leaks


async def _drip(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + SECRET.encode())
    while True:
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b".")


HOSTILE: dict[str, Script] = {
    "oversize": respond(200, SECRET.encode() * 100),
    "truncated": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + SECRET.encode()),
    "garbage": raw(SECRET.encode() + b"\r\n\r\n"),
    "drip": _drip,
}


@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
async def test_failures_never_carry_the_url_or_the_body(behaviour: str) -> None:
    async with ScriptedServer(HOSTILE[behaviour]) as server:
        provider = plain(max_response_bytes=len(SECRET) * 10, timeout_ms=400)
        failure = await failure_of(provider, "body_hash", server.url(f"/{SECRET}?token={SECRET}"))
    assert str(failure) in FIXED_MESSAGES
    rendered = "".join(traceback.format_exception(failure))
    assert SECRET not in rendered
    assert "127.0.0.1" not in rendered


async def test_refused_connection_never_carries_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = await failure_of(plain(), "status", f"http://127.0.0.1:{port}/?token={SECRET}")
    assert SECRET not in "".join(traceback.format_exception(failure))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timeout_ms": -1}, "timeout_ms"),
        ({"max_response_bytes": -5}, "max_response_bytes"),
        ({"max_response_bytes": True}, "max_response_bytes"),
        ({"hash_algorithm": "md5"}, "hash_algorithm"),
        ({"user_agent": "evil\r\nX-Injected: 1"}, "user_agent"),
        ({"allow_http": "yes"}, "allow_http"),
        ({"allowed_hosts": "example.com"}, "allowed_hosts"),
        ({"allowed_hosts": ["example.com", 7]}, "allowed_hosts"),
    ],
)
def test_bad_configuration_is_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        HttpProvider(**config)


async def test_one_provider_answers_concurrent_queries() -> None:
    provider = plain()
    async with ScriptedServer(respond(200)) as server:
        first = await ask(provider, "status", server.url())
        second = await asyncio.gather(*(ask(provider, "status", server.url()) for _ in range(5)))
    assert first.value == JsonEvidence(200)
    assert [r.value for r in second] == [JsonEvidence(200)] * 5
