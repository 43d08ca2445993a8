"""decision-gate's own implementations of every seam, registered as a plugin.

This module is named by decision-gate's `decision_gate` entry point
(`builtin`) and is discovered, imported and registered exactly like a
third-party plugin: nothing else in decision_gate refers to it. Each factory
accepts exactly the keys of its config table (config.schema.json where the
table exists) and refuses any other key with `InvalidInput`, so a misspelt
setting is an error, never a silent default.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from decision_gate.access.assetcore import AssetcoreNamespaceAuthority
from decision_gate.access.defaults import AllowAllAuthorizer, NoNamespaceAuthority, NoopUsageMeter
from decision_gate.audit.jsonl import JsonlAuditSink
from decision_gate.core.engine import Dispatcher, PermitAll, PolicyDecider, RecordingDispatcher
from decision_gate.core.errors import InvalidInput
from decision_gate.core.model import DispatchTarget, PacketEnvelope, PacketPayload
from decision_gate.dispatch_policy import StaticDispatchPolicy
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.providers.env import EnvProvider
from decision_gate.providers.http import HttpProvider
from decision_gate.providers.json_file import JsonFileProvider
from decision_gate.providers.time import TimeProvider
from decision_gate.registry.memory import MemorySchemaRegistry
from decision_gate.registry.sqlite import SqliteSchemaRegistry
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage
from decision_gate.seams.audit_sink import AuditSink
from decision_gate.seams.evidence_provider import EvidenceProvider
from decision_gate.seams.namespace_authority import NamespaceAuthority
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.runpack_storage import RunpackStorage
from decision_gate.seams.schema_registry import DEFAULT_MAX_SCHEMA_BYTES, SchemaRegistryStore
from decision_gate.seams.tenant_authorizer import TenantAuthorizer
from decision_gate.seams.usage_meter import UsageMeter
from decision_gate.stores.memory import MemoryRunStateStore
from decision_gate.stores.sqlite import SqliteRunStateStore

_SQLITE_KEYS = frozenset({"path", "journal_mode", "sync_mode", "busy_timeout_ms"})
_GUARD_KEYS = frozenset({"timeout_ms"})


def settings(section: Mapping[str, Any], allowed: Collection[str], table: str) -> dict[str, Any]:
    """The section without `type`, refusing keys not in `allowed`."""
    unknown = sorted(set(section) - set(allowed) - {"type"})
    if unknown:
        raise InvalidInput(f"[{table}] does not accept {', '.join(unknown)}")
    return {k: v for k, v in section.items() if k != "type"}


def _required_path(values: Mapping[str, Any], table: str) -> str:
    path = values.get("path")
    if not isinstance(path, str) or not path:
        raise InvalidInput(f'[{table}] type = "sqlite" requires a non-empty path')
    return path


# --------------------------------------------------------------------------- run state


def _no_sqlite_keys(values: Mapping[str, Any], table: str) -> None:
    """A memory table naming SQLite settings is a mistake to report, not to ignore."""
    given = sorted(key for key in _SQLITE_KEYS | {"max_versions"} if values.get(key) is not None)
    if given:
        raise InvalidInput(f'[{table}] {", ".join(given)}: only used with type = "sqlite"')


def _memory_run_state_store(section: Mapping[str, Any]) -> RunStateStore:
    values = settings(section, _SQLITE_KEYS | {"max_versions"}, "run_state_store")
    _no_sqlite_keys(values, "run_state_store")
    return MemoryRunStateStore()


def _sqlite_run_state_store(section: Mapping[str, Any]) -> RunStateStore:
    values = settings(section, _SQLITE_KEYS | {"max_versions"}, "run_state_store")
    if values.get("max_versions") is not None:
        raise InvalidInput(
            "[run_state_store] max_versions is not supported: the store keeps one head "
            "and append-only logs, not versions"
        )
    return SqliteRunStateStore(
        _required_path(values, "run_state_store"),
        journal_mode=values.get("journal_mode", "wal"),
        synchronous=values.get("sync_mode", "full"),
        busy_timeout_ms=values.get("busy_timeout_ms", 5000),
    )


# --------------------------------------------------------------------------- schema registry

_REGISTRY_KEYS = _SQLITE_KEYS | {"max_schema_bytes", "max_entries", "acl"}


def _memory_schema_registry(section: Mapping[str, Any]) -> SchemaRegistryStore:
    values = settings(section, _REGISTRY_KEYS, "schema_registry")
    _no_sqlite_keys(values, "schema_registry")
    return MemorySchemaRegistry(
        max_schema_bytes=values.get("max_schema_bytes", DEFAULT_MAX_SCHEMA_BYTES),
        max_entries=values.get("max_entries"),
    )


def _sqlite_schema_registry(section: Mapping[str, Any]) -> SchemaRegistryStore:
    values = settings(section, _REGISTRY_KEYS, "schema_registry")
    return SqliteSchemaRegistry(
        _required_path(values, "schema_registry"),
        journal_mode=values.get("journal_mode", "wal"),
        synchronous=values.get("sync_mode", "full"),
        busy_timeout_ms=values.get("busy_timeout_ms", 5000),
        max_schema_bytes=values.get("max_schema_bytes", DEFAULT_MAX_SCHEMA_BYTES),
        max_entries=values.get("max_entries"),
    )


# --------------------------------------------------------------------------- runpacks, audit


def _filesystem_runpack_storage(section: Mapping[str, Any]) -> RunpackStorage:
    values = settings(section, {"root"}, "runpack_storage")
    root = values.get("root")
    if not isinstance(root, str) or not root:
        raise InvalidInput('[runpack_storage] type = "filesystem" requires a non-empty root')
    return FilesystemRunpackStorage(root)


def _jsonl_audit_sink(section: Mapping[str, Any]) -> AuditSink:
    values = settings(section, {"path", "fsync"}, "audit_sinks")
    path = values.get("path")
    if path is not None and (not isinstance(path, str) or not path):
        raise InvalidInput("[[audit_sinks]] path must be a non-empty string when given")
    fsync = values.get("fsync", False)
    if not isinstance(fsync, bool):
        raise InvalidInput("[[audit_sinks]] fsync must be a boolean")
    return JsonlAuditSink(path, fsync=fsync)


# --------------------------------------------------------------------------- access


def _allow_all(section: Mapping[str, Any]) -> TenantAuthorizer:
    settings(section, _GUARD_KEYS, "tenant_authorizer")
    return AllowAllAuthorizer()


def _noop_meter(section: Mapping[str, Any]) -> UsageMeter:
    settings(section, _GUARD_KEYS, "usage_meter")
    return NoopUsageMeter()


def _no_namespace_authority(section: Mapping[str, Any]) -> NamespaceAuthority:
    settings(section, _GUARD_KEYS, "namespace_authority")
    return NoNamespaceAuthority()


def _assetcore_namespace_authority(section: Mapping[str, Any]) -> NamespaceAuthority:
    values = settings(
        section,
        _GUARD_KEYS | {"base_url", "auth_token", "connect_timeout_ms", "request_timeout_ms"},
        "namespace_authority",
    )
    base_url = values.get("base_url")
    token = values.get("auth_token")
    if not isinstance(base_url, str) or not base_url:
        raise InvalidInput('[namespace_authority] type = "assetcore_http" requires base_url')
    if token is not None and (not isinstance(token, str) or not token):
        raise InvalidInput("[namespace_authority] auth_token must be a non-empty string")
    return AssetcoreNamespaceAuthority(
        base_url,
        auth_token=token,
        connect_timeout_ms=values.get("connect_timeout_ms", 500),
        request_timeout_ms=values.get("request_timeout_ms", 2000),
    )


# --------------------------------------------------------------------------- providers


def _provider_config(entry: Mapping[str, Any], name: str) -> dict[str, Any]:
    config = entry.get("config")
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInput(f"provider {name}: config must be a table")
    return dict(config)


def _time_provider(entry: Mapping[str, Any]) -> EvidenceProvider:
    config = settings(_provider_config(entry, "time"), {"allow_logical"}, "providers.time.config")
    return TimeProvider(**config)


def _env_provider(entry: Mapping[str, Any]) -> EvidenceProvider:
    config = settings(
        _provider_config(entry, "env"),
        {"allowlist", "denylist", "max_value_bytes", "max_key_bytes", "overrides"},
        "providers.env.config",
    )
    return EnvProvider(**config)


def _json_provider(entry: Mapping[str, Any]) -> EvidenceProvider:
    config = settings(
        _provider_config(entry, "json"),
        {"root", "root_id", "max_bytes", "allow_yaml"},
        "providers.json.config",
    )
    if "root" not in config or "root_id" not in config:
        raise InvalidInput("provider json: config requires root and root_id")
    return JsonFileProvider(**config)


def _http_provider(entry: Mapping[str, Any]) -> EvidenceProvider:
    config = settings(
        _provider_config(entry, "http"),
        {
            "allow_http",
            "timeout_ms",
            "max_response_bytes",
            "allowed_hosts",
            "user_agent",
            "hash_algorithm",
        },
        "providers.http.config",
    )
    return HttpProvider(**config)


# --------------------------------------------------------------------------- dispatch


class DenyAll:
    """The `deny_all` dispatch policy: no packet is ever disclosed."""

    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool:
        return False


def _permit_all(section: Mapping[str, Any]) -> PolicyDecider:
    settings(section, {"engine", "static"}, "policy")
    return PermitAll()


def _deny_all(section: Mapping[str, Any]) -> PolicyDecider:
    settings(section, {"engine", "static"}, "policy")
    return DenyAll()


def _static_policy(section: Mapping[str, Any]) -> PolicyDecider:
    settings(section, {"engine", "static"}, "policy")
    static = section.get("static")
    if static is None:
        raise InvalidInput('[policy] engine = "static" requires a [policy.static] table')
    return StaticDispatchPolicy.from_config(static)


def _recording_dispatcher(section: Mapping[str, Any]) -> Dispatcher:
    settings(section, set(), "dispatcher")
    return RecordingDispatcher()


# --------------------------------------------------------------------------- hooks


@hookimpl
def decision_gate_run_state_stores() -> Iterable[Implementation[RunStateStore]]:
    return [
        Implementation("memory", _memory_run_state_store, "runs in process memory"),
        Implementation("sqlite", _sqlite_run_state_store, "runs in one SQLite file"),
    ]


@hookimpl
def decision_gate_schema_registries() -> Iterable[Implementation[SchemaRegistryStore]]:
    return [
        Implementation("memory", _memory_schema_registry, "data shapes in process memory"),
        Implementation("sqlite", _sqlite_schema_registry, "data shapes in one SQLite file"),
    ]


@hookimpl
def decision_gate_runpack_storages() -> Iterable[Implementation[RunpackStorage]]:
    return [Implementation("filesystem", _filesystem_runpack_storage, "runpacks below a root")]


@hookimpl
def decision_gate_tenant_authorizers() -> Iterable[Implementation[TenantAuthorizer]]:
    return [Implementation("allow_all", _allow_all, "allows every call (noop_allow)")]


@hookimpl
def decision_gate_usage_meters() -> Iterable[Implementation[UsageMeter]]:
    return [Implementation("noop", _noop_meter, "allows and records nothing")]


@hookimpl
def decision_gate_audit_sinks() -> Iterable[Implementation[AuditSink]]:
    return [Implementation("jsonl", _jsonl_audit_sink, "JSON lines to a file or stderr")]


@hookimpl
def decision_gate_namespace_authorities() -> Iterable[Implementation[NamespaceAuthority]]:
    return [
        Implementation("none", _no_namespace_authority, "no external namespace check"),
        Implementation(
            "assetcore_http", _assetcore_namespace_authority, "Asset Core's namespace catalogue"
        ),
    ]


@hookimpl
def decision_gate_evidence_providers() -> Iterable[Implementation[EvidenceProvider]]:
    return [
        Implementation("time", _time_provider, "compares against the trigger time"),
        Implementation("env", _env_provider, "reads allowed environment variables"),
        Implementation("json", _json_provider, "reads JSON/YAML files below a root"),
        Implementation("http", _http_provider, "one bounded GET: status or body hash"),
    ]


@hookimpl
def decision_gate_policy_deciders() -> Iterable[Implementation[PolicyDecider]]:
    return [
        Implementation("permit_all", _permit_all, "discloses every packet"),
        Implementation("deny_all", _deny_all, "discloses no packet"),
        Implementation("static", _static_policy, "ordered rules over targets and packets"),
    ]


@hookimpl
def decision_gate_dispatchers() -> Iterable[Implementation[Dispatcher]]:
    return [Implementation("record", _recording_dispatcher, "records receipts, delivers nothing")]
