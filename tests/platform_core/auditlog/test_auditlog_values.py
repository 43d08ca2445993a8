"""Audit events and checkpoints refuse hostile input with typed errors, hash
the same whatever the key order, and never show key material."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_core.auditlog import (
    AuditEvent,
    ChainTip,
    Checkpoint,
    CheckpointKind,
    CheckpointSigner,
    CheckpointVerifier,
    canonical_json,
)
from platform_core.auditlog.events import MAX_EVENT_BYTES
from platform_core.errors import IntegrityError, InvalidInput

NOW = datetime(2026, 5, 1, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@settings(max_examples=150)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_ignores_key_order_and_round_trips(details: dict[str, Any]) -> None:
    reordered = dict(reversed(list(details.items())))
    assert canonical_json(details) == canonical_json(reordered)
    event = AuditEvent("doc.read", details=details)
    assert AuditEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    "kind", ["", "Doc.read", "doc read", "doc..read", ".doc", "doc.", "doc/read", "x" * 129,
             "doc.read\n"],
)
def test_a_kind_outside_the_dotted_grammar_is_rejected(kind: str) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        AuditEvent(kind)


@pytest.mark.parametrize(
    "details",
    [{"x": float("nan")}, {"x": float("inf")}, {"x": {1, 2}}, {"x": b"bytes"},
     {1: "int key"}, {"x": [{"y": object()}]}, "not a mapping"],
)
def test_details_that_are_not_plain_json_are_rejected(details: Any) -> None:
    with pytest.raises(InvalidInput):
        AuditEvent("doc.read", details=details)


def test_details_larger_than_the_cap_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        AuditEvent("doc.read", details={"blob": "x" * MAX_EVENT_BYTES})


@pytest.mark.parametrize(
    "field", [{"actor": "alice\nFAKE LINE"}, {"tenant": ""}, {"tenant": "t" * 300},
              {"correlation_id": "a\x1bb"}, {"source_ip": "999.1.1.1"},
              {"source_ip": "localhost"}],
)
def test_hostile_text_fields_are_rejected(field: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        AuditEvent("doc.read", **field)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [None, [], {"kind": "doc.read", "extra": 1}, {"kind": "doc.read", "action": "explode"},
     {"kind": 5}, {"kind": "doc.read", "details": []}],
)
def test_a_malformed_wire_event_is_rejected(body: Any) -> None:
    with pytest.raises(InvalidInput):
        AuditEvent.from_json(body)


def test_a_signed_checkpoint_verifies_and_names_its_key() -> None:
    signer = CheckpointSigner.generate()
    checkpoint = signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(3, b"\x01" * 32), NOW)
    signer.verifier().verify(checkpoint, log_id="audit")
    assert checkpoint.key_id == signer.key_id


@pytest.mark.parametrize(
    "change",
    [{"seq": 4}, {"head": b"\x02" * 32}, {"issued_at": NOW.replace(second=1)},
     {"kind": CheckpointKind.TRUNCATION}, {"signature": b"\x00" * 64}],
)
def test_changing_any_field_of_a_checkpoint_breaks_its_signature(change: dict[str, Any]) -> None:
    signer = CheckpointSigner.generate()
    checkpoint = signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(3, b"\x01" * 32), NOW)
    with pytest.raises(IntegrityError, match="invalid signature"):
        signer.verifier().verify(attrs.evolve(checkpoint, **change), log_id="audit")


def test_a_checkpoint_of_another_log_is_refused() -> None:
    signer = CheckpointSigner.generate()
    checkpoint = signer.sign("billing", CheckpointKind.PERIODIC, ChainTip(1, b"\x01" * 32), NOW)
    with pytest.raises(IntegrityError, match="another log"):
        signer.verifier().verify(checkpoint, log_id="audit")


def test_a_verifier_accepts_any_of_its_rotated_keys() -> None:
    old, new = CheckpointSigner.generate(), CheckpointSigner.generate()
    verifier = CheckpointVerifier([old.public_key, new.public_key])
    for signer in (old, new):
        verifier.verify(
            signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(1, b"\x01" * 32), NOW),
            log_id="audit",
        )


def test_a_verifier_without_keys_is_refused() -> None:
    with pytest.raises(InvalidInput):
        CheckpointVerifier([])


def test_no_repr_shows_key_material_or_raw_signatures() -> None:
    signer = CheckpointSigner.generate()
    checkpoint = signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(1, b"\x01" * 32), NOW)
    assert repr(signer) == f"CheckpointSigner(key_id={signer.key_id!r})"
    assert "64 bytes" in repr(checkpoint)
    assert repr(checkpoint.signature) not in repr(checkpoint)


@pytest.mark.parametrize(
    "change",
    [{"kind": "weekly"}, {"seq": -1}, {"seq": True}, {"head": "zz" * 32}, {"head": "00"},
     {"signature": "not base64!"}, {"issued_at": "2026-05-01"}, {"log_id": 7}],
)
def test_a_malformed_published_checkpoint_is_a_typed_error(change: dict[str, Any]) -> None:
    signer = CheckpointSigner.generate()
    body = signer.sign("audit", CheckpointKind.PERIODIC, ChainTip(1, b"\x01" * 32), NOW).to_json()
    with pytest.raises(InvalidInput):
        Checkpoint.from_json({**body, **change})
