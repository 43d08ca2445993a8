"""The evidence provider seam: where facts come from.

A provider answers `query(query, context)` with an `EvidenceResult`. It never
decides anything: the core compares what it returns. Invariants:
- A provider that cannot answer raises `EvidenceProviderFailure` (recorded as a
  `provider_error` and evaluated Unknown); any other exception is treated the
  same way by the control plane, so a broken provider can only hold a gate,
  never pass it.
- A provider must not block the event loop; blocking work goes to a thread.
- `checks` lists the check ids it answers, so a scenario naming an unknown
  check is rejected when it is defined rather than held forever at run time.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol, runtime_checkable

from decision_gate.core.errors import EvidenceFailure
from decision_gate.core.model import EvidenceContext, EvidenceQuery, EvidenceResult


class EvidenceProviderFailure(EvidenceFailure):
    """A provider could not answer; the message is recorded in the run, so it must
    never contain a secret."""


@runtime_checkable
class EvidenceProvider(Protocol):
    @property
    def provider_id(self) -> str: ...

    @property
    def checks(self) -> Collection[str]: ...

    async def query(self, query: EvidenceQuery, context: EvidenceContext) -> EvidenceResult: ...
