"""The one typed error hierarchy of decision_gate.

Every error a caller can see is a `DecisionGateError`. Each family maps
one-to-one onto a wire error of the reference server (`code`, `kind`); the
server turns an exception into a JSON-RPC error by reading these two class
attributes and `str(error)`, so the message must be safe to show a client:
never a secret, never evidence values, never a traceback.
"""

from __future__ import annotations


class DecisionGateError(Exception):
    """Base of every error decision_gate raises on purpose."""

    code: int = -32050
    kind: str = "internal"


class InvalidInput(DecisionGateError):
    """Input that does not parse or validate (a tool call, a file, a config)."""

    code = -32602
    kind = "invalid_params"

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        self.detail = message
        super().__init__(f"{message} (at {path})" if path else message)


class NotFound(DecisionGateError):
    code = -32004
    kind = "not_found"


class Conflict(DecisionGateError):
    code = -32009
    kind = "conflict"


class EvidenceFailure(DecisionGateError):
    code = -32020
    kind = "evidence"


class ControlPlaneError(DecisionGateError):
    """An engine error; its text is the reference's `ControlPlaneError` display text."""

    code = -32030
    kind = "control_plane"


class RunpackError(DecisionGateError):
    code = -32040
    kind = "runpack"


class InternalError(DecisionGateError):
    code = -32050
    kind = "internal"


class StoreError(DecisionGateError):
    """A run-state or registry store failed; `Corrupt` means it failed closed on tampering."""

    code = -32050
    kind = "internal"


class StoreCorrupt(StoreError):
    """Stored bytes do not match their recorded hash, or a record chain is broken."""


class StoreVersionConflict(StoreError):
    """A compare-and-set save lost: someone else saved the run first."""

    code = -32009
    kind = "conflict"
