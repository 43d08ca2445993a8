"""A real server for tests: uvicorn on 127.0.0.1 port 0 in a thread, spoken to over HTTP.

`run_server(config_text)` yields a `RunningServer` whose `rpc`/`call` helpers
send exactly what a client sends (`POST /rpc`, JSON-RPC 2.0, int ids).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from decision_gate.config import parse_config
from decision_gate.server import create_app

BASE_CONFIG = """
[server]
transport = "{transport}"
bind = "127.0.0.1:0"
{server_keys}

[namespace]
allow_default = true
default_tenants = [1]

[schema_registry.acl]
allow_local_only = true

[[providers]]
name = "time"
type = "builtin"

[[providers]]
name = "env"
type = "builtin"
[providers.config]
overrides = {{ DEPLOY_ENV = "production" }}

[[providers]]
name = "json"
type = "builtin"
[providers.config]
root = "{json_root}"
root_id = "evidence-root"
"""


class RpcFailure(AssertionError):
    """A call the test expected to succeed returned an error."""


class RunningServer:
    def __init__(self, base_url: str, **client_options: Any) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=30.0, **client_options)
        self._ids = itertools.count(1)

    def post(self, body: Any, **kwargs: Any) -> httpx.Response:
        if isinstance(body, bytes | str):
            return self.client.post("/rpc", content=body, **kwargs)
        return self.client.post("/rpc", json=body, **kwargs)

    def rpc(self, method: str, params: Any = None, **kwargs: Any) -> httpx.Response:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            body["params"] = params
        return self.post(body, **kwargs)

    def call_raw(self, tool: str, arguments: Any, **kwargs: Any) -> httpx.Response:
        return self.rpc("tools/call", {"name": tool, "arguments": arguments}, **kwargs)

    def call(self, tool: str, arguments: Any, **kwargs: Any) -> Any:
        """The tool's result; raises `RpcFailure` with the error if the call failed."""
        response = self.call_raw(tool, arguments, **kwargs)
        payload = response.json()
        if response.status_code != 200 or payload.get("error") is not None:
            raise RpcFailure(f"{tool} -> HTTP {response.status_code}: {payload.get('error')}")
        (item,) = payload["result"]["content"]
        assert item["type"] == "json"
        return item["json"]

    def error(self, tool: str, arguments: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON-RPC error) of a call the test expects to fail."""
        response = self.call_raw(tool, arguments, **kwargs)
        error = response.json().get("error")
        assert error is not None, f"{tool} unexpectedly succeeded: {response.json()}"
        return response.status_code, error


def server_config(
    json_root: str, extra: str = "", *, server_keys: str = "", transport: str = "http"
) -> str:
    """The test config: `server_keys` go into `[server]`, `extra` tables are appended."""
    return (
        BASE_CONFIG.format(json_root=json_root, server_keys=server_keys, transport=transport)
        + extra
    )


@contextlib.contextmanager
def run_server(
    config_text: str,
    *,
    uvicorn_options: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
) -> Iterator[RunningServer]:
    """Serve `config_text` on 127.0.0.1, port 0 (https when `uvicorn_options` has TLS)."""
    config = parse_config(config_text)
    app = create_app(config)
    options = uvicorn_options or {}
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if "ssl_certfile" in options else "http"
    running = RunningServer(f"{scheme}://127.0.0.1:{port}", **(client_options or {}))
    try:
        yield running
    finally:
        running.client.close()
        server.should_exit = True
        thread.join(timeout=20)
