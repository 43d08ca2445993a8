"""Signed checkpoints: a chain head that can be published outside the log.

A checkpoint states "record `seq` of log `log_id` has hash `head`", signed with
Ed25519. Published somewhere the log's operator cannot rewrite (a WORM bucket,
a second party), it turns a consistent rewrite of the chain's tail — which the
chain alone cannot reveal — into a detectable mismatch. A *truncation*
checkpoint is the same statement about the last record retention removed: the
surviving chain starts from it.

Invariants: the signature covers the blake3 derive-key digest (context
"platform_core auditlog v1 checkpoint") of a length-prefixed frame of every
field, so no field can be changed or moved to another log without breaking it.
Key material never appears in a repr or an error message.
"""

from __future__ import annotations

import base64
import enum
import struct
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from platform_core.auditlog.chain import (
    ChainTip,
    hex32,
    parse_rfc3339,
    rfc3339,
    to_micros,
)
from platform_core.errors import IntegrityError, InvalidInput

__all__ = [
    "CHECKPOINT_CONTEXT",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointSigner",
    "CheckpointVerifier",
    "key_id_of",
]

CHECKPOINT_CONTEXT = "platform_core auditlog v1 checkpoint"
KEY_ID_CONTEXT = "platform_core auditlog v1 key id"


class CheckpointKind(enum.Enum):
    PERIODIC = "checkpoint"
    TRUNCATION = "truncation"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return str(blake3.blake3(raw, derive_key_context=KEY_ID_CONTEXT).hexdigest()[:16])


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@attrs.frozen
class Checkpoint:
    log_id: str
    kind: CheckpointKind
    seq: int
    head: bytes
    issued_at: datetime
    key_id: str
    signature: bytes = attrs.field(repr=lambda sig: f"<{len(sig)} bytes>")

    @property
    def tip(self) -> ChainTip:
        return ChainTip(self.seq, self.head)

    @staticmethod
    def digest_of(
        log_id: str, kind: CheckpointKind, seq: int, head: bytes, issued_at: datetime
    ) -> bytes:
        frame = (
            _field(log_id.encode("utf-8"))
            + _field(kind.value.encode("ascii"))
            + struct.pack(">Q", seq)
            + _field(head)
            + struct.pack(">q", to_micros(issued_at))
        )
        return blake3.blake3(frame, derive_key_context=CHECKPOINT_CONTEXT).digest()

    def digest(self) -> bytes:
        return self.digest_of(self.log_id, self.kind, self.seq, self.head, self.issued_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "kind": self.kind.value,
            "seq": self.seq,
            "head": self.head.hex(),
            "issued_at": rfc3339(self.issued_at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, body: object) -> Checkpoint:
        if not isinstance(body, Mapping):
            raise InvalidInput("checkpoint must be a JSON object")
        try:
            kind = CheckpointKind(body.get("kind"))
        except ValueError:
            raise InvalidInput("checkpoint kind must be 'checkpoint' or 'truncation'") from None
        seq = body.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise InvalidInput("checkpoint seq must be a non-negative integer")
        log_id, key_id, signature = body.get("log_id"), body.get("key_id"), body.get("signature")
        if not isinstance(log_id, str) or not isinstance(key_id, str):
            raise InvalidInput("checkpoint log_id and key_id must be strings")
        if not isinstance(signature, str):
            raise InvalidInput("checkpoint signature must be base64 text")
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except ValueError:
            raise InvalidInput("checkpoint signature must be base64 text") from None
        return cls(
            log_id=log_id,
            kind=kind,
            seq=seq,
            head=hex32(body.get("head"), "checkpoint head"),
            issued_at=parse_rfc3339(body.get("issued_at")),
            key_id=key_id,
            signature=raw_signature,
        )


class CheckpointSigner:
    """Holds the Ed25519 private key that vouches for chain heads."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> CheckpointSigner:
        return cls(Ed25519PrivateKey.generate())

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"

    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier([self.public_key])

    def sign(
        self, log_id: str, kind: CheckpointKind, tip: ChainTip, issued_at: datetime
    ) -> Checkpoint:
        digest = Checkpoint.digest_of(log_id, kind, tip.seq, tip.head, issued_at)
        return Checkpoint(
            log_id, kind, tip.seq, tip.head, issued_at, self.key_id, self._key.sign(digest)
        )


class CheckpointVerifier:
    """The public keys a checkpoint may be signed by (several during rotation)."""

    def __init__(self, public_keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id_of(key): key for key in public_keys}
        if not self._keys:
            raise InvalidInput("a checkpoint verifier needs at least one public key")

    def __repr__(self) -> str:
        return f"CheckpointVerifier(key_ids={sorted(self._keys)!r})"

    def verify(self, checkpoint: Checkpoint, *, log_id: str) -> None:
        """Raise `IntegrityError` unless `checkpoint` is genuine and for `log_id`."""
        if checkpoint.log_id != log_id:
            raise IntegrityError(
                f"checkpoint at seq {checkpoint.seq} belongs to another log"
            )
        key = self._keys.get(checkpoint.key_id)
        if key is None:
            raise IntegrityError(
                f"checkpoint at seq {checkpoint.seq} is signed by an unknown key"
            )
        try:
            key.verify(checkpoint.signature, checkpoint.digest())
        except InvalidSignature:
            raise IntegrityError(
                f"checkpoint at seq {checkpoint.seq} has an invalid signature"
            ) from None
