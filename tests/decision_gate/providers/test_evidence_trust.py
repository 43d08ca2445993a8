"""Trust policies: which key files load, how config names a policy, and what a
signature must cover (the hash of the value, JSON or bytes)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from decision_gate.core.canonical import HashDigest, canonical_json_bytes
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import BytesEvidence, JsonEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.model import EvidenceResult, EvidenceSignature
from decision_gate.providers.evidence_trust import (
    AuditTrust,
    SignatureRequired,
    load_public_key,
    trust_from_config,
)
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

KEY = nacl.signing.SigningKey(bytes(range(32)))


def signed(value: JsonEvidence | BytesEvidence, digest: HashDigest) -> EvidenceResult:
    signature = KEY.sign(canonical_json_bytes(digest.to_json())).signature
    return EvidenceResult(
        value=value, signature=EvidenceSignature(scheme="ed25519", key_id="k", signature=signature)
    )


def key_file(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "key.pub"
    path.write_bytes(content)
    return str(path)


def test_raw_and_base64_key_files_load_to_the_same_key(tmp_path: Path) -> None:
    raw = bytes(KEY.verify_key)
    assert load_public_key(key_file(tmp_path, raw)) == raw
    assert load_public_key(key_file(tmp_path, base64.b64encode(raw) + b"\n")) == raw


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not base64 at all!", "invalid base64 public key"),
        (base64.b64encode(b"too short"), "invalid ed25519 public key"),
        (b"\xff\xfe" * 40, "public key must be utf-8"),
        (bytes([1]) + bytes(31), "invalid ed25519 public key"),  # the identity: small order
    ],
)
def test_bad_key_files_are_refused_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = key_file(tmp_path, content)
    with pytest.raises(InvalidInput) as caught:
        load_public_key(path)
    assert str(caught.value) == f"{message}: {path}"


def test_an_unreadable_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unable to read public key"):
        load_public_key(str(tmp_path / "absent.pub"))


def test_config_names_audit_or_required_signatures(tmp_path: Path) -> None:
    path = key_file(tmp_path, bytes(KEY.verify_key))
    assert trust_from_config("audit") == AuditTrust()
    required = trust_from_config({"require_signature": {"keys": [path]}})
    assert required == SignatureRequired({path: bytes(KEY.verify_key)})


@pytest.mark.parametrize(
    "policy",
    [
        "strict",
        {"require_signature": {"keys": "one.pub"}},
        {"require_signature": {"keys": [""]}},
        {"require_signature": {}},
        {"require_signature": {"keys": []}, "extra": 1},
        None,
    ],
)
def test_other_config_forms_are_refused(policy: Any) -> None:
    with pytest.raises(InvalidInput, match="trust policy must be"):
        trust_from_config(policy)


def test_the_repr_names_key_ids_not_key_bytes() -> None:
    policy = SignatureRequired({"k": bytes(KEY.verify_key)})
    assert repr(policy) == "SignatureRequired(keys=['k'])"


def test_a_json_value_is_signed_through_the_hash_of_its_canonical_json() -> None:
    value: JsonValue = {"b": 1, "a": [True, None]}
    digest = HashDigest(value=hashlib.sha256(canonical_json_bytes(value)).hexdigest())
    admitted = SignatureRequired({"k": bytes(KEY.verify_key)}).admit(
        signed(JsonEvidence(value), digest)
    )
    assert admitted.evidence_hash == digest


def test_a_bytes_value_is_signed_through_the_hash_of_its_raw_bytes() -> None:
    digest = HashDigest(value=hashlib.sha256(b"\x00\x01").hexdigest())
    admitted = SignatureRequired({"k": bytes(KEY.verify_key)}).admit(
        signed(BytesEvidence(b"\x00\x01"), digest)
    )
    assert admitted.evidence_hash == digest


def test_a_signature_over_another_value_fails() -> None:
    digest = HashDigest(value=hashlib.sha256(canonical_json_bytes("other")).hexdigest())
    with pytest.raises(EvidenceProviderFailure) as caught:
        SignatureRequired({"k": bytes(KEY.verify_key)}).admit(signed(JsonEvidence("mine"), digest))
    assert str(caught.value) == "signature verification failed"


def test_a_signed_result_without_a_value_fails() -> None:
    digest = HashDigest(value=hashlib.sha256(b"").hexdigest())
    result = signed(JsonEvidence(None), digest)
    with pytest.raises(EvidenceProviderFailure) as caught:
        SignatureRequired({"k": bytes(KEY.verify_key)}).admit(
            EvidenceResult(value=None, signature=result.signature)
        )
    assert str(caught.value) == "missing evidence hash for signature verification"
