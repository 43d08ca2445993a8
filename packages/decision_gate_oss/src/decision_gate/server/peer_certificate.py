"""The verified client certificate's subject, carried from the TLS layer into requests.

With `[server.tls] client_ca_path`, the TLS handshake has already verified
the client's certificate against the CA; its subject is then the caller's
mTLS identity. uvicorn does not put TLS details in the ASGI scope, so this
protocol subclass reads the peer certificate once per connection and adds
its subject (RFC 4514 order and short names, `CN=agent,O=Example`) to the
per-request `scope["state"]`. When TLS is terminated in this process, the
`x-decision-gate-client-subject` header is the client's own claim and is
ignored in favour of the certificate; only behind a TLS-terminating proxy
(`tls_termination = "upstream"`) is the header trusted, as in the reference.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from uvicorn.protocols.http.h11_impl import H11Protocol

STATE_KEY: Final = "decision_gate.tls_client_subject"
_SHORT_NAMES: Final = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "domainComponent": "DC",
    "userId": "UID",
    "emailAddress": "emailAddress",
}


def subject_text(certificate: dict[str, Any]) -> str | None:
    """`CN=...,O=...` from `ssl.SSLSocket.getpeercert()`'s subject (most specific first)."""
    rdns = certificate.get("subject") or ()
    parts = []
    for rdn in reversed(rdns):
        for name, value in rdn:
            key = _SHORT_NAMES.get(name, name)
            escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace("+", "\\+")
            parts.append(f"{key}={escaped}")
    return ",".join(parts) or None


class PeerCertificateH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the verified client certificate's subject."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        ssl_object = transport.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert() if ssl_object is not None else None
        subject = subject_text(certificate) if certificate else None
        if subject is not None:
            self.app_state = {**self.app_state, STATE_KEY: subject}
