"""The built-in run-state stores: in-memory and SQLite.

Both implement `decision_gate.seams.run_state.RunStateStore` and pass the same
contract suite; they are registered through the plugin hooks like any
third-party store.
"""

from decision_gate.stores.memory import MemoryRunStateStore
from decision_gate.stores.sqlite import SqliteRunStateStore

__all__ = ["MemoryRunStateStore", "SqliteRunStateStore"]
