"""External MCP evidence providers, against a real provider process.

`mcp_stub_provider.py` runs as a child process speaking either stdio
(Content-Length framing) or HTTP; the check id chooses how it behaves, so the
same tests run over both transports where the behaviour is the same.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from decision_gate.core.canonical import hash_canonical
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import BytesEvidence, JsonEvidence
from decision_gate.core.model import (
    U64,
    EvidenceAnchor,
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    EvidenceSignature,
    Logical,
    NamespaceId,
    TenantId,
    to_json,
)
from decision_gate.providers.evidence_trust import AuditTrust, SignatureRequired
from decision_gate.providers.mcp_external import (
    McpEvidenceProvider,
    McpHttpTransport,
    McpStdioTransport,
    McpTransport,
    mcp_provider_from_config,
)
from decision_gate.seams.evidence_provider import EvidenceProvider, EvidenceProviderFailure

STUB = str(Path(__file__).with_name("mcp_stub_provider.py"))
CHECKS = (
    "echo",
    "chatty",
    "bytes",
    "rpc_error",
    "text",
    "empty",
    "no_result",
    "not_evidence",
    "wrong_id",
    "garbage",
    "huge",
    "huge_header",
    "tamper_hash",
    "bad_signature",
    "short_signature",
    "other_scheme",
    "http_500",
    "redirect",
    "slow",
    "exit",
)
TOKEN = "tok-5ecret-9d2"


def context(correlation_id: str | None = None) -> EvidenceContext:
    return EvidenceContext(
        TenantId(1),
        NamespaceId(1),
        "run-1",
        "scenario-1",
        "stage-1",
        "trigger-1",
        Logical(U64(7)),
        correlation_id,
    )


def contract() -> dict[str, Any]:
    return {
        "provider_id": "stub",
        "name": "Stub",
        "description": "A provider for tests.",
        "transport": "mcp",
        "config_schema": {"type": "object"},
        "checks": [
            {
                "check_id": check_id,
                "description": check_id,
                "determinism": "external",
                "params_required": False,
                "params_schema": True,
                "result_schema": True,
                "allowed_comparators": ["equals", "exists"],
                "anchor_types": ["stub"],
                "content_types": ["application/json"],
                "examples": [],
            }
            for check_id in CHECKS
        ],
        "notes": [],
    }


def provider(transport: McpTransport, trust: Any = None) -> McpEvidenceProvider:
    return McpEvidenceProvider(
        provider_id="stub", contract=contract(), transport=transport, trust=trust
    )


async def ask(
    subject: McpEvidenceProvider, check: str, params: Any = None, correlation_id: str | None = None
) -> EvidenceResult:
    return await subject.query(EvidenceQuery("stub", check, params), context(correlation_id))


def seen(result: EvidenceResult) -> dict[str, Any]:
    """What the echo check saw, from its JSON evidence."""
    assert isinstance(result.value, JsonEvidence)
    assert isinstance(result.value.value, dict)
    return result.value.value


async def failure(subject: McpEvidenceProvider, check: str) -> str:
    with pytest.raises(EvidenceProviderFailure) as caught:
        await ask(subject, check)
    return str(caught.value)


def stdio_transport(*options: str) -> McpStdioTransport:
    return McpStdioTransport([sys.executable, STUB, "stdio", *options])


@pytest.fixture
def http_stub() -> Iterator[str]:
    """The URL of a stub provider process serving HTTP on 127.0.0.1."""
    process = subprocess.Popen(
        [sys.executable, STUB, "http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/rpc"
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(params=["stdio", "http"])
async def stub(request: pytest.FixtureRequest) -> AsyncIterator[McpEvidenceProvider]:
    """The stub provider over each transport."""
    if request.param == "stdio":
        transport: McpTransport = stdio_transport()
    else:
        url = request.getfixturevalue("http_stub")
        transport = McpHttpTransport(url, allow_insecure_http=True, bearer_token=TOKEN)
    subject = provider(transport)
    yield subject
    subject.close()


# --------------------------------------------------------------------------- both transports


async def test_is_an_evidence_provider_for_the_checks_of_its_contract(
    stub: McpEvidenceProvider,
) -> None:
    assert isinstance(stub, EvidenceProvider)
    assert set(stub.checks) == set(CHECKS)
    assert stub.contract == contract()


async def test_the_provider_receives_the_query_and_context_as_wire_json(
    stub: McpEvidenceProvider,
) -> None:
    result = await ask(stub, "echo", {"path": "a.b"})
    assert seen(result)["query"] == to_json(EvidenceQuery("stub", "echo", {"path": "a.b"}))
    assert seen(result)["context"] == to_json(context())
    assert result.evidence_anchor == EvidenceAnchor("stub", "1")
    assert result.content_type == "application/json"


async def test_the_request_id_is_the_correlation_id_when_there_is_one(
    stub: McpEvidenceProvider,
) -> None:
    result = await ask(stub, "echo", correlation_id="req-42")
    assert seen(result)["id"] == "req-42"


async def test_request_ids_are_distinct_integers_without_a_correlation_id(
    stub: McpEvidenceProvider,
) -> None:
    ids = []
    for _ in range(3):
        ids.append(seen(await ask(stub, "echo"))["id"])
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 3


async def test_an_invalid_correlation_id_is_refused_before_calling(
    stub: McpEvidenceProvider,
) -> None:
    with pytest.raises(EvidenceProviderFailure, match=r"^invalid correlation id$"):
        await ask(stub, "echo", correlation_id="bad value")


async def test_bytes_evidence_is_decoded(stub: McpEvidenceProvider) -> None:
    result = await ask(stub, "bytes")
    assert result.value == BytesEvidence(b"\x01\x02\x03")


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("rpc_error", "provider says no"),
        ("text", "unexpected text response: plain words"),
        ("empty", "empty tool result"),
        ("no_result", "missing tool result"),
        ("not_evidence", "invalid tool result"),
        ("wrong_id", "json-rpc response id mismatch"),
        ("garbage", "invalid json-rpc response"),
    ],
)
async def test_bad_answers_fail_with_the_reference_message(
    stub: McpEvidenceProvider, check: str, message: str
) -> None:
    assert await failure(stub, check) == message


async def test_concurrent_queries_each_get_their_own_answer(stub: McpEvidenceProvider) -> None:
    results = await asyncio.gather(*(ask(stub, "echo", {"n": n}) for n in range(12)))
    assert [seen(result)["query"]["params"]["n"] for result in results] == list(range(12))


async def test_audit_trust_takes_unsigned_results(stub: McpEvidenceProvider) -> None:
    assert isinstance(stub.trust, AuditTrust)
    assert (await ask(stub, "echo")).signature is None


# --------------------------------------------------------------------------- stdio


async def test_one_process_serves_every_query() -> None:
    transport = stdio_transport()
    subject = provider(transport)
    try:
        before = await ask(subject, "echo")
        assert await failure(subject, "rpc_error") == "provider says no"
        after = await ask(subject, "echo")
    finally:
        subject.close()
    assert seen(before)["pid"] == seen(after)["pid"] == transport.pid


async def test_what_the_process_writes_to_stderr_is_discarded(
    capfd: pytest.CaptureFixture[str],
) -> None:
    subject = provider(stdio_transport())
    try:
        result = await ask(subject, "chatty", {"secret": TOKEN})
    finally:
        subject.close()
    assert seen(result)["query"]["params"] == {"secret": TOKEN}
    captured = capfd.readouterr()
    assert TOKEN not in captured.err
    assert TOKEN not in captured.out


async def test_an_abandoned_query_does_not_shift_later_answers() -> None:
    subject = provider(stdio_transport())
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ask(subject, "slow"), 0.2)
        result = await ask(subject, "echo", {"after": "slow"})
        assert seen(result)["query"]["params"] == {"after": "slow"}
    finally:
        subject.close()


async def test_a_process_that_exits_is_reported_and_stays_failed() -> None:
    subject = provider(stdio_transport())
    try:
        assert await failure(subject, "exit") == "mcp process exited: exit status: 3"
        assert await failure(subject, "echo") == "mcp process exited: exit status: 3"
    finally:
        subject.close()


async def test_an_oversized_frame_is_refused_and_the_process_stopped() -> None:
    subject = provider(stdio_transport())
    try:
        assert await failure(subject, "huge") == "mcp response too large"
        assert await failure(subject, "echo") == "mcp process exited: signal: 9"
    finally:
        subject.close()


async def test_an_endless_frame_header_is_refused() -> None:
    subject = provider(stdio_transport())
    try:
        assert await failure(subject, "huge_header") == "mcp frame header too large"
    finally:
        subject.close()


async def test_a_closed_provider_refuses_queries_and_stops_its_process() -> None:
    transport = stdio_transport()
    subject = provider(transport)
    subject.close()
    subject.close()
    assert await failure(subject, "echo") == "mcp provider closed"


def test_a_command_that_cannot_start_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="failed to spawn mcp provider"):
        McpStdioTransport([str(tmp_path / "no-such-provider")])
    with pytest.raises(InvalidInput, match="mcp command is empty"):
        McpStdioTransport([])


# --------------------------------------------------------------------------- HTTP


async def test_http_sends_the_bearer_token_and_correlation_id(http_stub: str) -> None:
    subject = provider(McpHttpTransport(http_stub, allow_insecure_http=True, bearer_token=TOKEN))
    result = await ask(subject, "echo", correlation_id="corr-1")
    assert seen(result)["headers"] == {
        "Authorization": f"Bearer {TOKEN}",
        "x-correlation-id": "corr-1",
    }


async def test_http_without_a_token_sends_no_authorization(http_stub: str) -> None:
    subject = provider(McpHttpTransport(http_stub, allow_insecure_http=True))
    assert seen(await ask(subject, "echo"))["headers"] == {}


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("http_500", "http request failed with status 500 Internal Server Error"),
        ("redirect", "http request failed with status 302 Found"),
        ("huge", "http response too large"),
    ],
)
async def test_http_failures_never_carry_the_token(
    http_stub: str, check: str, message: str
) -> None:
    transport = McpHttpTransport(http_stub, allow_insecure_http=True, bearer_token=TOKEN)
    with pytest.raises(EvidenceProviderFailure) as caught:
        await ask(provider(transport), check)
    assert str(caught.value) == message
    assert TOKEN not in "".join(traceback.format_exception(caught.value))
    assert TOKEN not in repr(transport)


async def test_http_times_out_within_the_request_timeout(http_stub: str) -> None:
    transport = McpHttpTransport(
        http_stub, allow_insecure_http=True, connect_timeout_ms=200, request_timeout_ms=500
    )
    started = time.monotonic()
    assert await failure(provider(transport), "slow") == "http request timed out"
    assert time.monotonic() - started < 1.4


async def test_http_connection_refused_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = McpHttpTransport(f"http://127.0.0.1:{port}/", allow_insecure_http=True)
    assert await failure(provider(transport), "echo") == "http request failed"


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("http://127.0.0.1/rpc", {}, "insecure http disabled for provider"),
        ("ftp://127.0.0.1/rpc", {}, "must be an http(s) url"),
        ("https://user:pw@example.com/rpc", {}, "must not carry credentials"),
        ("https://example.com/rpc", {"connect_timeout_ms": 0}, "timeouts must be positive"),
    ],
)
def test_http_transport_configuration_is_checked(
    url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        McpHttpTransport(url, **options)
    assert message in str(caught.value)


async def tls_provider_answering(server_tls: ssl.SSLContext) -> asyncio.Server:
    """An HTTPS JSON-RPC endpoint on 127.0.0.1 answering request id `c1` with evidence."""
    reply = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "c1",
            "result": {
                "content": [{"type": "json", "json": {"value": {"kind": "json", "value": 1}}}]
            },
        }
    ).encode()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(reply)
                + reply
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)


async def test_https_to_an_untrusted_certificate_fails_closed(
    self_signed: tuple[ssl.SSLContext, Path],
) -> None:
    server_tls, cert_path = self_signed
    server = await tls_provider_answering(server_tls)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/rpc"
    try:
        untrusting = provider(McpHttpTransport(url))
        with pytest.raises(EvidenceProviderFailure) as caught:
            await ask(untrusting, "echo", correlation_id="c1")
        trust = ssl.create_default_context(cafile=str(cert_path))
        trusting = provider(McpHttpTransport(url, tls_context=trust))
        result = await ask(trusting, "echo", correlation_id="c1")
    finally:
        server.close()
        await server.wait_closed()
    assert str(caught.value) == "http request failed"
    assert result.value == JsonEvidence(1)


# --------------------------------------------------------------------------- signatures


@pytest.fixture
def signer(tmp_path: Path) -> tuple[Path, Path]:
    """A signing seed file for the stub, and the matching public key file (raw bytes)."""
    key = nacl.signing.SigningKey.generate()
    seed = tmp_path / "seed.bin"
    seed.write_bytes(bytes(key))
    public = tmp_path / "provider.pub"
    public.write_bytes(bytes(key.verify_key))
    return seed, public


def signed_stub(seed: Path, key_id: str, trusted: list[str]) -> McpEvidenceProvider:
    return provider(
        stdio_transport("--sign", str(seed), key_id), SignatureRequired.from_key_files(trusted)
    )


async def test_a_signed_result_from_a_trusted_key_is_admitted_with_its_hash(
    signer: tuple[Path, Path],
) -> None:
    seed, public = signer
    subject = signed_stub(seed, str(public), [str(public)])
    try:
        result = await ask(subject, "echo")
    finally:
        subject.close()
    assert isinstance(result.value, JsonEvidence)
    assert result.evidence_hash == hash_canonical(result.value.value)
    assert result.signature is not None
    assert result.signature.key_id == str(public)


async def test_a_base64_key_file_works_too(signer: tuple[Path, Path], tmp_path: Path) -> None:
    seed, public = signer
    text_key = tmp_path / "provider.b64"
    text_key.write_text(base64.b64encode(public.read_bytes()).decode() + "\n")
    subject = signed_stub(seed, str(text_key), [str(text_key)])
    try:
        assert (await ask(subject, "echo")).error is None
    finally:
        subject.close()


async def test_an_unsigned_result_is_refused_when_signatures_are_required(
    signer: tuple[Path, Path],
) -> None:
    _, public = signer
    subject = provider(stdio_transport(), SignatureRequired.from_key_files([str(public)]))
    try:
        assert await failure(subject, "echo") == "missing evidence signature"
    finally:
        subject.close()


async def test_a_key_id_nobody_configured_is_refused(signer: tuple[Path, Path]) -> None:
    seed, public = signer
    subject = signed_stub(seed, "some-other-key", [str(public)])
    try:
        assert await failure(subject, "echo") == "signature key not authorized"
    finally:
        subject.close()


async def test_a_signature_by_another_key_under_a_trusted_key_id_fails(
    signer: tuple[Path, Path], tmp_path: Path
) -> None:
    _, public = signer
    impostor = tmp_path / "impostor.seed"
    impostor.write_bytes(bytes(nacl.signing.SigningKey.generate()))
    subject = signed_stub(impostor, str(public), [str(public)])
    try:
        assert await failure(subject, "echo") == "signature verification failed"
    finally:
        subject.close()


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("tamper_hash", "evidence hash mismatch"),
        ("bad_signature", "signature verification failed"),
        ("short_signature", "invalid signature bytes"),
        ("other_scheme", "unsupported signature scheme"),
    ],
)
async def test_tampered_signed_results_are_refused(
    signer: tuple[Path, Path], check: str, message: str
) -> None:
    seed, public = signer
    subject = signed_stub(seed, str(public), [str(public)])
    try:
        assert await failure(subject, check) == message
    finally:
        subject.close()


def test_a_small_order_signature_accepted_by_plain_rfc8032_is_refused() -> None:
    identity = bytes([1]) + bytes(31)
    forged = EvidenceResult(
        value=JsonEvidence("anything"),
        signature=EvidenceSignature(scheme="ed25519", key_id="k", signature=identity + bytes(32)),
    )
    with pytest.raises(EvidenceProviderFailure, match=r"^signature verification failed$"):
        SignatureRequired({"k": identity}).admit(forged)


# --------------------------------------------------------------------------- from config


def write_contract(tmp_path: Path) -> str:
    path = tmp_path / "stub.contract.json"
    path.write_text(json.dumps(contract()))
    return str(path)


async def test_config_builds_a_stdio_provider_with_the_default_trust(tmp_path: Path) -> None:
    subject = mcp_provider_from_config(
        "stub",
        capabilities_path=write_contract(tmp_path),
        command=[sys.executable, STUB, "stdio"],
    )
    try:
        assert isinstance(subject.transport, McpStdioTransport)
        assert isinstance(subject.trust, AuditTrust)
        assert (await ask(subject, "echo")).error is None
    finally:
        subject.close()


async def test_config_builds_an_http_provider_with_a_per_provider_trust(
    tmp_path: Path, http_stub: str, signer: tuple[Path, Path]
) -> None:
    _, public = signer
    subject = mcp_provider_from_config(
        "stub",
        capabilities_path=write_contract(tmp_path),
        url=http_stub,
        allow_insecure_http=True,
        auth={"bearer_token": TOKEN},
        timeouts={"connect_timeout_ms": 500, "request_timeout_ms": 2000},
        trust={"require_signature": {"keys": [str(public)]}},
    )
    assert isinstance(subject.transport, McpHttpTransport)
    assert isinstance(subject.trust, SignatureRequired)
    assert await failure(subject, "echo") == "missing evidence signature"


def test_config_without_a_contract_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^provider capability contract missing for stub$"):
        mcp_provider_from_config("stub", capabilities_path=None, command=["x"])


def test_config_with_neither_command_nor_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs a command or a url"):
        mcp_provider_from_config("stub", capabilities_path=write_contract(tmp_path))


def test_config_with_a_contract_for_another_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="provider id mismatch"):
        mcp_provider_from_config("other", capabilities_path=write_contract(tmp_path), command=["x"])
