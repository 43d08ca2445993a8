"""Tamper-evident audit log: a blake3 hash chain with signed checkpoints.

Owns the record format, the chain verifier, checkpoint signing, the storage
seam (memory, JSON lines, SQLite, PostgreSQL), retention with legal holds, and exports
(JSONL + manifest, OCSF). Invariant: a log is only opened after its stored
chain verifies, and nothing — retention included — removes or rewrites a
record without leaving signed evidence.
"""

from platform_core.auditlog.chain import (
    GENESIS,
    AuditRecord,
    ChainBroken,
    ChainTip,
    ChainVerifier,
    MalformedRecord,
    VerificationReport,
)
from platform_core.auditlog.checkpoints import (
    Checkpoint,
    CheckpointKind,
    CheckpointSigner,
    CheckpointVerifier,
)
from platform_core.auditlog.events import Action, AuditEvent, Outcome, canonical_json
from platform_core.auditlog.export import (
    ExportManifest,
    OcsfProduct,
    export_jsonl,
    export_ocsf,
    manifest_path_for,
    to_ocsf,
    verify_jsonl_export,
)
from platform_core.auditlog.holds import LegalHold
from platform_core.auditlog.jsonl_store import JsonlAuditStore
from platform_core.auditlog.log import AuditLog, PruneOutcome
from platform_core.auditlog.postgres_store import PostgresAuditStore
from platform_core.auditlog.sqlite_store import SqliteAuditStore
from platform_core.auditlog.store import AuditStore, MemoryAuditStore

__all__ = [
    "GENESIS",
    "Action",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "AuditStore",
    "ChainBroken",
    "ChainTip",
    "ChainVerifier",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointSigner",
    "CheckpointVerifier",
    "ExportManifest",
    "JsonlAuditStore",
    "LegalHold",
    "MalformedRecord",
    "MemoryAuditStore",
    "OcsfProduct",
    "Outcome",
    "PostgresAuditStore",
    "PruneOutcome",
    "SqliteAuditStore",
    "VerificationReport",
    "canonical_json",
    "export_jsonl",
    "export_ocsf",
    "manifest_path_for",
    "to_ocsf",
    "verify_jsonl_export",
]
