"""The built-in schema registries (data shapes): in-memory and SQLite.

Both implement `decision_gate.seams.schema_registry.SchemaRegistryStore` and
pass the conformance kit's schema registry suite.
"""

from decision_gate.registry.memory import MemorySchemaRegistry
from decision_gate.registry.sqlite import SqliteSchemaRegistry

__all__ = ["MemorySchemaRegistry", "SqliteSchemaRegistry"]
