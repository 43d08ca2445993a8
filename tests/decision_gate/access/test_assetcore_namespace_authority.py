"""The `assetcore_http` namespace authority against a real HTTP server on 127.0.0.1 port 0."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from decision_gate.access.assetcore import AssetcoreNamespaceAuthority
from decision_gate.core.errors import InvalidInput
from decision_gate.plugins import load_seams
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.testing.namespace_authority import *  # noqa: F403

# namespace id -> what the fake write daemon answers
STATUSES = {10: 200, 11: 404, 12: 401, 13: 403, 14: 500, 15: 302}
SLOW = 16


class AssetCore(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: AssetCore

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        namespace = int(self.path.rsplit("/", 1)[1])
        if namespace == SLOW:
            time.sleep(1.0)
        self.send_response(STATUSES.get(namespace, 200))
        if STATUSES.get(namespace) == 302:
            self.send_header("Location", "/v1/write/namespaces/10")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def assetcore() -> Iterator[AssetCore]:
    server = AssetCore()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("namespace", "decision"),
    [
        (10, NamespaceDecision.ALLOWED),
        (11, NamespaceDecision.DENIED),
        (12, NamespaceDecision.DENIED),
        (13, NamespaceDecision.DENIED),
        (14, NamespaceDecision.UNAVAILABLE),
        (15, NamespaceDecision.UNAVAILABLE),
    ],
)
async def test_the_daemons_status_decides(
    assetcore: AssetCore, namespace: int, decision: NamespaceDecision
) -> None:
    authority = AssetcoreNamespaceAuthority(assetcore.url)
    assert await authority.check(1, namespace) is decision
    await authority.close()


async def test_the_token_and_correlation_id_are_sent_to_the_namespace_url(
    assetcore: AssetCore,
) -> None:
    authority = AssetcoreNamespaceAuthority(assetcore.url + "/", auth_token="s3cret")
    await authority.check(1, 10, correlation_id="corr-1")
    await authority.close()
    [(path, headers)] = assetcore.requests
    assert path == "/v1/write/namespaces/10"
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["x-correlation-id"] == "corr-1"


async def test_a_correlation_id_that_is_no_http_token_is_not_sent(assetcore: AssetCore) -> None:
    authority = AssetcoreNamespaceAuthority(assetcore.url)
    await authority.check(1, 10, correlation_id="bad id\r\nX-Injected: 1")
    await authority.close()
    [(_, headers)] = assetcore.requests
    assert "x-correlation-id" not in headers
    assert "X-Injected" not in headers


async def test_a_slow_daemon_is_unavailable(assetcore: AssetCore) -> None:
    authority = AssetcoreNamespaceAuthority(assetcore.url, request_timeout_ms=500)
    assert await authority.check(1, SLOW) is NamespaceDecision.UNAVAILABLE
    await authority.close()


async def test_an_unreachable_daemon_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    authority = AssetcoreNamespaceAuthority(f"http://127.0.0.1:{port}")
    assert await authority.check(1, 10) is NamespaceDecision.UNAVAILABLE
    await authority.close()


def test_the_token_never_appears_in_the_repr() -> None:
    authority = AssetcoreNamespaceAuthority("http://127.0.0.1:1", auth_token="s3cret")
    assert "s3cret" not in repr(authority)


@pytest.mark.parametrize(
    ("base_url", "settings", "message"),
    [
        ("ftp://catalog", {}, "must be an http"),
        ("http://catalog", {"connect_timeout_ms": 50}, "connect_timeout_ms must be between"),
        ("http://catalog", {"request_timeout_ms": 60_000}, "request_timeout_ms must be between"),
    ],
)
def test_bad_settings_are_refused(base_url: str, settings: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        AssetcoreNamespaceAuthority(base_url, **settings)


async def test_selected_by_config_it_answers_through_the_guard(assetcore: AssetCore) -> None:
    seams = await load_seams(
        {"namespace_authority": {"type": "assetcore_http", "base_url": assetcore.url}},
        environ={},
    )
    assert seams.namespace_authority.security_context == "assetcore_catalog"
    assert await seams.namespace_authority.check(1, 10) is NamespaceDecision.ALLOWED
    assert await seams.namespace_authority.check(1, 11) is NamespaceDecision.DENIED
    await seams.close()


@pytest.fixture
async def namespace_authority(assetcore: AssetCore) -> AsyncIterator[AssetcoreNamespaceAuthority]:
    """For the kit's namespace authority suite, imported above: this authority, live daemon."""
    authority = AssetcoreNamespaceAuthority(assetcore.url, request_timeout_ms=500)
    yield authority
    await authority.close()
