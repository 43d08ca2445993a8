"""Under in-process mTLS every HTTP route knows the caller by its verified certificate.

The `x-decision-gate-client-subject` header is what a TLS-terminating proxy
says about its client; when this server verifies client certificates itself,
the header is only the client's own claim. These tests send a certificate for
`CN=agent` together with a forged header claiming `CN=admin`, over `/mcp`
(through the official MCP client) and `/metrics`, and check that the
certificate's subject is the one authenticated, exactly as on `/rpc`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
import test_server_tls as tls_fixtures
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from server_harness import RunningServer, run_server

FORGED = {"x-decision-gate-client-subject": "CN=admin"}

pki = tls_fixtures.pki


def mtls_server(
    tmp_path: Path, pki: dict[str, tuple[str, str]], allowed_subject: str
) -> contextlib.AbstractContextManager[RunningServer]:
    """A server under in-process mTLS that admits only `allowed_subject`; its client is
    `CN=agent`."""
    config = tls_fixtures.mtls_subject_config(tmp_path, pki, allowed_subject)
    return run_server(
        config,
        uvicorn_options=tls_fixtures.serving_options(config),
        client_options={"verify": tls_fixtures.client_context(pki, "client")},
    )


@contextlib.asynccontextmanager
async def mcp_as_agent_claiming_admin(
    server: RunningServer, pki: dict[str, tuple[str, str]]
) -> AsyncIterator[ClientSession]:
    """An MCP session over TLS with `CN=agent`'s certificate and a header claiming `CN=admin`."""
    async with (
        httpx2.AsyncClient(
            headers=FORGED, verify=tls_fixtures.client_context(pki, "client"), timeout=30
        ) as http,
        streamable_http_client(f"{server.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_mcp_refuses_a_forged_subject_header_the_certificate_does_not_back(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    with mtls_server(tmp_path, pki, "CN=admin") as server:
        async with mcp_as_agent_claiming_admin(server, pki) as session:
            with pytest.raises(MCPError) as refused_list:
                await session.list_tools()
            refused_call = await session.call_tool("providers_list", {})

    assert refused_list.value.code == -32003
    assert refused_list.value.message == "unauthorized"
    assert refused_call.is_error
    (text,) = refused_call.content
    assert text.type == "text"
    assert json.loads(text.text)["data"]["kind"] == "unauthorized"


async def test_mcp_authenticates_the_certificate_subject_whatever_the_header_claims(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    with mtls_server(tmp_path, pki, "CN=agent") as server:
        async with mcp_as_agent_claiming_admin(server, pki) as session:
            listed = await session.list_tools()
            called = await session.call_tool("providers_list", {})

    assert len(listed.tools) == 18
    assert not called.is_error


def test_rpc_and_metrics_refuse_the_forged_subject_header_alike(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    with mtls_server(tmp_path, pki, "CN=admin") as server:
        rpc = server.call_raw("providers_list", {}, headers=FORGED)
        metrics = server.client.get("/metrics", headers=FORGED)

    assert rpc.status_code == 403
    assert metrics.status_code == 403


def test_metrics_admits_the_certificate_subject_whatever_the_header_claims(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    with mtls_server(tmp_path, pki, "CN=agent") as server:
        metrics = server.client.get("/metrics", headers=FORGED)

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
