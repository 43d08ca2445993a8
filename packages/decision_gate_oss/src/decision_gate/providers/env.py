"""The `env` provider: one environment variable per query, behind a policy.

Keys are checked before any lookup: too long, denylisted, or missing from a
configured allowlist is an error (the reference's behaviour; its contract notes
say "null", its code says error, and an error is the fail-closed reading).
With `overrides` configured only the override map is consulted, which is how
tests and the quickstart stay independent of the machine's environment.
Values never reach logs; they are evidence and are hashed into the run.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Final

from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceAnchor, EvidenceContext, EvidenceQuery, EvidenceResult
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

CHECKS: Final = ("get",)


class EnvProvider:
    provider_id: Final = "env"

    def __init__(
        self,
        *,
        allowlist: Collection[str] | None = None,
        denylist: Collection[str] = (),
        max_value_bytes: int = 65536,
        max_key_bytes: int = 255,
        overrides: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.allowlist = frozenset(allowlist) if allowlist is not None else None
        self.denylist = frozenset(denylist)
        self.max_value_bytes = max_value_bytes
        self.max_key_bytes = max_key_bytes
        self.overrides = dict(overrides) if overrides is not None else None
        self._environ = environ if environ is not None else os.environ

    @property
    def checks(self) -> Collection[str]:
        return CHECKS

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult:
        if query.check_id != "get":
            raise EvidenceProviderFailure("unsupported env check")
        params = query.params
        if params is None:
            raise EvidenceProviderFailure("env check requires params")
        if not isinstance(params, dict):
            raise EvidenceProviderFailure("env params must be an object")
        if "key" not in params:
            raise EvidenceProviderFailure("missing env key")
        key = params["key"]
        if not isinstance(key, str):
            raise EvidenceProviderFailure("env key must be a string")
        if len(key.encode()) > self.max_key_bytes:
            raise EvidenceProviderFailure("env key exceeds limit")
        if key in self.denylist or (self.allowlist is not None and key not in self.allowlist):
            raise EvidenceProviderFailure("env key blocked by policy")
        source = self.overrides if self.overrides is not None else self._environ
        value = source.get(key)
        anchor = EvidenceAnchor(anchor_type="env", anchor_value=key)
        if value is None:
            return EvidenceResult(evidence_anchor=anchor)
        if len(value.encode()) > self.max_value_bytes:
            raise EvidenceProviderFailure("env value exceeds limit")
        return EvidenceResult(
            value=JsonEvidence(value), evidence_anchor=anchor, content_type="text/plain"
        )
