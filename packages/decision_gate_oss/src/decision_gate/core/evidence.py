"""Evidence values as providers return them: JSON or raw bytes.

On the wire these are adjacently tagged (`{"kind":"json","value":...}`,
`{"kind":"bytes","value":[0..255,...]}`). `None` in an `EvidenceResult` means
"no evidence", which is different from JSON null wrapped as `JsonEvidence(None)`.
"""

from __future__ import annotations

import attrs

from decision_gate.core.jsonvalue import JsonValue


@attrs.frozen
class JsonEvidence:
    value: JsonValue


@attrs.frozen
class BytesEvidence:
    value: bytes


EvidenceValue = JsonEvidence | BytesEvidence
