"""TLS and mTLS through uvicorn's SSL options, as `decision-gate serve` sets them from [server.tls].

Certificates are made for the test: a CA, a server certificate for 127.0.0.1
and a client certificate, both signed by the CA, plus a client certificate
from an unrelated CA. With `client_ca_path` and `require_client_cert`, a
client without a certificate the CA signed never gets an HTTP exchange.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from server_harness import run_server, server_config

from decision_gate.config import parse_config
from decision_gate.server.launch import uvicorn_options
from decision_gate.server.peer_certificate import subject_text

Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, issuer: Issued | None, *, ca: bool = False, server: bool = False
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256()), key


def _write(issued: Issued, folder: Path, stem: str) -> tuple[str, str]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(issued[0].public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        issued[1].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, tuple[str, str]]:
    ca = _certificate("test-ca", None, ca=True)
    rogue_ca = _certificate("rogue-ca", None, ca=True)
    return {
        "ca": _write(ca, tmp_path, "ca"),
        "server": _write(_certificate("server", ca, server=True), tmp_path, "server"),
        "client": _write(_certificate("agent", ca), tmp_path, "client"),
        "rogue": _write(_certificate("rogue", rogue_ca), tmp_path, "rogue"),
    }


def tls_config(tmp_path: Path, pki: dict[str, tuple[str, str]], *, client_ca: bool) -> str:
    (tmp_path / "evidence").mkdir(exist_ok=True)
    cert, key = pki["server"]
    tls = f'[server.tls]\ncert_path = "{cert}"\nkey_path = "{key}"\n'
    if client_ca:
        tls += f'client_ca_path = "{pki["ca"][0]}"\nrequire_client_cert = true\n'
    return server_config(str(tmp_path / "evidence"), tls)


def serving_options(config_text: str) -> dict[str, object]:
    options = uvicorn_options(parse_config(config_text))
    del options["host"], options["port"]
    return options


def client_context(pki: dict[str, tuple[str, str]], identity: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki["ca"][0])
    if identity is not None:
        context.load_cert_chain(*pki[identity])
    return context


def test_the_server_speaks_https_with_the_configured_certificate(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = tls_config(tmp_path, pki, client_ca=False)
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, None)},
    ) as server:
        response = server.rpc("tools/list")

    assert server.base_url.startswith("https://")
    assert response.status_code == 200


def test_mtls_accepts_a_client_certificate_signed_by_the_client_ca(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = tls_config(tmp_path, pki, client_ca=True)
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, "client")},
    ) as server:
        response = server.call_raw("providers_list", {})

    assert response.status_code == 200


@pytest.mark.parametrize("identity", [None, "rogue"], ids=["no-certificate", "foreign-ca"])
def test_mtls_refuses_other_clients_during_the_handshake(
    tmp_path: Path, pki: dict[str, tuple[str, str]], identity: str | None
) -> None:
    config = tls_config(tmp_path, pki, client_ca=True)
    with (
        run_server(
            config,
            uvicorn_options=serving_options(config),
            client_options={"verify": client_context(pki, identity)},
        ) as server,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        server.rpc("tools/list")


def test_serve_maps_the_tls_table_onto_uvicorn_options(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    options = uvicorn_options(parse_config(tls_config(tmp_path, pki, client_ca=True)))

    assert options["ssl_certfile"] == pki["server"][0]
    assert options["ssl_ca_certs"] == pki["ca"][0]
    assert options["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def mtls_subject_config(tmp_path: Path, pki: dict[str, tuple[str, str]], subject: str) -> str:
    auth = f'[server.auth]\nmode = "mtls"\nmtls_subjects = ["{subject}"]\n'
    return tls_config(tmp_path, pki, client_ca=True) + auth


def test_the_verified_certificate_subject_is_the_mtls_principal(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = mtls_subject_config(tmp_path, pki, "CN=agent")
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, "client")},
    ) as server:
        response = server.call_raw("providers_list", {})

    assert response.status_code == 200


def test_under_in_process_mtls_the_subject_header_cannot_override_the_certificate(
    tmp_path: Path, pki: dict[str, tuple[str, str]]
) -> None:
    config = mtls_subject_config(tmp_path, pki, "CN=admin")
    with run_server(
        config,
        uvicorn_options=serving_options(config),
        client_options={"verify": client_context(pki, "client")},
    ) as server:
        response = server.call_raw(
            "providers_list", {}, headers={"x-decision-gate-client-subject": "CN=admin"}
        )

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "unauthorized"


def test_the_subject_text_is_most_specific_first_with_escaped_commas() -> None:
    subject = ((("organizationName", "Example, Inc"),), (("commonName", "agent"),))

    assert subject_text({"subject": subject}) == "CN=agent,O=Example\\, Inc"
