"""`scenario_status` and `scenario_next` over `POST /rpc`, and the server's memory under load.

- throughput and latency: calls per second and p50/p99 latency with 1, 8 and
  32 concurrent keep-alive clients (`httpx.AsyncClient`), against a bare
  Starlette endpoint on the same stack (uvicorn, a subprocess started the
  same way) that answers a body of the same size and does nothing else. The
  ratio ours/bare is what Decision Gate adds to a call (parsing, auth,
  limits, schema validation, the engine, audit, metrics) on top of HTTP.
  `scenario_next` is called as a loopback client calls it by default (trace
  feedback), on runs of RUN_LENGTH triggers each so every client row sees
  the same mix; the growth row checks on one long run that a call's cost
  does not grow with the run (1.08x at trigger ~500 vs ~20 when measured).
- memory: the server's VmRSS after 10,000 and after 100,000 calls (target:
  within 1.1x). The calls alternate `scenario_status` and a repeated
  `scenario_next` (an idempotent replay). Every call is recorded in its
  run's log, as the reference records it for the runpack (about 0.7 KiB a
  call), so this server keeps its runs in SQLite: with the memory store the
  RSS would grow by design with the runs it holds; here growth would be the
  server's own.

Both servers run as subprocesses with their audit and auth lines going to
/dev/null, so the client's CPU and allocations never count as the server's;
on two cores the client and the server get one each. Where the client is
what saturates (the bare endpoint at 32 connections: httpx's pool costs more
than the endpoint), both figures converge on the client's limit and the ratio
understates our cost; the 1-client rows are the cleanest comparison.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import httpx

CONCURRENCY: Final = (1, 8, 32)
CALLS_PER_RUN: Final = 1000
WARMUP_CALLS: Final = 100
RUN_LENGTH: Final = 50
GROWTH_RUN: Final = 500
MEMORY_FIRST: Final = 10_000
MEMORY_TOTAL: Final = 100_000
MEMORY_CLIENTS: Final = 16
SCENARIO_ID: Final = "bench-server"
TOOLS: Final = ("scenario_status", "scenario_next")
CONFIG: Final = """
[server]
transport = "http"
bind = "127.0.0.1:0"

[namespace]
allow_default = true
default_tenants = [1]

[[providers]]
name = "time"
type = "builtin"
"""
SQLITE_STORE: Final = """
[run_state_store]
type = "sqlite"
path = "{path}"
sync_mode = "normal"
"""
SPEC: Final[dict[str, Any]] = {
    "scenario_id": SCENARIO_ID,
    "namespace_id": 1,
    "spec_version": "1",
    "default_tenant_id": 1,
    "policies": [],
    "schemas": [],
    "conditions": [
        {
            "condition_id": "after",
            "query": {"provider_id": "time", "check_id": "after", "params": {"timestamp": 0}},
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
        },
        {
            "condition_id": "never",
            "query": {"provider_id": "time", "check_id": "before", "params": {"timestamp": 0}},
            "comparator": "equals",
            "expected": True,
            "policy_tags": [],
        },
    ],
    "stages": [
        {
            "stage_id": "wait",
            "entry_packets": [],
            "gates": [
                {"gate_id": "ready", "requirement": {"Condition": "after"}},
                {"gate_id": "held", "requirement": {"Condition": "never"}},
            ],
            "advance_to": {"kind": "terminal"},
            "timeout": None,
            "on_timeout": "fail",
        }
    ],
}


# ---------------------------------------------------------------------- the servers


def _serve(kind: str, arguments: list[str]) -> None:
    """Child process: serve `kind` on a port printed on stdout.

    "ours" keeps runs in memory; "ours-sqlite PATH" in a SQLite file; "bare
    SIZE..." answers each tool's route with SIZE bytes.
    """
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if kind.startswith("ours"):
        from decision_gate.config import parse_config
        from decision_gate.server import create_app

        config = CONFIG if kind == "ours" else CONFIG + SQLITE_STORE.format(path=arguments[0])
        app = create_app(parse_config(config))
    else:
        sizes = [int(size) for size in arguments]
        bodies = {tool: b"x" * size for tool, size in zip(TOOLS, sizes, strict=True)}

        def answer(tool: str) -> Any:
            async def endpoint(request: Request) -> Response:
                await request.body()
                return Response(bodies[tool], media_type="application/json")

            return endpoint

        app = Starlette(
            routes=[Route(f"/{tool}", answer(tool), methods=["POST"]) for tool in TOOLS]
        )
    # Bound by uvicorn itself: a socket handed over with `sockets=` loses TCP_NODELAY,
    # and every response then waits out the client's delayed ACK (~40 ms).
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
        )
    )

    async def serve_and_announce() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        await serving

    asyncio.run(serve_and_announce())


class ServerProcess:
    """A server subprocess: its base URL and its resident memory."""

    def __init__(self, kind: str, *arguments: object) -> None:
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server_rpc", kind, *map(str, arguments)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        announced = self.process.stdout.readline().strip()
        if not announced.isdigit():
            self.stop()
            raise RuntimeError(f"the {kind} server did not start")
        self.base_url = f"http://127.0.0.1:{announced}"

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        return int(line.split()[1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------- the calls


class Calls:
    """One client's JSON-RPC bodies: status polls and nexts over its own runs.

    A fresh `scenario_next` is a new trigger on the current run; after
    RUN_LENGTH of them the client moves to its next run. A replayed one
    repeats the run's last trigger id, which the server answers from the
    stored decision without evaluating again.
    """

    def __init__(self, name: str, runs: int, run_length: int = 0) -> None:
        self.run_ids = [f"{name}-{n}" for n in range(runs)]
        self.run_length = run_length or (1 << 62)
        self._ids = iter(range(1, 1 << 62))
        self._run = 0
        self._step = 0

    def body(self, tool: str, *, replay: bool = False) -> bytes:
        if tool == "scenario_next" and not replay:
            if self._step == self.run_length:
                self._run, self._step = self._run + 1, 0
            self._step += 1
        run_id = self.run_ids[self._run]
        request: dict[str, Any] = {"tenant_id": 1, "namespace_id": 1, "run_id": run_id}
        if tool == "scenario_status":
            request |= {"correlation_id": None, "requested_at": {"kind": "logical", "value": 1}}
        else:
            step = max(self._step, 1)
            request |= {
                "agent_id": "bench-agent",
                "correlation_id": None,
                "time": {"kind": "logical", "value": 1 + step},
                "trigger_id": f"next-{step}",
            }
        arguments = {"scenario_id": SCENARIO_ID, "request": request}
        envelope = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        return json.dumps(envelope, separators=(",", ":")).encode()


def _client(concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        limits=limits, timeout=60, headers={"content-type": "application/json"}
    )


async def _call(client: httpx.AsyncClient, url: str, body: bytes, tool: str) -> None:
    response = await client.post(url, content=body)
    # A JSON-RPC error names "error" before "result" could start.
    if response.status_code != 200 or b'"error"' in response.content[:64]:
        raise RuntimeError(f"{tool}: HTTP {response.status_code} {response.text[:300]}")


async def _prepare(base_url: str, clients: list[Calls]) -> dict[str, int]:
    """Define the scenario and start every client's runs; the reply size of each tool."""
    url = f"{base_url}/rpc"
    async with _client(1) as client:

        async def call(name: str, arguments: dict[str, Any]) -> None:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
            body["params"] = {"name": name, "arguments": arguments}
            await _call(client, url, json.dumps(body).encode(), name)

        await call("scenario_define", {"spec": SPEC})
        for run_id in [run_id for calls in clients for run_id in calls.run_ids]:
            run_config = {
                "tenant_id": 1,
                "namespace_id": 1,
                "run_id": run_id,
                "scenario_id": SCENARIO_ID,
                "dispatch_targets": [],
                "policy_tags": [],
            }
            await call(
                "scenario_start",
                {
                    "scenario_id": SCENARIO_ID,
                    "run_config": run_config,
                    "started_at": {"kind": "logical", "value": 1},
                    "issue_entry_packets": False,
                },
            )
        sizes = {}
        for tool in TOOLS:
            response = await client.post(url, content=clients[0].body(tool, replay=True))
            sizes[tool] = len(response.content)
        return sizes


async def _drive(
    url: str, tool: str, concurrency: int, calls: int, clients: list[Calls]
) -> list[float]:
    """`calls` requests spread over `concurrency` keep-alive connections; their latencies."""
    latencies: list[float] = []
    async with _client(concurrency) as client:

        async def worker(calls_for: Calls, count: int) -> None:
            for _ in range(count):
                body = calls_for.body(tool)
                started = time.perf_counter()
                await _call(client, url, body, tool)
                latencies.append(time.perf_counter() - started)

        share = calls // concurrency
        await asyncio.gather(*(worker(clients[i], share) for i in range(concurrency)))
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _figures(
    url: str, tool: str, concurrency: int, clients: list[Calls]
) -> tuple[float, float, float]:
    """(calls/s, p50 ms, p99 ms) after a warm-up."""
    asyncio.run(_drive(url, tool, concurrency, WARMUP_CALLS, clients))
    started = time.perf_counter()
    latencies = asyncio.run(_drive(url, tool, concurrency, CALLS_PER_RUN, clients))
    rate = len(latencies) / (time.perf_counter() - started)
    return rate, _percentile(latencies, 0.50) * 1000, _percentile(latencies, 0.99) * 1000


def _runs_needed(client_index: int) -> int:
    """Runs client `client_index` needs so that none sees more than RUN_LENGTH triggers."""
    nexts = sum(
        (WARMUP_CALLS + CALLS_PER_RUN) // concurrency
        for concurrency in CONCURRENCY
        if client_index < concurrency
    )
    return nexts // RUN_LENGTH + 1


def _clients() -> list[Calls]:
    return [Calls(f"client{i}", _runs_needed(i), RUN_LENGTH) for i in range(max(CONCURRENCY))]


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x"


def _latency_rows(ours: ServerProcess) -> list[dict[str, object]]:
    clients, bare_clients = _clients(), _clients()
    sizes = asyncio.run(_prepare(ours.base_url, clients))
    bare = ServerProcess("bare", *(sizes[tool] for tool in TOOLS))
    rows: list[dict[str, object]] = []
    try:
        for tool in TOOLS:
            for concurrency in CONCURRENCY:
                our = _figures(f"{ours.base_url}/rpc", tool, concurrency, clients)
                base = _figures(f"{bare.base_url}/{tool}", tool, concurrency, bare_clients)
                label = f"{tool} x{concurrency}"
                rows += [
                    {
                        "name": f"{label} calls/s (ratio bare/ours)",
                        "ours": round(our[0]),
                        "baseline": round(base[0]),
                        "ratio": _ratio(base[0], our[0]),
                    },
                    {
                        "name": f"{label} p50 ms",
                        "ours": round(our[1], 2),
                        "baseline": round(base[1], 2),
                        "ratio": _ratio(our[1], base[1]),
                    },
                    {
                        "name": f"{label} p99 ms",
                        "ours": round(our[2], 2),
                        "baseline": round(base[2], 2),
                        "ratio": _ratio(our[2], base[2]),
                    },
                ]
    finally:
        bare.stop()
    return rows


async def _next_growth(base_url: str) -> tuple[float, float]:
    """Median ms of nexts 10-29 and of the last 20 on one run of GROWTH_RUN triggers."""
    calls = Calls("growth", 1)
    await _prepare(base_url, [calls])
    url = f"{base_url}/rpc"
    costs: list[float] = []
    async with _client(1) as client:
        for _ in range(GROWTH_RUN):
            body = calls.body("scenario_next")
            started = time.perf_counter()
            await _call(client, url, body, "scenario_next")
            costs.append(time.perf_counter() - started)
    early, late = costs[10:30], costs[-20:]
    return statistics.median(early) * 1000, statistics.median(late) * 1000


def _growth_row() -> dict[str, object]:
    ours = ServerProcess("ours")
    try:
        early, late = asyncio.run(_next_growth(ours.base_url))
    finally:
        ours.stop()
    return {
        "name": f"scenario_next ms at trigger ~{GROWTH_RUN} vs ~20 of one run",
        "ours": round(late, 2),
        "baseline": round(early, 2),
        "ratio": _ratio(late, early),
    }


async def _memory_load(base_url: str, calls: int, clients: list[Calls]) -> None:
    """`calls` alternating status polls and replayed nexts over MEMORY_CLIENTS connections."""
    url = f"{base_url}/rpc"
    async with _client(MEMORY_CLIENTS) as client:

        async def worker(calls_for: Calls, count: int) -> None:
            for n in range(count):
                tool = TOOLS[n % 2]
                await _call(client, url, calls_for.body(tool, replay=True), tool)

        share = calls // MEMORY_CLIENTS
        await asyncio.gather(*(worker(clients[i], share) for i in range(MEMORY_CLIENTS)))


def _memory_row(folder: Path) -> dict[str, object]:
    ours = ServerProcess("ours-sqlite", folder / "runs.sqlite3")
    try:
        clients = [Calls(f"memory{i}", 1) for i in range(MEMORY_CLIENTS)]
        asyncio.run(_prepare(ours.base_url, clients))
        asyncio.run(_memory_load(ours.base_url, MEMORY_FIRST, clients))
        first = ours.rss_kib()
        asyncio.run(_memory_load(ours.base_url, MEMORY_TOTAL - MEMORY_FIRST, clients))
        last = ours.rss_kib()
    finally:
        ours.stop()
    return {
        "name": f"VmRSS MiB after {MEMORY_TOTAL:,} calls vs {MEMORY_FIRST:,} (<= 1.1x)",
        "ours": round(last / 1024, 1),
        "baseline": round(first / 1024, 1),
        "ratio": _ratio(last, first),
    }


def run() -> list[dict[str, object]]:
    ours = ServerProcess("ours")
    try:
        rows = _latency_rows(ours)
    finally:
        ours.stop()
    rows.append(_growth_row())
    with tempfile.TemporaryDirectory() as folder:
        rows.append(_memory_row(Path(folder)))
    return rows


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2:])
