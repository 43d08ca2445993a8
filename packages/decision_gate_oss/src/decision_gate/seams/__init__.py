"""The seams of decision_gate: one `typing.Protocol` per pluggable part.

Each module here defines one seam and documents its invariants (what must be
atomic, what must fail closed, what is idempotent). Implementations, ours
included, are registered through the pluggy hooks and selected by config.
"""
