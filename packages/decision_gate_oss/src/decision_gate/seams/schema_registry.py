"""The schema registry seam: data shapes (precheck schemas) per tenant and namespace.

Semantics are the reference's (core.md §1.13, T3-T4), kept by every
implementation (the conformance kit pins them down):
- A record is keyed by (tenant, namespace, schema_id, version) and immutable:
  registering an existing key raises `Conflict("schema already registered")`,
  whatever the content.
- The schema's size is its compact JSON byte length; over `max_schema_bytes`
  (default 1 MiB) raises `InvalidInput("schema exceeds size limit")`. With
  `max_entries` set, a tenant+namespace holding that many records refuses
  more with `Conflict("schema registry max entries exceeded")`.
- `list` pages one tenant+namespace sorted by `schema_id`, then `version`, as
  plain strings (`v1 < v10 < v2`). `limit` must be positive
  (`InvalidInput("limit must be greater than zero")`). The cursor is the
  compact JSON `{"schema_id":..,"version":..}` of the last item returned;
  a cursor that does not parse raises `InvalidInput("invalid cursor")`, and
  the next page holds the items strictly after it. `next_token` is null on the
  last page.
- Stored bytes carry their SHA-256; a read whose bytes no longer match raises
  `StoreCorrupt` (fail closed, message names the key, never the content).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonValue, dumps_compact, loads

__all__ = [
    "DEFAULT_MAX_SCHEMA_BYTES",
    "DataShapePage",
    "DataShapeRecord",
    "DataShapeSignature",
    "SchemaRegistryStore",
    "decode_cursor",
    "encode_cursor",
    "schema_size",
]

DEFAULT_MAX_SCHEMA_BYTES: Final = 1024 * 1024


@attrs.frozen
class DataShapeSignature:
    key_id: str
    signature: str
    algorithm: str | None = None


@attrs.frozen
class DataShapeRecord:
    """One registered schema. `created_at` is the wire form of a `Timestamp`
    (`{"kind": "unix_millis", "value": ...}` or logical), kept as given."""

    tenant_id: int
    namespace_id: int
    schema_id: str
    version: str
    schema: JsonValue
    created_at: JsonValue
    description: str | None = None
    signing: DataShapeSignature | None = None

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {
            "tenant_id": self.tenant_id,
            "namespace_id": self.namespace_id,
            "schema_id": self.schema_id,
            "version": self.version,
            "schema": self.schema,
            "description": self.description,
            "created_at": self.created_at,
        }
        if self.signing is not None:
            signing: dict[str, JsonValue] = {
                "key_id": self.signing.key_id,
                "signature": self.signing.signature,
            }
            if self.signing.algorithm is not None:
                signing["algorithm"] = self.signing.algorithm
            out["signing"] = signing
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DataShapeRecord:
        signing = value.get("signing")
        return cls(
            tenant_id=value["tenant_id"],
            namespace_id=value["namespace_id"],
            schema_id=value["schema_id"],
            version=value["version"],
            schema=value["schema"],
            created_at=value["created_at"],
            description=value.get("description"),
            signing=None
            if signing is None
            else DataShapeSignature(
                key_id=signing["key_id"],
                signature=signing["signature"],
                algorithm=signing.get("algorithm"),
            ),
        )


@attrs.frozen
class DataShapePage:
    items: tuple[DataShapeRecord, ...]
    next_token: str | None


def schema_size(schema: JsonValue) -> int:
    """The size the limits apply to: compact JSON bytes."""
    return len(dumps_compact(schema).encode("utf-8"))


def encode_cursor(record: DataShapeRecord) -> str:
    return dumps_compact({"schema_id": record.schema_id, "version": record.version})


def decode_cursor(cursor: str) -> tuple[str, str]:
    """`(schema_id, version)` of a cursor, or `InvalidInput("invalid cursor")`."""
    try:
        value = loads(cursor)
    except InvalidInput:
        raise InvalidInput("invalid cursor") from None
    if not isinstance(value, dict):
        raise InvalidInput("invalid cursor")
    schema_id, version = value.get("schema_id"), value.get("version")
    if not isinstance(schema_id, str) or not isinstance(version, str):
        raise InvalidInput("invalid cursor")
    return schema_id, version


def check_limit(limit: int) -> None:
    if limit <= 0:
        raise InvalidInput("limit must be greater than zero")


@runtime_checkable
class SchemaRegistryStore(Protocol):
    async def register(self, record: DataShapeRecord) -> None:
        """Store `record` under its key, all or nothing (see the module rules)."""
        ...

    async def get(
        self, tenant_id: int, namespace_id: int, schema_id: str, version: str
    ) -> DataShapeRecord | None:
        """The record under that key (hash re-checked), or None."""
        ...

    async def list(
        self, tenant_id: int, namespace_id: int, cursor: str | None, limit: int
    ) -> DataShapePage:
        """One page of a tenant+namespace's records, in plain string order."""
        ...

    async def readiness(self) -> None:
        """Return when the registry can serve; raise `StoreError` otherwise."""
        ...

    async def close(self) -> None:
        """Release resources; idempotent."""
        ...
