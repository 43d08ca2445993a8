"""One test per hook: a third-party plugin's implementation, selected in config, is the one used.

The plugin below is installed as a real distribution (module + dist-info on
sys.path) and provides one implementation per seam; each test selects it by
name and shows its behaviour through what `load_seams` returns. The
meta-test in test_hook_docs.py requires a test here named after every hook.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins import ProtocolMismatch, Seams, load_seams
from decision_gate.seams.access import CallContext, Principal
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.seams.usage_meter import UsageMetric, UsageRequest

InstallPlugin = Callable[..., str]

ACME = """
import json
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.access.defaults import AllowAllAuthorizer
from decision_gate.core.engine import RecordingDispatcher
from decision_gate.registry.memory import MemorySchemaRegistry
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.seams.tenant_authorizer import AuthorizationDecision
from decision_gate.seams.usage_meter import UsageDecision
from decision_gate.stores.memory import MemoryRunStateStore

LOADED = []

class AcmeStore(MemoryRunStateStore):
    pass

class AcmeRegistry(MemorySchemaRegistry):
    pass

class AcmeRunpacks(FilesystemRunpackStorage):
    pass

class AcmeAuthorizer:
    async def authorize(self, call):
        if call.tenant_id == 13:
            return AuthorizationDecision.deny("acme_unlucky")
        return AuthorizationDecision.allow("acme_ok")

class AcmeMeter:
    async def check(self, request):
        return UsageDecision(request.metric.value != "runs_started", "acme_meter")
    async def record(self, request, idempotency_key):
        return None

class AcmeSink:
    def __init__(self, path):
        self.path = path
    async def emit(self, event):
        with open(self.path, "a") as f:
            f.write(event.to_json_line())
    async def close(self):
        return None

class AcmeAuthority:
    security_context = "acme_catalog"
    async def check(self, tenant_id, namespace_id, *, correlation_id=None):
        return NamespaceDecision.DENIED if namespace_id == 13 else NamespaceDecision.ALLOWED

class AcmeProvider:
    def __init__(self, provider_id, answer):
        self.provider_id = provider_id
        self.checks = ("answer",)
        self.answer = answer
    async def query(self, query, context):
        raise RuntimeError("not queried in these tests")

class AcmePolicy:
    def authorize(self, target, envelope, payload):
        return False

class AcmeDispatcher(RecordingDispatcher):
    name = "acme"

@hookimpl
def decision_gate_run_state_stores():
    return [Implementation("acme", lambda section: AcmeStore())]

@hookimpl
def decision_gate_schema_registries():
    return [Implementation("acme", lambda section: AcmeRegistry())]

@hookimpl
def decision_gate_runpack_storages():
    return [Implementation("acme", lambda section: AcmeRunpacks(section["root"]))]

@hookimpl
def decision_gate_tenant_authorizers():
    return [Implementation("acme", lambda section: AcmeAuthorizer())]

@hookimpl
def decision_gate_usage_meters():
    return [Implementation("acme", lambda section: AcmeMeter())]

@hookimpl
def decision_gate_audit_sinks():
    return [Implementation("acme", lambda section: AcmeSink(section["path"]))]

@hookimpl
def decision_gate_namespace_authorities():
    return [Implementation("acme", lambda section: AcmeAuthority())]

@hookimpl
def decision_gate_evidence_providers():
    def build(entry):
        return AcmeProvider(entry["name"], entry["config"]["answer"])
    return [Implementation("acme", build)]

@hookimpl
def decision_gate_policy_deciders():
    return [Implementation("acme", lambda section: AcmePolicy())]

@hookimpl
def decision_gate_dispatchers():
    async def build(section):
        return AcmeDispatcher()
    return [Implementation("acme", build)]

@hookimpl
def decision_gate_seams_loaded(seams):
    LOADED.append(seams)
"""

CALL = CallContext(Principal("alice", "bearer"), "scenario_start", 13, 2, "req-1")


async def _load(install_plugin: InstallPlugin, sections: dict[str, Any]) -> tuple[Seams, Any]:
    module_name = install_plugin(ACME)
    seams = await load_seams(sections, environ={})
    return seams, sys.modules[module_name]


async def test_decision_gate_run_state_stores_selects_the_plugins_store(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(install_plugin, {"run_state_store": {"type": "acme"}})
    assert type(seams.run_state_store) is acme.AcmeStore


async def test_decision_gate_schema_registries_selects_the_plugins_registry(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(install_plugin, {"schema_registry": {"type": "acme"}})
    assert type(seams.schema_registry) is acme.AcmeRegistry


async def test_decision_gate_runpack_storages_selects_the_plugins_storage(
    install_plugin: InstallPlugin, tmp_path: Path
) -> None:
    seams, acme = await _load(
        install_plugin, {"runpack_storage": {"type": "acme", "root": str(tmp_path)}}
    )
    assert type(seams.runpack_storage) is acme.AcmeRunpacks


async def test_decision_gate_tenant_authorizers_decisions_reach_the_caller_and_the_audit(
    install_plugin: InstallPlugin, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    seams, _ = await _load(
        install_plugin,
        {
            "tenant_authorizer": {"type": "acme"},
            "audit_sinks": [{"type": "jsonl", "path": str(log)}],
        },
    )
    decision = await seams.tenant_authorizer.authorize(CALL)
    assert (decision.allowed, decision.reason) == (False, "acme_unlucky")
    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (event["event"], event["allowed"], event["reason"], event["tenant_id"]) == (
        "tenant_authz",
        False,
        "acme_unlucky",
        "13",
    )


async def test_decision_gate_usage_meters_checks_are_the_plugins(
    install_plugin: InstallPlugin,
) -> None:
    seams, _ = await _load(install_plugin, {"usage_meter": {"type": "acme"}})
    runs = await seams.usage_meter.check(UsageRequest(CALL, UsageMetric.RUNS_STARTED))
    calls = await seams.usage_meter.check(UsageRequest(CALL, UsageMetric.TOOL_CALLS))
    assert (runs.allowed, calls.allowed, calls.reason) == (False, True, "acme_meter")


async def test_decision_gate_audit_sinks_each_configured_sink_receives_every_event(
    install_plugin: InstallPlugin, tmp_path: Path
) -> None:
    paths = [tmp_path / "acme-1.jsonl", tmp_path / "acme-2.jsonl", tmp_path / "ours.jsonl"]
    seams, _ = await _load(
        install_plugin,
        {
            "audit_sinks": [
                {"type": "acme", "path": str(paths[0])},
                {"type": "acme", "path": str(paths[1])},
                {"type": "jsonl", "path": str(paths[2])},
            ]
        },
    )
    events = [AuditEvent(AuditEventKind.SECURITY, {"n": n}) for n in range(3)]
    for event in events:
        await seams.audit.emit(event)
    await seams.close()
    expected = [e.to_json() for e in events]
    for path in paths:
        assert [json.loads(line) for line in path.read_text().splitlines()] == expected


async def test_decision_gate_namespace_authorities_answers_are_the_plugins(
    install_plugin: InstallPlugin,
) -> None:
    seams, _ = await _load(install_plugin, {"namespace_authority": {"type": "acme"}})
    assert await seams.namespace_authority.check(1, 13) is NamespaceDecision.DENIED
    assert await seams.namespace_authority.check(1, 2) is NamespaceDecision.ALLOWED
    assert seams.namespace_authority.security_context == "acme_catalog"


async def test_decision_gate_evidence_providers_registers_the_plugins_provider_by_name(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(
        install_plugin,
        {
            "providers": [
                {
                    "name": "weather",
                    "type": "plugin",
                    "implementation": "acme",
                    "config": {"answer": 42},
                },
                {"name": "time", "type": "builtin"},
            ]
        },
    )
    provider = seams.providers.get("weather")
    assert type(provider) is acme.AcmeProvider
    assert provider.answer == 42
    assert seams.providers.ids() == ["time", "weather"]


async def test_decision_gate_policy_deciders_selects_the_plugins_policy(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(install_plugin, {"policy": {"engine": "acme"}})
    assert type(seams.policy) is acme.AcmePolicy


async def test_decision_gate_dispatchers_selects_the_plugins_dispatcher_from_an_async_factory(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(install_plugin, {"dispatcher": {"type": "acme"}})
    assert type(seams.dispatcher) is acme.AcmeDispatcher


async def test_decision_gate_seams_loaded_is_called_once_with_the_built_seams(
    install_plugin: InstallPlugin,
) -> None:
    seams, acme = await _load(install_plugin, {})
    loaded = acme.LOADED
    assert loaded == [seams]


async def test_decision_gate_seams_loaded_raising_stops_start_up(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        """
        from decision_gate.plugins.hookspecs import hookimpl

        @hookimpl
        def decision_gate_seams_loaded(seams):
            raise RuntimeError("refusing to start")
        """,
        name="veto",
    )
    with pytest.raises(RuntimeError, match="refusing to start"):
        await load_seams({}, environ={})


async def test_a_provider_answering_under_another_id_than_configured_is_refused(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME.replace('AcmeProvider(entry["name"]', 'AcmeProvider("other"'))
    with pytest.raises(
        ProtocolMismatch, match="answers as 'other', but the config names it 'weather'"
    ):
        await load_seams(
            {
                "providers": [
                    {
                        "name": "weather",
                        "type": "plugin",
                        "implementation": "acme",
                        "config": {"answer": 1},
                    }
                ]
            },
            environ={},
        )


async def test_a_plugin_provider_cannot_be_selected_as_a_builtin(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(ACME)
    with pytest.raises(InvalidInput, match='acme: not a built-in provider; use type = "plugin"'):
        await load_seams({"providers": [{"name": "acme", "type": "builtin"}]}, environ={})
