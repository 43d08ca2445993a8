"""The built-in JSONL audit sink, built through the plugin hooks, passes the kit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from decision_gate.seams.audit_sink import AuditSink
from decision_gate.testing import build_implementation
from decision_gate.testing.audit_sink import *  # noqa: F403


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "audit.jsonl"


@pytest.fixture
async def audit_sink(audit_path: Path) -> AsyncIterator[AuditSink]:
    sink: AuditSink = await build_implementation(
        "audit_sink", {"type": "jsonl", "path": str(audit_path)}
    )
    yield sink
    await sink.close()


@pytest.fixture
def read_audit_events(audit_path: Path) -> Callable[[], list[Any]]:
    def read() -> list[Any]:
        return [json.loads(line) for line in audit_path.read_text("utf-8").splitlines()]

    return read
