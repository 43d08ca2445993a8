"""Starting a configured server the way `decision-gate serve` does.

The bind policy (server.md §6) is checked before anything listens: a
loopback bind always passes; a non-loopback one needs the operator's
explicit opt-in (`--allow-non-loopback` or `DECISION_GATE_ALLOW_NON_LOOPBACK`),
authentication other than `local_only`, and TLS (in-process, or declared
terminated upstream); mTLS served in-process also needs a client CA and
required client certificates. An exposed server prints a security banner,
and dev-permissive mode a warning, on stderr. TLS and client-certificate
verification are uvicorn's (the standard library's `ssl`): a client without
a certificate the CA signed is refused during the handshake.

The server (seams, stores, providers, docs) is built before uvicorn starts,
so every start-up failure reaches the CLI as a typed error: one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TextIO

from decision_gate.config import is_loopback_bind, parse_bind
from decision_gate.config.model import AuthMode, DecisionGateConfig, TlsTermination, Transport
from decision_gate.core.errors import InvalidInput
from decision_gate.server.peer_certificate import PeerCertificateH11Protocol

if TYPE_CHECKING:
    import uvicorn

ALLOW_NON_LOOPBACK_ENV: Final = "DECISION_GATE_ALLOW_NON_LOOPBACK"
_TRUE: Final = frozenset({"1", "true", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "off"})


class BindRefused(InvalidInput):
    """The config asks for an exposure the bind policy does not allow."""


class ListenFailed(InvalidInput):
    """The configured address cannot be bound, or its TLS files cannot be loaded."""


def allow_non_loopback_from_env(environ: Mapping[str, str]) -> bool:
    raw = environ.get(ALLOW_NON_LOOPBACK_ENV)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(
        f"{ALLOW_NON_LOOPBACK_ENV} must be one of 1/true/yes/y/on or 0/false/no/n/off"
    )


def check_bind_policy(config: DecisionGateConfig, *, allow_non_loopback: bool) -> list[str]:
    """Refuse an exposure the policy forbids; the notices to print for one it allows."""
    server = config.server
    if server.transport is Transport.STDIO or server.bind is None:
        return []
    if is_loopback_bind(server.bind):
        return [f"decision-gate: serving {server.transport.value} on loopback {server.bind}"]
    auth = server.auth_or_default
    if not allow_non_loopback:
        raise BindRefused(
            f"refusing to bind {server.bind}: it is not a loopback address; pass "
            f"--allow-non-loopback (or set {ALLOW_NON_LOOPBACK_ENV}=1) to expose the server"
        )
    if auth.mode is AuthMode.LOCAL_ONLY:
        raise BindRefused(f"refusing to bind {server.bind} with local_only auth")
    if server.tls is None and server.tls_termination is not TlsTermination.UPSTREAM:
        raise BindRefused(
            f"refusing to bind {server.bind} without TLS: configure [server.tls] or set "
            'tls_termination = "upstream"'
        )
    if (
        auth.mode is AuthMode.MTLS
        and server.tls is not None
        and (server.tls.client_ca_path is None or not server.tls.require_client_cert)
    ):
        raise BindRefused("mtls served in-process needs client_ca_path and require_client_cert")
    tls = "in-process" if server.tls is not None else "terminated upstream"
    rate = "on" if server.limits.rate_limit is not None else "off"
    audit = (server.audit.path or "stderr") if server.audit.enabled else "off"
    return [
        "SECURITY WARNING: decision-gate is exposed beyond this machine",
        f"  bind={server.bind} auth={auth.mode.value} tls={tls} audit={audit} rate_limit={rate}",
    ]


def uvicorn_options(config: DecisionGateConfig) -> dict[str, Any]:
    """Host, port and TLS options for uvicorn from `[server]`."""
    server = config.server
    assert server.bind is not None
    host, port = parse_bind(server.bind)
    options: dict[str, Any] = {"host": host, "port": port}
    if server.tls is not None:
        options["ssl_certfile"] = server.tls.cert_path
        options["ssl_keyfile"] = server.tls.key_path
        if server.tls.client_ca_path is not None:
            options["http"] = PeerCertificateH11Protocol
            options["ssl_ca_certs"] = server.tls.client_ca_path
            options["ssl_cert_reqs"] = (
                ssl.CERT_REQUIRED if server.tls.require_client_cert else ssl.CERT_OPTIONAL
            )
    return options


def startup_notices(config: DecisionGateConfig, *, now: float | None = None) -> list[str]:
    """Warnings for operators; the dev-permissive one can be silenced (`permissive_warn`),
    the audit event it mirrors cannot."""
    notices = []
    if config.dev_permissive and config.dev.permissive_warn:
        notices.append(
            "WARNING: dev-permissive mode enabled: asserted evidence satisfies gates; "
            "never use this on shared machines or in production"
        )
        ttl = config.dev.permissive_ttl_days
        age = _config_age_days(config, time.time() if now is None else now)
        if ttl is not None and age is not None and age >= ttl:
            notices.append(
                f"WARNING: dev-permissive has been configured for {int(age)} days, past its "
                f"permissive_ttl_days of {ttl}: turn it off or renew it deliberately"
            )
    if not config.validation.strict:
        notices.append("WARNING: validation.strict=false: comparator type checks are off")
    return notices


def _config_age_days(config: DecisionGateConfig, now: float) -> float | None:
    if config.source is None:
        return None
    try:
        modified = os.stat(config.source).st_mtime
    except OSError:
        return None
    return max(0.0, now - modified) / 86_400


def print_lines(lines: list[str], stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stderr
    for line in lines:
        target.write(line + "\n")
    target.flush()


def serve(config: DecisionGateConfig, *, allow_non_loopback: bool) -> None:
    """Run the server until interrupted (HTTP/SSE with uvicorn, or stdio).

    The notices are printed once the server is built and its address bound,
    so a start-up failure is the only line on stderr."""
    import asyncio

    notices = check_bind_policy(config, allow_non_loopback=allow_non_loopback)
    asyncio.run(_serve(config, notices + startup_notices(config)))


async def _serve(config: DecisionGateConfig, notices: list[str]) -> None:
    """Build the server first, then serve it: a start-up failure (a missing
    plugin, an unreadable provider root or docs path) is raised here, typed,
    for the CLI to print as one line, never logged by uvicorn's lifespan as a
    traceback."""
    from decision_gate.server.app import DecisionGateServer

    server = await DecisionGateServer.start(config)
    try:
        if config.server.transport is Transport.STDIO:
            from decision_gate.server.mcp_standard import serve_stdio_any_framing

            print_lines(notices)
            await serve_stdio_any_framing(server, sys.stdin.buffer, sys.stdout.buffer)
            return
        import uvicorn

        from decision_gate.server.http import create_app

        web_config = uvicorn.Config(
            create_app(config, server=server),
            log_level="warning",
            lifespan="on",
            server_header=False,
            **uvicorn_options(config),
        )
        listener = _listen(config, web_config)
        try:
            print_lines([_with_bound_address(line, config, listener) for line in notices])
            await uvicorn.Server(web_config).serve(sockets=[listener])
        finally:
            listener.close()
    finally:
        await server.close()


def _with_bound_address(line: str, config: DecisionGateConfig, listener: socket.socket) -> str:
    """A notice naming the bind as bound: port 0 becomes the port the system chose."""
    host, port = listener.getsockname()[:2]
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return line.replace(str(config.server.bind), bound)


def _listen(config: DecisionGateConfig, web_config: uvicorn.Config) -> socket.socket:
    """Load the TLS files and bind the address before serving, so that either
    failing is a typed error naming the setting rather than uvicorn's log line."""
    tls = config.server.tls
    try:
        web_config.load()
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        if tls is None:
            raise ListenFailed(f"cannot start the HTTP server: {reason}") from None
        files = ", ".join(
            f"{name} = {path}"
            for name, path in (
                ("cert_path", tls.cert_path),
                ("key_path", tls.key_path),
                ("client_ca_path", tls.client_ca_path),
            )
            if path is not None
        )
        raise ListenFailed(f"[server.tls] cannot be loaded ({files}): {reason}") from None
    family = socket.AF_INET6 if ":" in web_config.host else socket.AF_INET
    try:
        return socket.create_server((web_config.host, web_config.port), family=family)
    except OSError as error:
        raise ListenFailed(
            f"cannot listen on {config.server.bind}: {error.strerror or error}"
        ) from None
