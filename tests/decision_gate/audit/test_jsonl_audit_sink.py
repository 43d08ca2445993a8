"""The JSON-lines audit sink beyond the kit: file mode, symlinks, write failures, stderr."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from decision_gate.audit.jsonl import AuditSinkError, JsonlAuditSink
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind

EVENT = AuditEvent(AuditEventKind.SECURITY, {"kind": "dev_permissive_enabled", "n": 1})


async def test_the_log_is_created_private_with_its_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "audit.jsonl"
    sink = JsonlAuditSink(path, fsync=True)
    await sink.emit(EVENT)
    await sink.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"event": "security_audit", **EVENT.fields}


async def test_events_are_appended_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"event":"earlier"}\n')
    sink = JsonlAuditSink(path)
    await sink.emit(EVENT)
    await sink.close()
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == [
        "earlier",
        "security_audit",
    ]


async def test_a_symlinked_log_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    link = tmp_path / "audit.jsonl"
    os.symlink(target, link)
    sink = JsonlAuditSink(link)
    with pytest.raises(AuditSinkError, match=f"audit log {link} could not be written"):
        await sink.emit(EVENT)
    assert target.read_text() == ""


async def test_a_log_that_cannot_be_written_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").mkdir()
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    with pytest.raises(AuditSinkError, match="could not be written: Is a directory"):
        await sink.emit(EVENT)


async def test_without_a_path_events_go_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    sink = JsonlAuditSink()
    await sink.emit(EVENT)
    assert json.loads(capfd.readouterr().err) == EVENT.to_json()


def test_an_event_cannot_shadow_its_kind() -> None:
    with pytest.raises(ValueError, match="must not contain 'event'"):
        AuditEvent(AuditEventKind.SECURITY, {"event": "forged"})
