"""The reference's P0 security list, one behaviour per test, against a running server.

Bearer tokens, the tool allowlist, mTLS, the body limit, the rate limit,
evidence redaction, a log leak scan over a scripted session, malformed
JSON-RPC envelopes and hostile HTTP evidence sources: each must fail closed,
say nothing it should not, and keep the §1.5 error shape.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpc_error_table import assert_fails_closed, assert_table_error
from server_harness import RunningServer, run_server, server_config
from test_server_tls import client_context, pki, serving_options, tls_config

__all__ = ["pki"]  # the fixture, shared with the TLS tests

TOKEN: Final = "dg-p0-bearer-4b7e19c2"
API_KEY: Final = "sk-live-p0-51f0c7a9e2d84b36"
JSON_SECRET: Final = "p0-json-secret-8d2c61"
API_KEY_VARIABLE: Final = "DG_P0_SERVICE_API_KEY"
BEARER: Final = f'[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["{TOKEN}"]\n'
AUTH: Final = {"authorization": f"Bearer {TOKEN}"}
EXISTS: Final = object()
CONTEXT: Final = {
    "tenant_id": 1,
    "namespace_id": 2,
    "run_id": "run-1",
    "scenario_id": "p0",
    "stage_id": "main",
    "trigger_id": "t-1",
    "trigger_time": {"kind": "logical", "value": 5},
}


@pytest.fixture
def evidence_root(tmp_path: Path) -> Path:
    root = tmp_path / "evidence"
    root.mkdir()
    return root


@pytest.fixture
def bearer_server(evidence_root: Path) -> Iterator[RunningServer]:
    with run_server(server_config(str(evidence_root), BEARER)) as running:
        yield running


def evidence_query(provider: str, check: str, params: Any = None) -> dict[str, Any]:
    query: dict[str, Any] = {"provider_id": provider, "check_id": check}
    if params is not None:
        query["params"] = params
    return {"query": query, "context": CONTEXT}


def gated_spec(conditions: list[tuple[str, str, str, Any, Any]]) -> dict[str, Any]:
    """One stage whose gates each need one condition (id, provider, check, params, expected);
    an expected value of `EXISTS` makes the condition `exists` (which takes none)."""
    return {
        "scenario_id": "p0",
        "namespace_id": 2,
        "spec_version": "1",
        "default_tenant_id": 1,
        "policies": [],
        "schemas": [],
        "conditions": [
            {
                "condition_id": condition_id,
                "comparator": "exists" if expected is EXISTS else "equals",
                "policy_tags": [],
                "query": {"provider_id": provider, "check_id": check, "params": params},
            }
            | ({} if expected is EXISTS else {"expected": expected})
            for condition_id, provider, check, params, expected in conditions
        ],
        "stages": [
            {
                "stage_id": "main",
                "entry_packets": [],
                "gates": [
                    {"gate_id": f"gate-{condition[0]}", "requirement": {"Condition": condition[0]}}
                    for condition in conditions
                ],
                "advance_to": {"kind": "terminal"},
                "on_timeout": "fail",
                "timeout": None,
            }
        ],
    }


def run_to_decision(server: RunningServer, spec: dict[str, Any], **kwargs: Any) -> Any:
    """Define `spec`, start run-1 and ask for the next decision; returns scenario_next."""
    server.call("scenario_define", {"spec": spec}, **kwargs)
    server.call(
        "scenario_start",
        {
            "scenario_id": "p0",
            "run_config": {
                "tenant_id": 1,
                "namespace_id": 2,
                "run_id": "run-1",
                "scenario_id": "p0",
                "dispatch_targets": [],
                "policy_tags": [],
            },
            "started_at": {"kind": "logical", "value": 1},
            "issue_entry_packets": False,
        },
        **kwargs,
    )
    return server.call(
        "scenario_next",
        {
            "scenario_id": "p0",
            "request": {
                "run_id": "run-1",
                "tenant_id": 1,
                "namespace_id": 2,
                "trigger_id": "t-1",
                "agent_id": "agent",
                "time": {"kind": "logical", "value": 2},
                "correlation_id": None,
            },
        },
        **kwargs,
    )


# ------------------------------------------------------------------ bearer tokens


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer not-the-token"}, {"authorization": f"Basic {TOKEN}"}],
    ids=["no-token", "wrong-token", "wrong-scheme"],
)
def test_bearer_mode_refuses_bad_credentials_without_saying_why(
    bearer_server: RunningServer, headers: dict[str, str]
) -> None:
    response = bearer_server.call_raw("providers_list", {}, headers=headers)

    assert response.status_code == 401
    assert_table_error(401, response.json())
    assert response.json()["error"]["message"] == "unauthenticated"


# ------------------------------------------------------------------ tool allowlist


def test_a_tool_outside_the_allowlist_is_refused_as_unauthorized(evidence_root: Path) -> None:
    extra = BEARER + 'allowed_tools = ["providers_list"]\n'
    with run_server(server_config(str(evidence_root), extra)) as server:
        allowed = server.call_raw("providers_list", {}, headers=AUTH)
        refused = server.call_raw(
            "scenarios_list", {"tenant_id": 1, "namespace_id": 2}, headers=AUTH
        )

    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert_table_error(403, refused.json())


# ------------------------------------------------------------------ mTLS


def test_mtls_refuses_a_client_without_a_certificate_before_any_rpc(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = tls_config(tmp_path, pki, client_ca=True)
    with (
        run_server(
            config,
            uvicorn_options=serving_options(config),
            client_options={"verify": client_context(pki, None)},
        ) as server,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        server.rpc("tools/list")


def test_mtls_serves_a_client_whose_certificate_the_ca_signed(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = tls_config(tmp_path, pki, client_ca=True)
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, "client")},
    ) as server:
        response = server.rpc("tools/list")

    assert response.status_code == 200


# ------------------------------------------------------------------ body limit


def test_an_oversized_body_is_refused_before_it_is_parsed(
    evidence_root: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    extra = f'[server.audit]\npath = "{audit}"\n'
    not_json = b"{" * 2048  # parsed, this would be a 400 invalid_request (and audited)
    with run_server(
        server_config(str(evidence_root), extra, server_keys="max_body_bytes = 1024")
    ) as server:
        response = server.post(not_json, headers={"content-type": "application/json"})
        small = server.post(not_json[:100], headers={"content-type": "application/json"})

    assert response.status_code == 413
    assert "too large" in response.text
    assert small.status_code == 400
    audited = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(line["event"], line["request_bytes"]) for line in audited] == [("mcp_request", 100)]


# ------------------------------------------------------------------ rate limit


def test_the_rate_limit_refuses_with_429_and_says_when_to_retry(evidence_root: Path) -> None:
    extra = "[server.limits.rate_limit]\nmax_requests = 3\nwindow_ms = 60000\n"
    with run_server(server_config(str(evidence_root), extra)) as server:
        statuses = [server.rpc("tools/list").status_code for _ in range(3)]
        refused = server.rpc("tools/list")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert_table_error(429, refused.json())
    assert 0 < refused.json()["error"]["data"]["retry_after_ms"] <= 60000


# ------------------------------------------------------------------ evidence redaction


def test_evidence_query_redacts_values_by_default(evidence_root: Path) -> None:
    (evidence_root / "secrets.json").write_text(json.dumps({"api_secret": JSON_SECRET}))
    with run_server(server_config(str(evidence_root), BEARER)) as server:
        response = server.call_raw(
            "evidence_query",
            evidence_query("json", "path", {"file": "secrets.json", "jsonpath": "$.api_secret"}),
            headers=AUTH,
        )

    result = response.json()["result"]["content"][0]["json"]["result"]
    assert JSON_SECRET not in response.text
    assert (result["value"], result["content_type"], result["error"]) == (None, None, None)
    assert result["evidence_hash"]["algorithm"] == "sha256"


def test_trace_feedback_names_conditions_but_never_evidence_values(evidence_root: Path) -> None:
    (evidence_root / "secrets.json").write_text(json.dumps({"api_secret": JSON_SECRET}))
    spec = gated_spec(
        [("secret", "json", "path", {"file": "secrets.json", "jsonpath": "$.api_secret"}, EXISTS)]
    )
    with run_server(server_config(str(evidence_root))) as server:
        decision = run_to_decision(server, spec)

    assert decision["feedback"]["level"] == "trace"
    assert decision["feedback"]["gate_evaluations"][0]["trace"] == [
        {"condition_id": "secret", "status": "True"}
    ]
    assert JSON_SECRET not in json.dumps(decision)


# ------------------------------------------------------------------ log leak scan


def test_a_scripted_session_leaks_no_secret_into_any_log(
    tmp_path: Path,
    evidence_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(API_KEY_VARIABLE, API_KEY)
    (evidence_root / "secrets.json").write_text(json.dumps({"api_secret": JSON_SECRET}))
    logs = tmp_path / "logs"
    logs.mkdir()
    audit = logs / "audit.jsonl"
    config = server_config(str(evidence_root), BEARER + f'[server.audit]\npath = "{audit}"\n')
    config = config.replace(
        'overrides = { DEPLOY_ENV = "production" }', f'allowlist = ["{API_KEY_VARIABLE}"]'
    )
    spec = gated_spec(
        [
            ("key", "env", "get", {"key": API_KEY_VARIABLE}, API_KEY),
            (
                "secret",
                "json",
                "path",
                {"file": "secrets.json", "jsonpath": "$.api_secret"},
                JSON_SECRET,
            ),
        ]
    )
    with run_server(config) as server:
        decision = run_to_decision(server, spec, headers=AUTH)
        for refused_or_redacted in (
            server.call_raw(
                "evidence_query",
                evidence_query("env", "get", {"key": API_KEY_VARIABLE}),
                headers=AUTH,
            ),
            server.call_raw(
                "evidence_query",
                evidence_query(
                    "json", "path", {"file": "secrets.json", "jsonpath": "$.api_secret"}
                ),
                headers=AUTH,
            ),
            server.call_raw("scenario_define", {"spec": spec}),
            server.call_raw("providers_list", {}, headers={"authorization": f"Basic {TOKEN}"}),
            server.call_raw("providers_list", {}, headers={"authorization": f"Bearer {API_KEY}"}),
            server.post(f'{{"jsonrpc":"2.0","id":7,"method":"x{JSON_SECRET}"}}'),
        ):
            assert refused_or_redacted.status_code < 500

    captured = capfd.readouterr()
    sources = {"stderr": captured.err, "stdout": captured.out, "logging": caplog.text}
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    sources |= {
        str(path): path.read_text() for path in written if evidence_root not in path.parents
    }
    for name, text in sources.items():
        for secret in (TOKEN, API_KEY, JSON_SECRET):
            assert secret not in text, f"{secret} leaked into {name}"
    assert decision["decision"]["outcome"]["kind"] == "complete"  # the secrets were read
    assert hashlib.sha256(TOKEN.encode()).hexdigest() in captured.err  # the scan saw the auth log
    assert audit.read_text().count('"mcp_request"') >= 9


# ------------------------------------------------------------------ malformed inputs


JSON_SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
NASTY_BODIES: Final = (
    b'{"jsonrpc":"2.0","id":NaN,"method":"tools/list"}',
    b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"tools/list"}',
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b'{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list","method":"tools/call"}',
    b'{"jsonrpc":"2.0","id":"\\ud800","method":"tools/list"}',
    b"\xef\xbb\xbf" + b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":1e999}}',
    b"\xff\xfe\x00",
)
JSON_VALUES: Final = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
METHODS: Final = (
    st.sampled_from(["tools/call", "tools/list", "resources/list", "resources/read", "initialize"])
    | JSON_VALUES
)
TOOL_NAMES: Final = (
    st.sampled_from(
        [
            "scenario_define",
            "scenario_next",
            "evidence_query",
            "precheck",
            "schemas_register",
            "nope",
        ]
    )
    | JSON_VALUES
)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """Bodies near a JSON-RPC request: some keys missing, some values of any type, some junk."""
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.binary(max_size=64))
    if shape == 1:
        return draw(st.sampled_from(NASTY_BODIES))
    candidate: dict[str, Any] = {
        "jsonrpc": draw(st.sampled_from(["2.0", "1.0"]) | JSON_VALUES),
        "id": draw(JSON_VALUES),
        "method": draw(METHODS),
        "params": draw(
            st.fixed_dictionaries({"name": TOOL_NAMES, "arguments": JSON_VALUES}) | JSON_VALUES
        ),
    }
    kept = draw(st.sets(st.sampled_from(sorted(candidate)), min_size=0))
    body = {key: value for key, value in candidate.items() if key in kept or key == "params"}
    return json.dumps(body).encode()


def test_malformed_envelopes_fail_closed_in_the_table_shape(bearer_server: RunningServer) -> None:
    @settings(
        max_examples=150,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=envelopes(), authorized=st.booleans())
    def one_request(body: bytes, authorized: bool) -> None:
        headers = {"content-type": "application/json", **(AUTH if authorized else {})}
        response = bearer_server.post(body, headers=headers)
        assert_fails_closed(response.status_code, response.content)

    one_request()


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{}}',
        b'{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","\\u006dethod":"tools/list"}',
    ],
    ids=["method-twice", "id-twice", "escaped-repeat"],
)
def test_an_envelope_naming_a_member_twice_is_not_a_request(
    bearer_server: RunningServer, body: bytes
) -> None:
    response = bearer_server.post(body, headers={"content-type": "application/json", **AUTH})

    assert response.status_code == 400
    assert_table_error(400, response.json())
    assert response.json()["error"]["code"] == -32600


# ------------------------------------------------------------------ hostile http evidence


Script = Callable[[socket.socket], None]


class HostileServer:
    """A TCP server on 127.0.0.1 (port 0) that answers every connection with `script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.script(connection)
            except OSError:
                return


MARKER: Final = "hostile-body-3e9a"


def _send(data: bytes) -> Script:
    def script(connection: socket.socket) -> None:
        connection.sendall(data)

    return script


def _drip(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(40):
        connection.sendall(b"x")
        time.sleep(0.05)


HOSTILE: Final[dict[str, Script]] = {
    "declared-oversize": _send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + MARKER.encode()
    ),
    "undeclared-oversize": _send(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + MARKER.encode() * 200
    ),
    "truncated": _send(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n" + MARKER.encode()),
    "not-http": _send(MARKER.encode() * 3 + b"\r\n\r\n"),
    "dripping": _drip,
}
HTTP_PROVIDER: Final = """
[[providers]]
name = "http"
type = "builtin"
[providers.config]
allow_http = true
allowed_hosts = ["127.0.0.1"]
timeout_ms = 800
max_response_bytes = 256
"""
FIXED_MESSAGES: Final = {
    "http response exceeds size limit",
    "http response truncated",
    "http request failed",
    "failed to read response",
}


@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
def test_hostile_http_evidence_is_a_provider_error_that_names_nothing(
    evidence_root: Path, behaviour: str
) -> None:
    with (
        HostileServer(HOSTILE[behaviour]) as hostile,
        run_server(server_config(str(evidence_root), HTTP_PROVIDER)) as server,
    ):
        url = f"http://127.0.0.1:{hostile.port}/status-page"
        started = time.monotonic()
        response = server.call_raw(
            "evidence_query", evidence_query("http", "body_hash", {"url": url})
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    result = response.json()["result"]["content"][0]["json"]["result"]
    assert (result["value"], result["evidence_hash"]) == (None, None)
    assert result["error"]["code"] == "provider_error"
    message = result["error"]["message"].removeprefix("evidence provider error: ")
    assert message in FIXED_MESSAGES
    assert MARKER not in response.text
    assert "status-page" not in result["error"]["message"]
    assert elapsed < 5


@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
def test_hostile_http_evidence_never_passes_a_gate(evidence_root: Path, behaviour: str) -> None:
    with (
        HostileServer(HOSTILE[behaviour]) as hostile,
        run_server(server_config(str(evidence_root), HTTP_PROVIDER)) as server,
    ):
        url = f"http://127.0.0.1:{hostile.port}/"
        decision = run_to_decision(
            server, gated_spec([("body", "http", "body_hash", {"url": url}, EXISTS)])
        )

    assert decision["decision"]["outcome"]["kind"] == "hold"
    assert decision["status"] == "active"


def test_a_redirect_to_a_healthy_page_is_never_followed_to_pass_a_gate(
    evidence_root: Path,
) -> None:
    with (
        HostileServer(_send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) as healthy,
        HostileServer(
            _send(
                b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: http://127.0.0.1:"
                + str(healthy.port).encode()
                + b"/\r\n\r\n"
            )
        ) as redirector,
        run_server(server_config(str(evidence_root), HTTP_PROVIDER)) as server,
    ):
        url = f"http://127.0.0.1:{redirector.port}/"
        decision = run_to_decision(
            server, gated_spec([("up", "http", "status", {"url": url}, 200)])
        )

    assert decision["decision"]["outcome"]["kind"] == "hold"
