"""Conformance suite: the behaviour every `SchemaRegistryStore` must show (core.md §1.13, T3-T4).

Activate it with `from decision_gate.testing.schema_registry import *` next
to a `schema_registry_factory` fixture: a callable
`(max_schema_bytes: int, max_entries: int | None) -> SchemaRegistryStore`
(or an awaitable of one) building a fresh, empty registry with those limits.
The suite closes every registry it builds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from decision_gate.core.errors import Conflict, InvalidInput, StoreError
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.seams.schema_registry import (
    DEFAULT_MAX_SCHEMA_BYTES,
    DataShapeRecord,
    DataShapeSignature,
    SchemaRegistryStore,
    schema_size,
)

__all__ = [
    "make_registry",
    "schema_record",
    "schema_registry",
    "test_a_cursor_that_does_not_parse_is_an_invalid_cursor",
    "test_a_limit_of_zero_is_refused",
    "test_a_record_reads_back_unchanged",
    "test_a_schema_at_the_size_limit_is_accepted",
    "test_a_schema_over_the_size_limit_is_refused",
    "test_an_unknown_key_reads_as_none",
    "test_closed_registry_refuses_calls",
    "test_concurrent_registrations_of_one_key_store_exactly_one",
    "test_listing_is_per_tenant_and_namespace",
    "test_pages_follow_the_cursor_until_next_token_is_null",
    "test_registering_an_existing_key_is_a_conflict_and_keeps_the_first",
    "test_registry_is_ready_when_open",
    "test_registry_satisfies_the_protocol",
    "test_the_max_entries_limit_is_per_tenant_and_namespace",
    "test_versions_sort_as_plain_strings",
]

RegistryFactory = Callable[
    [int, "int | None"], "SchemaRegistryStore | Awaitable[SchemaRegistryStore]"
]


def schema_record(
    schema_id: str = "shape",
    version: str = "v1",
    *,
    tenant_id: int = 1,
    namespace_id: int = 2,
    schema: JsonValue = None,
    signing: DataShapeSignature | None = None,
) -> DataShapeRecord:
    return DataShapeRecord(
        tenant_id=tenant_id,
        namespace_id=namespace_id,
        schema_id=schema_id,
        version=version,
        schema={"type": "object", "properties": {"ok": {"type": "boolean"}}}
        if schema is None
        else schema,
        created_at={"kind": "unix_millis", "value": 1_700_000_000_000},
        description=f"{schema_id} {version}",
        signing=signing,
    )


class _Registries:
    def __init__(self, factory: RegistryFactory) -> None:
        self._factory = factory
        self.built: list[SchemaRegistryStore] = []

    async def __call__(
        self, max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES, max_entries: int | None = None
    ) -> SchemaRegistryStore:
        made = self._factory(max_schema_bytes, max_entries)
        registry = await made if inspect.isawaitable(made) else made
        self.built.append(registry)
        return registry


@pytest.fixture
async def make_registry(schema_registry_factory: RegistryFactory) -> AsyncIterator[_Registries]:
    registries = _Registries(schema_registry_factory)
    try:
        yield registries
    finally:
        for registry in registries.built:
            await registry.close()


@pytest.fixture
async def schema_registry(make_registry: _Registries) -> SchemaRegistryStore:
    return await make_registry()


async def _all_ids(registry: SchemaRegistryStore, tenant: int, namespace: int) -> list[Any]:
    page = await registry.list(tenant, namespace, None, 1000)
    return [(r.schema_id, r.version) for r in page.items]


async def test_registry_satisfies_the_protocol(schema_registry: SchemaRegistryStore) -> None:
    assert isinstance(schema_registry, SchemaRegistryStore)
    assert inspect.iscoroutinefunction(schema_registry.register)
    assert inspect.iscoroutinefunction(schema_registry.list)


async def test_registry_is_ready_when_open(schema_registry: SchemaRegistryStore) -> None:
    await schema_registry.readiness()


async def test_a_record_reads_back_unchanged(schema_registry: SchemaRegistryStore) -> None:
    record = schema_record(signing=DataShapeSignature("key-1", "c2ln", "ed25519"))
    await schema_registry.register(record)
    assert await schema_registry.get(1, 2, "shape", "v1") == record


async def test_an_unknown_key_reads_as_none(schema_registry: SchemaRegistryStore) -> None:
    await schema_registry.register(schema_record())
    assert await schema_registry.get(1, 2, "shape", "v2") is None
    assert await schema_registry.get(1, 3, "shape", "v1") is None
    assert await schema_registry.get(9, 2, "shape", "v1") is None


async def test_registering_an_existing_key_is_a_conflict_and_keeps_the_first(
    schema_registry: SchemaRegistryStore,
) -> None:
    first = schema_record()
    await schema_registry.register(first)
    with pytest.raises(Conflict, match=r"^schema already registered$"):
        await schema_registry.register(schema_record(schema={"type": "string"}))
    assert await schema_registry.get(1, 2, "shape", "v1") == first


async def test_concurrent_registrations_of_one_key_store_exactly_one(
    schema_registry: SchemaRegistryStore,
) -> None:
    candidates = [schema_record(schema={"const": n}) for n in range(6)]
    outcomes = await asyncio.gather(
        *(schema_registry.register(c) for c in candidates), return_exceptions=True
    )
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)
    stored = await schema_registry.get(1, 2, "shape", "v1")
    assert stored in candidates


async def test_a_schema_over_the_size_limit_is_refused(make_registry: _Registries) -> None:
    schema: JsonValue = {"description": "x" * 64}
    registry = await make_registry(max_schema_bytes=schema_size(schema) - 1)
    with pytest.raises(InvalidInput, match=r"^schema exceeds size limit$"):
        await registry.register(schema_record(schema=schema))
    assert await registry.get(1, 2, "shape", "v1") is None


async def test_a_schema_at_the_size_limit_is_accepted(make_registry: _Registries) -> None:
    schema: JsonValue = {"description": "x" * 64}
    registry = await make_registry(max_schema_bytes=schema_size(schema))
    await registry.register(schema_record(schema=schema))
    assert await registry.get(1, 2, "shape", "v1") is not None


async def test_the_max_entries_limit_is_per_tenant_and_namespace(
    make_registry: _Registries,
) -> None:
    registry = await make_registry(max_entries=2)
    await registry.register(schema_record("a"))
    await registry.register(schema_record("b"))
    with pytest.raises(Conflict, match=r"^schema registry max entries exceeded$"):
        await registry.register(schema_record("c"))
    await registry.register(schema_record("c", namespace_id=3))
    assert await registry.get(1, 2, "c", "v1") is None


async def test_a_limit_of_zero_is_refused(schema_registry: SchemaRegistryStore) -> None:
    with pytest.raises(InvalidInput, match="limit must be greater than zero"):
        await schema_registry.list(1, 2, None, 0)


@pytest.mark.parametrize(
    "cursor", ["not json", "[]", '{"schema_id":"a"}', '{"schema_id":1,"version":"v"}']
)
async def test_a_cursor_that_does_not_parse_is_an_invalid_cursor(
    schema_registry: SchemaRegistryStore, cursor: str
) -> None:
    with pytest.raises(InvalidInput, match=r"^invalid cursor$"):
        await schema_registry.list(1, 2, cursor, 10)


@pytest.mark.parametrize(
    "versions",
    [["v1", "v10", "v2"], ["1.0.1", "1.0.10", "1.0.2"], ["1", "10", "2"]],
)
async def test_versions_sort_as_plain_strings(
    schema_registry: SchemaRegistryStore, versions: list[str]
) -> None:
    for version in reversed(versions):
        await schema_registry.register(schema_record("shape", version))
    assert await _all_ids(schema_registry, 1, 2) == [("shape", v) for v in versions]


async def test_pages_follow_the_cursor_until_next_token_is_null(
    schema_registry: SchemaRegistryStore,
) -> None:
    expected = [(s, v) for s in ("a", "b", "c") for v in ("v1", "v2")]
    for schema_id, version in reversed(expected):
        await schema_registry.register(schema_record(schema_id, version))
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    for _ in range(len(expected) + 1):
        page = await schema_registry.list(1, 2, cursor, 4)
        assert len(page.items) <= 4
        seen.extend((r.schema_id, r.version) for r in page.items)
        cursor = page.next_token
        if cursor is None:
            break
    assert seen == expected


async def test_listing_is_per_tenant_and_namespace(schema_registry: SchemaRegistryStore) -> None:
    await schema_registry.register(schema_record("mine"))
    await schema_registry.register(schema_record("other-ns", namespace_id=3))
    await schema_registry.register(schema_record("other-tenant", tenant_id=4))
    assert await _all_ids(schema_registry, 1, 2) == [("mine", "v1")]
    assert await _all_ids(schema_registry, 1, 3) == [("other-ns", "v1")]
    assert await _all_ids(schema_registry, 4, 2) == [("other-tenant", "v1")]


async def test_closed_registry_refuses_calls(schema_registry: SchemaRegistryStore) -> None:
    await schema_registry.close()
    await schema_registry.close()
    with pytest.raises(StoreError):
        await schema_registry.readiness()
