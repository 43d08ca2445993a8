"""Fixtures of the identity tests: an `ApiKeyStore` per backend, a movable
clock, and a real HTTP identity provider on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwk

from platform_core.identity.api_key_postgres import PostgresApiKeyStore
from platform_core.identity.api_key_sqlite import SqliteApiKeyStore
from platform_core.identity.api_key_store import ApiKeyStore, MemoryApiKeyStore


class MovableClock:
    """Epoch seconds that only the test advances."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def api_key_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ApiKeyStore]:
    store: ApiKeyStore
    if request.param == "memory":
        store = MemoryApiKeyStore()
    elif request.param == "sqlite":
        store = await SqliteApiKeyStore.open(tmp_path / "keys.sqlite3")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        store = await PostgresApiKeyStore.open(dsn, max_size=4)
    try:
        yield store
    finally:
        await store.close()


class IdentityProviderServer:
    """A real HTTP server on 127.0.0.1 (port 0) playing an IdP: it serves the
    JWKS document the test publishes and answers RFC 7662 introspection.

    `outage` makes every request answer 503; `cache_control` is sent as the
    Cache-Control header; `jwks_hits` counts JWKS fetches.
    """

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.introspection: dict[str, dict[str, Any]] = {}
        self.client_credentials = ("gate", "s3cret-client")
        self.outage = False
        self.cache_control: str | None = None
        self.jwks_hits = 0
        self.introspection_requests: list[dict[str, list[str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.base_url}/jwks"

    @property
    def introspection_uri(self) -> str:
        return f"{self.base_url}/introspect"

    def publish(self, *keys: jwk.Key) -> None:
        """Publish exactly these keys (public parts only), replacing the set."""
        self.jwks = {"keys": [key.as_dict(private=False) for key in keys]}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if idp.cache_control is not None:
                    self.send_header("Cache-Control", idp.cache_control)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path != "/jwks":
                    self._reply(404, {"error": "not found"})
                    return
                with idp._lock:
                    idp.jwks_hits += 1
                if idp.outage:
                    self._reply(503, {"error": "unavailable"})
                    return
                self._reply(200, idp.jwks)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                with idp._lock:
                    idp.introspection_requests.append(form)
                if idp.outage or self.path != "/introspect":
                    self._reply(503, {"error": "unavailable"})
                    return
                user, password = idp.client_credentials
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._reply(401, {"error": "invalid_client"})
                    return
                token = form.get("token", [""])[0]
                self._reply(200, idp.introspection.get(token, {"active": False}))

        return Handler


@pytest.fixture
def idp() -> Iterator[IdentityProviderServer]:
    server = IdentityProviderServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
