"""Both built-in run-state stores against the seam's contract suite."""

from run_state_store_contract import *  # noqa: F403
