"""Acme's implementations against decision-gate's conformance kit, built as the server would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from decision_gate.seams.usage_meter import UsageMetric
from decision_gate.testing import build_implementation
from decision_gate.testing.audit_sink import *  # noqa: F403
from decision_gate.testing.runpack_storage import *  # noqa: F403
from decision_gate.testing.tenant_authorizer import *  # noqa: F403
from decision_gate.testing.usage_meter import *  # noqa: F403
from decision_gate.testing.usage_meter_quota import *  # noqa: F403


@pytest.fixture
async def tenant_authorizer() -> Any:
    return await build_implementation(
        "tenant_authorizer", {"type": "acme_blocklist", "blocked_tenants": [9]}
    )


@pytest.fixture
async def usage_meter() -> Any:
    return await build_implementation("usage_meter", {"type": "acme_quota"})


@pytest.fixture
def usage_meter_with_limit() -> Any:
    async def build(metric: UsageMetric, units: int) -> Any:
        return await build_implementation(
            "usage_meter", {"type": "acme_quota", "limits": {metric.value: units}}
        )

    return build


@pytest.fixture
async def audit_sink(tmp_path: Path) -> Any:
    return await build_implementation(
        "audit_sink", {"type": "acme_log", "path": str(tmp_path / "acme.jsonl")}
    )


@pytest.fixture
def read_audit_events(tmp_path: Path) -> Any:
    def read() -> list[Any]:
        path = tmp_path / "acme.jsonl"
        lines = path.read_text("utf-8").splitlines() if path.exists() else []
        return [{k: v for k, v in json.loads(line).items() if k != "acme"} for line in lines]

    return read


@pytest.fixture
async def runpack_storage(tmp_path: Path) -> Any:
    return await build_implementation(
        "runpack_storage", {"type": "acme_vault", "root": str(tmp_path)}
    )
