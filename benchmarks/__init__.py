"""Measured claims. Every figure is a ratio against a baseline run in the same
process, so a slow or busy machine changes the absolute numbers, not the claim."""
