"""The in-memory schema registry: records as canonical bytes with their hash.

Records are kept as the canonical JSON of their wire form with its SHA-256,
like the durable stores, so the conformance kit's tamper checks hold here too
and a caller cannot mutate a stored record through a shared object. Lost on
restart; a lock serialises writers.
"""

from __future__ import annotations

import asyncio

from decision_gate.core.canonical import canonical_json_bytes, sha256_hex
from decision_gate.core.errors import Conflict, InvalidInput, StoreCorrupt, StoreError
from decision_gate.core.jsonvalue import loads
from decision_gate.seams.schema_registry import (
    DEFAULT_MAX_SCHEMA_BYTES,
    DataShapePage,
    DataShapeRecord,
    check_limit,
    decode_cursor,
    encode_cursor,
    schema_size,
)

__all__ = ["MemorySchemaRegistry"]

_Key = tuple[int, int, str, str]


class MemorySchemaRegistry:
    def __init__(
        self, *, max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES, max_entries: int | None = None
    ) -> None:
        if max_schema_bytes < 1:
            raise InvalidInput("max_schema_bytes must be positive")
        if max_entries is not None and max_entries < 1:
            raise InvalidInput("max_entries must be positive")
        self._max_bytes = max_schema_bytes
        self._max_entries = max_entries
        self._records: dict[_Key, tuple[bytes, str]] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise StoreError("schema registry is closed")

    async def register(self, record: DataShapeRecord) -> None:
        self._open()
        if schema_size(record.schema) > self._max_bytes:
            raise InvalidInput("schema exceeds size limit")
        data = canonical_json_bytes(record.to_json())
        key = (record.tenant_id, record.namespace_id, record.schema_id, record.version)
        async with self._lock:
            if key in self._records:
                raise Conflict("schema already registered")
            if self._max_entries is not None:
                held = sum(1 for k in self._records if k[:2] == key[:2])
                if held >= self._max_entries:
                    raise Conflict("schema registry max entries exceeded")
            self._records[key] = (data, sha256_hex(data))

    def _decode(self, key: _Key) -> DataShapeRecord:
        data, digest = self._records[key]
        label = "/".join(str(part) for part in key)
        if sha256_hex(data) != digest:
            raise StoreCorrupt(f"schema {label} failed its hash check")
        value = loads(data)
        if not isinstance(value, dict):
            raise StoreCorrupt(f"schema {label} is not a record")
        return DataShapeRecord.from_json(value)

    async def get(
        self, tenant_id: int, namespace_id: int, schema_id: str, version: str
    ) -> DataShapeRecord | None:
        self._open()
        key = (tenant_id, namespace_id, schema_id, version)
        if key not in self._records:
            return None
        return self._decode(key)

    async def list(
        self, tenant_id: int, namespace_id: int, cursor: str | None, limit: int
    ) -> DataShapePage:
        self._open()
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        keys = sorted(
            k
            for k in self._records
            if k[0] == tenant_id and k[1] == namespace_id and (after is None or k[2:] > after)
        )
        items = tuple(self._decode(k) for k in keys[:limit])
        next_token = encode_cursor(items[-1]) if len(keys) > limit else None
        return DataShapePage(items=items, next_token=next_token)

    async def readiness(self) -> None:
        self._open()

    async def close(self) -> None:
        self._closed = True
