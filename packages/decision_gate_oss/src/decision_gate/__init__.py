"""Decision Gate: answers "has X been done?" from evidence, deterministically
and auditably. `decision_gate.core` is the pure engine; everything that touches
the outside world (stores, providers, CLI, server) lives around it."""

__version__ = "0.1.0"
