"""The built-in run-state stores: in-memory and SQLite.

Both implement `decision_gate.seams.run_state.RunStateStore` and pass the same
contract suite (the conformance kit, `decision_gate.testing.run_state_store`), the
one a third-party store is held to.
"""

from decision_gate.stores.memory import MemoryRunStateStore
from decision_gate.stores.sqlite import SqliteRunStateStore

__all__ = ["MemoryRunStateStore", "SqliteRunStateStore"]
