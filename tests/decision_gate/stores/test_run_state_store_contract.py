"""Both built-in run-state stores against the conformance kit's run-state suite."""

from decision_gate.testing.run_state_store import *  # noqa: F403
