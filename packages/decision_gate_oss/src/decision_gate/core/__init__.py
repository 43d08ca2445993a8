"""The pure, deterministic core of Decision Gate.

Nothing in this package performs I/O, reads a clock, draws randomness or looks
at the environment (an import-linter contract enforces it). Time enters only
through triggers and evidence only as arguments, so the same inputs always give
the same bytes: that is what makes runpacks verifiable and replay exact.
"""
