"""The Decision Gate MCP server: the reference's JSON-RPC surface over HTTP, SSE and stdio.

`DecisionGateServer.start(config)` assembles a server from a validated
`decision-gate.toml`; `create_app(config)` is its ASGI app (`POST /rpc`,
`/healthz`, `/readyz`); `serve_stdio` runs it over Content-Length framed
stdio. One tool router (`server.tools`) sits behind every transport.
"""

from decision_gate.server.app import DecisionGateServer
from decision_gate.server.http import create_app

__all__ = ["DecisionGateServer", "create_app"]
