"""Acme's Decision Gate plugin: an audit sink, an authorizer, a quota meter and a runpack vault.

Written only against decision-gate's public plugin API, as an integrator would.
"""
