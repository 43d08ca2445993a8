"""What start-up and the guards do when a plugin misbehaves: fail closed, name the plugin."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins import AuditFailure, PluginError, ProtocolMismatch, load_seams
from decision_gate.plugins.guards import UsageRecordFailure
from decision_gate.seams.access import CallContext, Principal
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.seams.usage_meter import UsageMetric, UsageRequest

InstallPlugin = Callable[..., str]

BROKEN = """
import asyncio
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation

CLOSED = []

class SyncAuthorizer:
    def authorize(self, call):
        return None

class Raising:
    async def authorize(self, call):
        raise RuntimeError("token=hunter2")
    async def check(self, *args, **kwargs):
        raise RuntimeError("token=hunter2")
    async def record(self, request, idempotency_key):
        raise RuntimeError("token=hunter2")

class Hanging:
    async def authorize(self, call):
        await asyncio.Event().wait()
    async def check(self, *args, **kwargs):
        await asyncio.Event().wait()
    async def record(self, request, idempotency_key):
        return None

class Authority(Raising):
    security_context = "broken"

class FailingSink:
    async def emit(self, event):
        raise OSError("disk full")
    async def close(self):
        CLOSED.append(self)

class RecordingSink:
    def __init__(self):
        self.events = []
    async def emit(self, event):
        self.events.append(event)
    async def close(self):
        CLOSED.append(self)

def leaky(section):
    raise ValueError("could not connect to postgresql://admin:hunter2@db")

@hookimpl
def decision_gate_tenant_authorizers():
    return [
        Implementation("sync", lambda s: SyncAuthorizer()),
        Implementation("raising", lambda s: Raising()),
        Implementation("hanging", lambda s: Hanging()),
        Implementation("leaky", leaky),
        Implementation("missing", lambda s: object()),
    ]

@hookimpl
def decision_gate_usage_meters():
    return [
        Implementation("raising", lambda s: Raising()),
        Implementation("hanging", lambda s: Hanging()),
    ]

@hookimpl
def decision_gate_namespace_authorities():
    return [Implementation("raising", lambda s: Authority())]

@hookimpl
def decision_gate_audit_sinks():
    return [
        Implementation("failing", lambda s: FailingSink()),
        Implementation("recording", lambda s: RecordingSink()),
    ]
"""

CALL = CallContext(Principal("alice"), "scenario_start", 1, 2, "req-1")


@pytest.fixture
def broken(install_plugin: InstallPlugin) -> str:
    """The module name of the installed `broken` plugin (imported by discovery)."""
    return install_plugin(BROKEN, name="broken", distribution="broken-dg", version="3.1")


async def test_an_object_with_a_sync_method_where_async_is_required_stops_start_up(
    broken: str,
) -> None:
    with pytest.raises(ProtocolMismatch) as error:
        await load_seams({"tenant_authorizer": {"type": "sync"}}, environ={})
    assert str(error.value) == (
        "tenant_authorizer 'sync' from plugin broken (broken-dg 3.1) returned SyncAuthorizer, "
        "which is not a TenantAuthorizer: authorize must be an async method"
    )


async def test_an_object_missing_the_seams_methods_stops_start_up(broken: str) -> None:
    with pytest.raises(
        ProtocolMismatch,
        match="returned object, which is not a TenantAuthorizer: missing authorize",
    ):
        await load_seams({"tenant_authorizer": {"type": "missing"}}, environ={})


async def test_a_factory_that_raises_stops_start_up_without_echoing_its_message(
    broken: str,
) -> None:
    with pytest.raises(PluginError) as error:
        await load_seams({"tenant_authorizer": {"type": "leaky"}}, environ={})
    assert str(error.value) == (
        "tenant_authorizer 'leaky' from plugin broken (broken-dg 3.1) failed to start: ValueError"
    )
    assert "hunter2" not in repr(error.value)


async def test_a_misspelt_setting_of_a_builtin_stops_start_up() -> None:
    with pytest.raises(InvalidInput, match=r"\[run_state_store\] does not accept pth"):
        await load_seams({"run_state_store": {"type": "sqlite", "pth": "x.db"}}, environ={})


async def test_what_was_built_before_a_start_up_failure_is_closed(broken: str) -> None:
    with pytest.raises(ProtocolMismatch):
        await load_seams(
            {"audit_sinks": [{"type": "recording"}], "tenant_authorizer": {"type": "sync"}},
            environ={},
        )
    assert len(sys.modules[broken].CLOSED) == 1


@pytest.mark.parametrize(
    ("kind", "reason"), [("raising", "authorizer_error"), ("hanging", "authorizer_timeout")]
)
async def test_an_authorizer_that_raises_or_times_out_denies_and_the_denial_is_audited(
    broken: str, tmp_path: Path, kind: str, reason: str
) -> None:
    log = tmp_path / "audit.jsonl"
    seams = await load_seams(
        {
            "tenant_authorizer": {"type": kind, "timeout_ms": 100},
            "audit_sinks": [{"type": "jsonl", "path": str(log)}],
        },
        environ={},
    )
    decision = await seams.tenant_authorizer.authorize(CALL)
    assert (decision.allowed, decision.reason) == (False, reason)
    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (event["event"], event["allowed"], event["reason"]) == ("tenant_authz", False, reason)
    assert "hunter2" not in log.read_text()


@pytest.mark.parametrize(
    ("kind", "reason"), [("raising", "meter_error"), ("hanging", "meter_timeout")]
)
async def test_a_meter_that_raises_or_times_out_denies_and_the_denial_is_audited(
    broken: str, tmp_path: Path, kind: str, reason: str
) -> None:
    log = tmp_path / "audit.jsonl"
    seams = await load_seams(
        {
            "usage_meter": {"type": kind, "timeout_ms": 100},
            "audit_sinks": [{"type": "jsonl", "path": str(log)}],
        },
        environ={},
    )
    decision = await seams.usage_meter.check(UsageRequest(CALL, UsageMetric.RUNS_STARTED))
    assert (decision.allowed, decision.reason) == (False, reason)
    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (event["event"], event["metric"], event["allowed"]) == (
        "usage_audit",
        "runs_started",
        False,
    )


async def test_a_meter_that_fails_to_record_is_a_typed_error(broken: str) -> None:
    seams = await load_seams({"usage_meter": {"type": "raising"}}, environ={})
    with pytest.raises(
        UsageRecordFailure, match="usage meter failed recording tool_calls: RuntimeError"
    ):
        await seams.usage_meter.record(
            UsageRequest(CALL, UsageMetric.TOOL_CALLS), "req-1:tool_calls"
        )


async def test_a_namespace_authority_that_raises_is_unavailable_not_allowed(broken: str) -> None:
    seams = await load_seams({"namespace_authority": {"type": "raising"}}, environ={})
    assert await seams.namespace_authority.check(1, 2) is NamespaceDecision.UNAVAILABLE


async def test_an_audit_sink_failure_fails_the_call_it_was_recording(broken: str) -> None:
    seams = await load_seams(
        {"audit_sinks": [{"type": "failing"}, {"type": "recording"}]}, environ={}
    )
    with pytest.raises(
        AuditFailure, match=r"audit sink failed to record tenant_authz: FailingSink \(OSError\)"
    ):
        await seams.tenant_authorizer.authorize(CALL)
    recording = seams.audit_sinks[1]
    assert [e.kind for e in recording.events] == [AuditEventKind.TENANT_AUTHZ]  # type: ignore[attr-defined]


async def test_every_configured_audit_sink_receives_every_event(broken: str) -> None:
    seams = await load_seams(
        {"audit_sinks": [{"type": "recording"}, {"type": "recording"}, {"type": "recording"}]},
        environ={},
    )
    events = [AuditEvent(AuditEventKind.SECURITY, {"n": n}) for n in range(4)]
    for event in events:
        await seams.audit.emit(event)
    assert [sink.events for sink in seams.audit_sinks] == [events] * 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("table", ["run_state_store", "schema_registry"])
async def test_a_memory_store_with_sqlite_settings_is_refused_not_ignored(table: str) -> None:
    section = {"type": "memory", "journal_mode": "delete", "path": "x.db"}
    with pytest.raises(
        InvalidInput, match=rf'\[{table}\] journal_mode, path: only used with type = "sqlite"'
    ):
        await load_seams({table: section}, environ={})
