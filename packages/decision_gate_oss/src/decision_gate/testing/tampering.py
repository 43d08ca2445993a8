"""Conformance suite: stored bytes are hash-checked on every read, and tampering fails closed.

A durable store cannot be tampered with through its Protocol, so this suite
needs one more fixture from you, `tamper`: an object with two async methods
that change stored bytes behind the store's back, keeping whatever hash the
store recorded:

- `run_record(store, key, kind)`: alter the first record of `kind` of run `key`
  (for instance replace `"hold"` by `"pass"` in its JSON);
- `schema_record(registry, tenant_id, namespace_id, schema_id, version)`:
  alter that registered schema's stored bytes.

Activate it with `from decision_gate.testing.tampering import *` next to
`run_state_store`, `schema_registry_factory` (as for their own suites) and
`tamper`. Pinned down: a tampered record fails every read that returns it and
`verify_run` reports it; a tampered schema fails `get` and `list`; messages
name the run or key, never the stored content.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from decision_gate.core.errors import StoreCorrupt
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.runlog import LogKind
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.schema_registry import SchemaRegistryStore
from decision_gate.testing.run_state_store import apply, collect, create_run, trigger_delta
from decision_gate.testing.schema_registry import make_registry, schema_record

__all__ = [
    "Tamper",
    "make_registry",
    "test_a_tampered_decision_fails_every_read_that_returns_it",
    "test_a_tampered_schema_fails_get_and_list_without_echoing_it",
]


class Tamper(Protocol):
    async def run_record(self, store: RunStateStore, key: Any, kind: LogKind) -> None: ...

    async def schema_record(
        self,
        registry: SchemaRegistryStore,
        tenant_id: int,
        namespace_id: int,
        schema_id: str,
        version: str,
    ) -> None: ...


async def test_a_tampered_decision_fails_every_read_that_returns_it(
    run_state_store: RunStateStore, tamper: Tamper
) -> None:
    head = await create_run(run_state_store)
    head = await apply(run_state_store, trigger_delta(head, "t-1", ["p-1"]))
    await tamper.run_record(run_state_store, head.key, LogKind.DECISIONS)
    with pytest.raises(StoreCorrupt) as raised:
        await run_state_store.find_decision(head.key, "t-1")
    assert "hold" not in str(raised.value)
    with pytest.raises(StoreCorrupt):
        await collect(run_state_store, head.key, LogKind.DECISIONS)
    with pytest.raises(StoreCorrupt):
        await run_state_store.load_state(head.key)
    assert await run_state_store.verify_run(head.key) != []


async def test_a_tampered_schema_fails_get_and_list_without_echoing_it(
    make_registry: Any, tamper: Tamper
) -> None:
    registry = await make_registry()
    secret_schema: JsonValue = {"const": "confidential-shape"}
    await registry.register(schema_record("shape", "v1", schema=secret_schema))
    await tamper.schema_record(registry, 1, 2, "shape", "v1")
    with pytest.raises(StoreCorrupt) as raised:
        await registry.get(1, 2, "shape", "v1")
    assert "shape" in str(raised.value)
    assert "confidential" not in str(raised.value)
    with pytest.raises(StoreCorrupt):
        await registry.list(1, 2, None, 10)
