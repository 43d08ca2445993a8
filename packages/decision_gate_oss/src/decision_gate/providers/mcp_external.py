"""External evidence providers reached over MCP: a local process (stdio) or an HTTP endpoint.

Each query is one JSON-RPC 2.0 `tools/call` of the tool `evidence_query` with
`{query, context}`; the answer must be `result.content[0] = {"type": "json",
"json": <EvidenceResult>}`. Decision Gate never asks the provider what it can
do: its contract file says so (`provider_contract`), loaded at startup.

The provider is untrusted, so:
- Responses are capped at 1 MiB on both transports, and a stdio frame header
  at 8 KiB; anything malformed is a fixed-message failure.
- The response must carry the request's id: an answer to some other request
  is refused, never attributed to this one.
- HTTP never follows redirects (the bearer token would go with them), ignores
  proxy and CA settings from the environment, and bounds connect time and the
  whole exchange.
- A stdio provider is spawned once, with its stderr discarded, and serves one
  request at a time on a thread of its own; a caller that gives up (the
  control plane's timeout) does not desynchronise the stream, because the
  thread still reads the answer it is owed. A frame that breaks the framing
  (oversized, no or bad Content-Length, endless header) leaves the stream
  out of step, so the process is killed: later queries fail with
  `mcp process exited`, never read a stale answer. A process that has exited
  is reported as such.
- The trust policy (`evidence_trust`) is applied to every result.
Provider-chosen text (a JSON-RPC error message, a text content item) is
recorded as the failure message, as the reference does; our own messages
never carry the bearer token, the URL or the response body.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import queue
import ssl
import subprocess
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import IO, Any, Final, Protocol

import httpx

from decision_gate.core.canonical import canonical_json_bytes
from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonDecodeError, JsonValue, loads
from decision_gate.core.model import (
    EvidenceContext,
    EvidenceQuery,
    EvidenceResult,
    parse,
    to_json,
)
from decision_gate.providers.evidence_trust import AuditTrust, EvidenceTrust, trust_from_config
from decision_gate.providers.provider_contract import contract_check_ids, load_provider_contract
from decision_gate.seams.evidence_provider import EvidenceProviderFailure
from decision_gate.server.correlation import sanitize_correlation_id

MAX_RESPONSE_BYTES: Final = 1024 * 1024
MAX_FRAME_HEADER_BYTES: Final = 8 * 1024
DEFAULT_CONNECT_TIMEOUT_MS: Final = 2000
DEFAULT_REQUEST_TIMEOUT_MS: Final = 10_000
EXIT_GRACE_SECONDS: Final = 1.0
_REQUEST_IDS: Final = itertools.count(1)


class McpTransport(Protocol):
    async def exchange(self, request: bytes, correlation_id: str | None) -> bytes:
        """The provider's raw JSON-RPC response to `request`."""
        ...

    def close(self) -> None: ...


class McpEvidenceProvider:
    """An evidence provider whose answers come from an external MCP server."""

    def __init__(
        self,
        *,
        provider_id: str,
        contract: Mapping[str, Any],
        transport: McpTransport,
        trust: EvidenceTrust | None = None,
    ) -> None:
        self.provider_id = provider_id
        self.contract = contract
        self.transport = transport
        self.trust = trust if trust is not None else AuditTrust()
        self._checks = frozenset(contract_check_ids(contract))

    @property
    def checks(self) -> Collection[str]:
        return self._checks

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        correlation_id = None
        if context.correlation_id is not None:
            correlation_id = sanitize_correlation_id(context.correlation_id)
            if correlation_id is None:
                raise EvidenceProviderFailure("invalid correlation id")
        request_id: str | int = correlation_id if correlation_id is not None else next(_REQUEST_IDS)
        request: JsonValue = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {
                "name": "evidence_query",
                "arguments": {"query": to_json(query), "context": to_json(context)},
            },
        }
        raw = await self.transport.exchange(canonical_json_bytes(request), correlation_id)
        return self.trust.admit(decode_tool_response(raw, request_id))

    def close(self) -> None:
        self.transport.close()


def decode_tool_response(raw: bytes, request_id: str | int) -> EvidenceResult:
    """The evidence result inside a JSON-RPC `tools/call` response, or a provider failure."""
    try:
        response = loads(raw)
    except JsonDecodeError:
        raise EvidenceProviderFailure("invalid json-rpc response") from None
    if not isinstance(response, dict):
        raise EvidenceProviderFailure("invalid json-rpc response")
    if response.get("id") != request_id or isinstance(response.get("id"), bool):
        raise EvidenceProviderFailure("json-rpc response id mismatch")
    error = response.get("error")
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str):
            raise EvidenceProviderFailure("invalid json-rpc response")
        raise EvidenceProviderFailure(message)
    result = response.get("result")
    if result is None:
        raise EvidenceProviderFailure("missing tool result")
    content = result.get("content") if isinstance(result, dict) else None
    if not isinstance(content, list):
        raise EvidenceProviderFailure("invalid tool result")
    if not content:
        raise EvidenceProviderFailure("empty tool result")
    return _evidence_of(content[0])


def _evidence_of(item: JsonValue) -> EvidenceResult:
    if isinstance(item, dict):
        if item.get("type") == "json" and set(item) == {"type", "json"}:
            try:
                return parse(EvidenceResult, item["json"])
            except InvalidInput:
                raise EvidenceProviderFailure("invalid tool result") from None
        if item.get("type") == "text" and isinstance(item.get("text"), str):
            raise EvidenceProviderFailure(f"unexpected text response: {item['text']}")
    raise EvidenceProviderFailure("invalid tool result")


# --------------------------------------------------------------------------- HTTP


class McpHttpTransport:
    """JSON-RPC over HTTP POST to one URL, with an optional bearer token."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        allow_insecure_http: bool = False,
        connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise InvalidInput("mcp provider url is not a valid url") from None
        if parsed.scheme == "http" and not allow_insecure_http:
            raise InvalidInput("insecure http disabled for provider")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidInput("mcp provider url must be an http(s) url with a host")
        if parsed.userinfo:
            raise InvalidInput("mcp provider url must not carry credentials")
        if not 0 < connect_timeout_ms <= request_timeout_ms:
            raise InvalidInput("mcp provider timeouts must be positive, connect <= request")
        if tls_context is not None and (
            tls_context.verify_mode != ssl.CERT_REQUIRED or not tls_context.check_hostname
        ):
            raise InvalidInput("mcp provider tls_context must verify certificates and hostnames")
        self.url = parsed
        self._bearer_token = bearer_token
        self._connect_seconds = connect_timeout_ms / 1000
        self._request_seconds = request_timeout_ms / 1000
        self._tls = tls_context or httpx.create_ssl_context(trust_env=False)

    def __repr__(self) -> str:
        return f"McpHttpTransport({str(self.url)!r})"

    async def exchange(self, request: bytes, correlation_id: str | None) -> bytes:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        if self._bearer_token is not None:
            headers["Authorization"] = f"Bearer {self._bearer_token}"
        if correlation_id is not None:
            headers["x-correlation-id"] = correlation_id
        reading = False
        try:
            async with (
                asyncio.timeout(self._request_seconds),
                httpx.AsyncClient(
                    verify=self._tls,
                    timeout=httpx.Timeout(self._request_seconds, connect=self._connect_seconds),
                    follow_redirects=False,
                    trust_env=False,
                ) as client,
            ):
                try:
                    response = await client.send(
                        client.build_request("POST", self.url, content=request, headers=headers),
                        stream=True,
                    )
                except httpx.TimeoutException:
                    raise EvidenceProviderFailure("http request timed out") from None
                except (httpx.HTTPError, OSError):
                    raise EvidenceProviderFailure("http request failed") from None
                try:
                    if not response.is_success:
                        raise EvidenceProviderFailure(
                            f"http request failed with status {_status_text(response.status_code)}"
                        )
                    reading = True
                    return await _read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            message = "http response timed out" if reading else "http request timed out"
            raise EvidenceProviderFailure(message) from None

    def close(self) -> None:
        """Nothing to release: each exchange uses a client of its own."""


async def _read_capped(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise EvidenceProviderFailure("http response too large")
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise EvidenceProviderFailure("http response too large")
    except httpx.TimeoutException:
        raise EvidenceProviderFailure("http response timed out") from None
    except (httpx.HTTPError, OSError):
        raise EvidenceProviderFailure("http response read failed") from None
    return bytes(body)


def _status_text(code: int) -> str:
    reason = httpx.codes.get_reason_phrase(code)
    return f"{code} {reason}" if reason else f"{code} <unknown status code>"


# --------------------------------------------------------------------------- stdio


class _FramingBroken(Exception):
    """The provider's output no longer parses as frames; the stream cannot be trusted."""


class McpStdioTransport:
    """JSON-RPC with Content-Length framing over the stdin/stdout of one child process."""

    def __init__(self, command: Sequence[str]) -> None:
        if not command:
            raise InvalidInput("mcp command is empty")
        try:
            self._process = subprocess.Popen(
                list(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, ValueError):
            raise InvalidInput(f"failed to spawn mcp provider: {command[0]}") from None
        self._jobs: queue.SimpleQueue[tuple[bytes, concurrent.futures.Future[bytes]] | None] = (
            queue.SimpleQueue()
        )
        self._worker = threading.Thread(
            target=self._serve, name=f"mcp-stdio-{self._process.pid}", daemon=True
        )
        self._closed = False
        self._worker.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    async def exchange(self, request: bytes, correlation_id: str | None) -> bytes:
        if self._closed:
            raise EvidenceProviderFailure("mcp provider closed")
        future: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        self._jobs.put((request, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the process and its worker (idempotent); queued requests fail."""
        self._closed = True
        self._jobs.put(None)
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._worker.join()
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and job[1].set_running_or_notify_cancel():
                job[1].set_exception(EvidenceProviderFailure("mcp provider closed"))
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            request, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._exchange_now(request))
            except EvidenceProviderFailure as failure:
                future.set_exception(failure)
            except Exception:  # noqa: BLE001 - the caller must get an answer, never a hang
                future.set_exception(EvidenceProviderFailure("mcp exchange failed"))

    def _exchange_now(self, request: bytes) -> bytes:
        process = self._process
        stdin, stdout = process.stdin, process.stdout
        if process.poll() is not None or stdin is None or stdout is None:
            raise self._exited_or("mcp connection closed")
        try:
            stdin.write(b"Content-Length: %d\r\n\r\n" % len(request) + request)
            stdin.flush()
        except (OSError, ValueError):
            raise self._exited_or("mcp write failed") from None
        try:
            return self._read_frame(stdout)
        except _FramingBroken as broken:
            self._process.kill()
            self._process.wait()  # reaped before the next request looks, so it sees the exit
            raise EvidenceProviderFailure(str(broken)) from None

    def _read_frame(self, stdout: IO[bytes]) -> bytes:
        length: int | None = None
        header_bytes = 0
        try:
            while True:
                line = stdout.readline(MAX_FRAME_HEADER_BYTES + 1)
                if not line:
                    raise self._exited_or("mcp connection closed")
                header_bytes += len(line)
                if header_bytes > MAX_FRAME_HEADER_BYTES:
                    raise _FramingBroken("mcp frame header too large")
                text = line.decode("ascii", errors="replace").strip()
                if not text:
                    break
                name, _, value = text.partition(":")
                if name.strip().lower() == "content-length":
                    if not value.strip().isdigit():
                        raise _FramingBroken("invalid content length")
                    length = int(value.strip())
            if length is None:
                raise _FramingBroken("missing content length header")
            if length > MAX_RESPONSE_BYTES:
                raise _FramingBroken("mcp response too large")
            body = stdout.read(length)
        except (OSError, ValueError):
            raise self._exited_or("mcp read failed") from None
        if len(body) < length:
            raise self._exited_or("mcp connection closed")
        return body

    def _exited_or(self, message: str) -> EvidenceProviderFailure:
        """`mcp process exited: …` if the child is gone (or goes within a grace period)."""
        try:
            code = self._process.wait(timeout=EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            return EvidenceProviderFailure(message)
        status = f"exit status: {code}" if code >= 0 else f"signal: {-code}"
        return EvidenceProviderFailure(f"mcp process exited: {status}")


# --------------------------------------------------------------------------- config


def mcp_provider_from_config(
    name: str,
    *,
    capabilities_path: str | None,
    command: Sequence[str] = (),
    url: str | None = None,
    allow_insecure_http: bool = False,
    auth: Mapping[str, Any] | None = None,
    timeouts: Mapping[str, Any] | None = None,
    trust: Any = None,
    default_trust: Any = "audit",
) -> McpEvidenceProvider:
    """The provider for one `[[providers]]` entry of `type = "mcp"` (server.md §5.2).

    `command` wins over `url`, as in the reference; `trust` overrides `default_trust`.
    """
    if capabilities_path is None:
        raise InvalidInput(f"provider capability contract missing for {name}")
    contract = load_provider_contract(capabilities_path, name)
    policy = trust_from_config(trust if trust is not None else default_trust)
    transport: McpTransport
    if command:
        transport = McpStdioTransport(command)
    elif url is not None:
        limits = dict(timeouts or {})
        transport = McpHttpTransport(
            url,
            bearer_token=(auth or {}).get("bearer_token"),
            allow_insecure_http=allow_insecure_http,
            connect_timeout_ms=limits.get("connect_timeout_ms", DEFAULT_CONNECT_TIMEOUT_MS),
            request_timeout_ms=limits.get("request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS),
        )
    else:
        raise InvalidInput(f"mcp provider {name} needs a command or a url")
    return McpEvidenceProvider(
        provider_id=name, contract=contract, transport=transport, trust=policy
    )
