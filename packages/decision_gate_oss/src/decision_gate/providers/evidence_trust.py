"""Trust policies for evidence from external providers: `audit` or `require_signature`.

Under `require_signature` a result counts only if it carries an ed25519
signature, by a key the operator listed, over the canonical JSON of the
evidence's hash digest, and that digest is the one the value really hashes to
(sha256 of its canonical JSON, or of its raw bytes). Each failure is an
`EvidenceProviderFailure` with the reference's fixed message, so the
condition is held as Unknown, never passed.

Keys are named by the path string they were configured with (the signature's
`key_id` must equal it) and loaded once, at startup: a key file holds the 32
raw bytes of the public key or their base64 text. Verification is libsodium's,
which, like the reference's `verify_strict`, refuses small-order keys and
nonces and non-canonical scalars: a forged "identity" signature that plain
RFC 8032 verification accepts is refused here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

import attrs
import nacl.bindings
import nacl.exceptions
import nacl.signing

from decision_gate.core.canonical import (
    CanonicalizationError,
    HashDigest,
    canonical_json_bytes,
    hash_bytes,
)
from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import BytesEvidence, EvidenceValue
from decision_gate.core.model import EvidenceResult
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

ED25519: Final = "ed25519"
MAX_KEY_FILE_BYTES: Final = 4096


class EvidenceTrust(Protocol):
    def admit(self, result: EvidenceResult) -> EvidenceResult:
        """`result` (perhaps with its evidence hash filled in) if it may be used; else raise."""
        ...


@attrs.frozen
class AuditTrust:
    """Results are taken as they come; the run records them, nothing is checked."""

    def admit(self, result: EvidenceResult) -> EvidenceResult:
        return result


@attrs.frozen
class SignatureRequired:
    """Results must be signed by one of `keys` (key id -> ed25519 public key bytes)."""

    keys: Mapping[str, bytes] = attrs.field(repr=lambda keys: repr(sorted(keys)))

    @classmethod
    def from_key_files(cls, paths: Iterable[str]) -> SignatureRequired:
        return cls({path: load_public_key(path) for path in paths})

    def admit(self, result: EvidenceResult) -> EvidenceResult:
        signature = result.signature
        if signature is None:
            raise EvidenceProviderFailure("missing evidence signature")
        if signature.scheme != ED25519:
            raise EvidenceProviderFailure("unsupported signature scheme")
        key = self.keys.get(signature.key_id)
        if key is None:
            raise EvidenceProviderFailure("signature key not authorized")
        digest = _checked_hash(result)
        if len(signature.signature) != nacl.bindings.crypto_sign_BYTES:
            raise EvidenceProviderFailure("invalid signature bytes")
        message = canonical_json_bytes(digest.to_json())
        try:
            nacl.signing.VerifyKey(key).verify(message, signature.signature)
        except nacl.exceptions.BadSignatureError:
            raise EvidenceProviderFailure("signature verification failed") from None
        return attrs.evolve(result, evidence_hash=digest)


def trust_from_config(policy: Any) -> AuditTrust | SignatureRequired:
    """A trust policy from its config form: `"audit"` or `{require_signature = {keys = [...]}}`."""
    if policy == "audit":
        return AuditTrust()
    if isinstance(policy, Mapping) and set(policy) == {"require_signature"}:
        required = policy["require_signature"]
        if isinstance(required, Mapping) and set(required) == {"keys"}:
            keys = required["keys"]
            if isinstance(keys, list | tuple) and all(isinstance(key, str) and key for key in keys):
                return SignatureRequired.from_key_files(keys)
    raise InvalidInput(
        'trust policy must be "audit" or {require_signature = {keys = ["<public key path>", ...]}}'
    )


def load_public_key(path: str) -> bytes:
    """The ed25519 public key in the file at `path` (32 raw bytes or their base64 text)."""
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError:
        raise InvalidInput(f"unable to read public key: {path}") from None
    if len(content) == nacl.bindings.crypto_sign_PUBLICKEYBYTES:
        key = content
    else:
        try:
            key = base64.b64decode(content.decode("utf-8").strip(), validate=True)
        except UnicodeDecodeError:
            raise InvalidInput(f"public key must be utf-8: {path}") from None
        except binascii.Error:
            raise InvalidInput(f"invalid base64 public key: {path}") from None
    if len(key) != nacl.bindings.crypto_sign_PUBLICKEYBYTES or not (
        nacl.bindings.crypto_core_ed25519_is_valid_point(key)
    ):
        raise InvalidInput(f"invalid ed25519 public key: {path}")
    return key


def _checked_hash(result: EvidenceResult) -> HashDigest:
    if result.value is None:
        raise EvidenceProviderFailure("missing evidence hash for signature verification")
    computed = _hash_of(result.value)
    if result.evidence_hash is not None and result.evidence_hash != computed:
        raise EvidenceProviderFailure("evidence hash mismatch")
    return computed


def _hash_of(value: EvidenceValue) -> HashDigest:
    if isinstance(value, BytesEvidence):
        return hash_bytes(value.value)
    try:
        return hash_bytes(canonical_json_bytes(value.value))
    except CanonicalizationError:
        raise EvidenceProviderFailure("hashing failed") from None
