"""Exports a SIEM or an auditor can take away: JSONL with a manifest, and OCSF.

The JSONL export holds one record per line in canonical JSON, exactly as the
chain hashed it, so the file can be re-verified anywhere with
`verify_jsonl_export`. Its manifest names the record range, the hash the first
record links to, the chain head, the SHA-256 and blake3 of the file, and a
checkpoint over the head signed at export time. Records are verified, against
the stored signed checkpoints too, while they are exported: a broken chain is
never exported (and never signed). Files appear whole or not at all (written
beside the target, fsynced, renamed).

OCSF output is API Activity (class_uid 6003, OCSF 1.3.0), one event per line;
fields without an OCSF home go under `unmapped`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs
import blake3

from platform_core.auditlog.chain import (
    AuditRecord,
    ChainBroken,
    ChainTip,
    ChainVerifier,
    VerificationReport,
    hex32,
    record_from_line,
    record_line,
    rfc3339,
)
from platform_core.auditlog.checkpoints import (
    Checkpoint,
    CheckpointKind,
    CheckpointSigner,
    CheckpointVerifier,
)
from platform_core.auditlog.events import Action, Outcome
from platform_core.auditlog.files import atomic_file
from platform_core.auditlog.log import AuditLog
from platform_core.errors import IntegrityError, InvalidInput

__all__ = [
    "MANIFEST_FORMAT",
    "OCSF_VERSION",
    "ExportManifest",
    "OcsfProduct",
    "export_jsonl",
    "export_ocsf",
    "manifest_path_for",
    "to_ocsf",
    "verify_jsonl_export",
]

MANIFEST_FORMAT = "platform_core.auditlog.export/v1"
OCSF_VERSION = "1.3.0"
_OCSF_ACTIVITY = {
    Action.CREATE: (1, "Create"),
    Action.READ: (2, "Read"),
    Action.UPDATE: (3, "Update"),
    Action.DELETE: (4, "Delete"),
    Action.OTHER: (99, "Other"),
}


def manifest_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


@attrs.frozen
class ExportManifest:
    log_id: str
    first_seq: int
    last_seq: int
    record_count: int
    prev_hash: bytes
    chain_head: bytes
    sha256: str
    blake3: str
    exported_at: str
    checkpoint: Checkpoint

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "log_id": self.log_id,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "record_count": self.record_count,
            "prev_hash": self.prev_hash.hex(),
            "chain_head": self.chain_head.hex(),
            "sha256": self.sha256,
            "blake3": self.blake3,
            "exported_at": self.exported_at,
            "checkpoint": self.checkpoint.to_json(),
        }

    @classmethod
    def from_json(cls, body: object) -> ExportManifest:
        if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT:
            raise InvalidInput(f"not a {MANIFEST_FORMAT} manifest")
        try:
            return cls(
                log_id=str(body["log_id"]),
                first_seq=int(body["first_seq"]),
                last_seq=int(body["last_seq"]),
                record_count=int(body["record_count"]),
                prev_hash=hex32(body["prev_hash"], "prev_hash"),
                chain_head=hex32(body["chain_head"], "chain_head"),
                sha256=str(body["sha256"]),
                blake3=str(body["blake3"]),
                exported_at=str(body["exported_at"]),
                checkpoint=Checkpoint.from_json(body["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"manifest field missing or malformed: {error}") from None


async def export_jsonl(
    log: AuditLog,
    path: Path,
    *,
    signer: CheckpointSigner,
    first_seq: int | None = None,
    last_seq: int | None = None,
) -> ExportManifest:
    """Write records [first_seq, last_seq] to `path` and its manifest beside it."""
    verifier = await log.chain_verifier()
    sha256, b3 = hashlib.sha256(), blake3.blake3()
    exported: list[AuditRecord] = []
    with atomic_file(path) as handle:
        async for record in log.records():
            if not verifier.feed(record):
                raise ChainBroken(verifier.report())
            assert isinstance(record, AuditRecord)
            if first_seq is not None and record.seq < first_seq:
                continue
            if last_seq is not None and record.seq > last_seq:
                break
            line = record_line(record)
            handle.write(line)
            sha256.update(line)
            b3.update(line)
            exported.append(record)
        if not exported:
            raise InvalidInput("no records in the requested range")
        first, last = exported[0], exported[-1]
        now = log.now()
        checkpoint = signer.sign(
            log.log_id, CheckpointKind.PERIODIC, ChainTip(last.seq, last.record_hash), now
        )
        manifest = ExportManifest(
            log_id=log.log_id,
            first_seq=first.seq,
            last_seq=last.seq,
            record_count=len(exported),
            prev_hash=first.prev_hash,
            chain_head=last.record_hash,
            sha256=sha256.hexdigest(),
            blake3=b3.hexdigest(),
            exported_at=rfc3339(now),
            checkpoint=checkpoint,
        )
    with atomic_file(manifest_path_for(path)) as handle:
        handle.write(json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode() + b"\n")
    return manifest


def verify_jsonl_export(path: Path, verifier: CheckpointVerifier) -> VerificationReport:
    """Re-verify an export against its manifest and the manifest's signed checkpoint."""
    try:
        manifest = ExportManifest.from_json(json.loads(manifest_path_for(path).read_bytes()))
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot read the export manifest: {type(error).__name__}") from None
    start = ChainTip(manifest.first_seq - 1, manifest.prev_hash)
    try:
        verifier.verify(manifest.checkpoint, log_id=manifest.log_id)
    except IntegrityError as error:
        return VerificationReport(manifest.checkpoint.seq, str(error), 0, start)
    if (manifest.checkpoint.seq, manifest.checkpoint.head) != (
        manifest.last_seq,
        manifest.chain_head,
    ):
        return VerificationReport(
            manifest.last_seq, "manifest head differs from its signed checkpoint", 0, start
        )
    data = path.read_bytes()
    chain = ChainVerifier(start, {manifest.checkpoint.seq: manifest.checkpoint.head})
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        expected = chain.tip.seq + 1
        if expected > manifest.last_seq:
            return VerificationReport(
                expected, "lines beyond the manifest's last record", manifest.record_count,
                chain.tip,
            )
        if not chain.feed(record_from_line(raw, expected)):
            break
    report = chain.report()
    if report.ok and (
        hashlib.sha256(data).hexdigest() != manifest.sha256
        or blake3.blake3(data).hexdigest() != manifest.blake3
    ):
        return VerificationReport(
            manifest.last_seq + 1, "file bytes differ from the manifest digests",
            report.records_checked, report.tip,
        )
    return report


@attrs.frozen
class OcsfProduct:
    name: str
    vendor_name: str
    version: str


def to_ocsf(record: AuditRecord, product: OcsfProduct) -> dict[str, Any]:
    """One record as an OCSF API Activity event."""
    event = record.event
    activity_id, activity_name = _OCSF_ACTIVITY[event.action]
    success = event.outcome is Outcome.SUCCESS
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {
            "name": product.name,
            "vendor_name": product.vendor_name,
            "version": product.version,
        },
        "uid": record.record_hash.hex(),
        "log_name": "audit",
    }
    if event.correlation_id is not None:
        metadata["correlation_uid"] = event.correlation_id
    unmapped: dict[str, Any] = {
        "seq": record.seq,
        "prev_hash": record.prev_hash.hex(),
        "kind": event.kind,
        "details": event.details,
    }
    if event.tenant is not None:
        unmapped["tenant"] = event.tenant
    return {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 6003 * 100 + activity_id,
        "type_name": f"API Activity: {activity_name}",
        "time": record.timestamp_us // 1000,
        "severity_id": 1,
        "severity": "Informational",
        "status_id": 1 if success else 2,
        "status": "Success" if success else "Failure",
        "metadata": metadata,
        "actor": {"user": {"uid": event.actor} if event.actor else {"name": "unknown"}},
        "api": {"operation": event.kind},
        "src_endpoint": {"ip": event.source_ip} if event.source_ip else {"name": "unknown"},
        "unmapped": unmapped,
    }


async def export_ocsf(log: AuditLog, path: Path, product: OcsfProduct) -> int:
    """Write every record, verified, as OCSF JSON lines; returns how many."""
    verifier = await log.chain_verifier()
    count = 0
    with atomic_file(path) as handle:
        async for record in log.records():
            if not verifier.feed(record):
                raise ChainBroken(verifier.report())
            assert isinstance(record, AuditRecord)
            handle.write(json.dumps(to_ocsf(record, product), sort_keys=True).encode() + b"\n")
            count += 1
    return count
