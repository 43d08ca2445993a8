"""The built-in evidence providers and the default namespace authority, built through the
plugin hooks, pass the kit's suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decision_gate.core.model import EvidenceQuery
from decision_gate.seams.evidence_provider import EvidenceProvider
from decision_gate.seams.namespace_authority import NamespaceAuthority
from decision_gate.testing import build_implementation
from decision_gate.testing.evidence_provider import *  # noqa: F403
from decision_gate.testing.namespace_authority import *  # noqa: F403

SAMPLES = {
    "time": [
        EvidenceQuery("time", "now", None),
        EvidenceQuery("time", "after", {"timestamp": 5}),
        EvidenceQuery("time", "before", {"timestamp": 5}),
        EvidenceQuery("time", "after", {"wrong": True}),
    ],
    "env": [
        EvidenceQuery("env", "get", {"key": "DEPLOY_ENV"}),
        EvidenceQuery("env", "get", {"key": "UNSET"}),
        EvidenceQuery("env", "get", None),
    ],
    "json": [
        EvidenceQuery("json", "path", {"file": "report.json", "jsonpath": "$.failed"}),
        EvidenceQuery("json", "path", {"file": "missing.json", "jsonpath": "$.x"}),
        EvidenceQuery("json", "path", {"file": "../escape.json", "jsonpath": "$"}),
    ],
}


@pytest.fixture(params=sorted(SAMPLES))
async def evidence_provider(request: pytest.FixtureRequest, tmp_path: Path) -> EvidenceProvider:
    (tmp_path / "report.json").write_text(json.dumps({"failed": 0}))
    config = {
        "time": {},
        "env": {"overrides": {"DEPLOY_ENV": "staging"}},
        "json": {"root": str(tmp_path), "root_id": "kit"},
    }[request.param]
    provider: EvidenceProvider = await build_implementation(
        "evidence_provider", {"name": request.param, "type": "builtin", "config": config}
    )
    return provider


@pytest.fixture
def evidence_queries(evidence_provider: EvidenceProvider) -> list[EvidenceQuery]:
    return SAMPLES[evidence_provider.provider_id]


@pytest.fixture
async def namespace_authority() -> NamespaceAuthority:
    authority: NamespaceAuthority = await build_implementation(
        "namespace_authority", {"type": "none"}
    )
    return authority
