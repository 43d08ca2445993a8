"""`python -m decision_gate` is the `decision-gate` command."""

from decision_gate.cli import main

main()
