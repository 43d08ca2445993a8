"""Building the seams from config: the one entry point the server and CLI use.

`load_seams(sections)` discovers the plugins (`manager`), picks for every seam
the implementation its config table names, calls that factory with the table,
checks the object against the seam's Protocol (`conformance`), wraps the
access seams and the audit sinks in their fail-closed guards (`guards`), and
finally calls `decision_gate_seams_loaded`. Any failure stops start-up with a
typed error naming the seam, the implementation and its plugin, and closes
what was already built.

Config tables (`sections`), all optional:

| key | shape | selector | default |
|---|---|---|---|
| `run_state_store` | table | `type` | `memory` |
| `schema_registry` | table | `type` | `memory` |
| `runpack_storage` | table or absent | `type` | none (exports need an explicit directory) |
| `tenant_authorizer` | table | `type` | `allow_all` |
| `usage_meter` | table | `type` | `noop` |
| `namespace_authority` | table | `type` | `none` |
| `audit_sinks` | array of tables | each `type` | none (no events kept) |
| `providers` | array of tables | see below | none |
| `policy` | table | `engine` | `permit_all` |
| `dispatcher` | table | `type` | `record` |

A `[[providers]]` entry with `type = "builtin"` selects decision-gate's own
implementation named like the entry's `name`; `type = "plugin"` selects `implementation`
(default: `name`); the provider's `provider_id` must equal `name`. A
`type = "mcp"` entry is an external provider (`providers.mcp_external`,
server.md §5.2), built here like the others so the server, the hooks and the
capability checks see one registry: its contract file is loaded, its process
spawned (stdio) or its URL checked (HTTP), and its trust policy is the entry's
`trust`, else `[trust] default_policy` (`audit` when absent). `Seams.close`
stops the providers, and a start-up failure stops those already built.

A name another distribution provides (`runpack_storage` `object_store`, the
reference's S3 storage, is decision-gate-enterprise's) is reported as such
when no installed plugin provides it. `resolve_selections` names every
table's implementation without building it: `config validate` uses it to
report an unknown name and which tables a third-party plugin checks.

`timeout_ms` in `tenant_authorizer`, `usage_meter` and `namespace_authority`
bounds each call (default 5000); after it the guard denies.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import attrs

from decision_gate.control_plane import ProviderRegistry
from decision_gate.core.engine import Dispatcher, PolicyDecider
from decision_gate.core.errors import DecisionGateError, InvalidInput
from decision_gate.plugins.conformance import ProtocolMismatch, require_protocol
from decision_gate.plugins.guards import (
    DEFAULT_SEAM_TIMEOUT_SECONDS,
    AuditFailure,
    AuditFanout,
    FailClosedAuthorizer,
    FailClosedMeter,
    FailClosedNamespaceAuthority,
)
from decision_gate.plugins.manager import PluginCatalogue, PluginError, discover_plugins
from decision_gate.plugins.records import (
    Implementation,
    PluginInfo,
    PluginStatus,
    RegisteredImplementation,
    Seam,
)
from decision_gate.seams.audit_sink import AuditSink
from decision_gate.seams.evidence_provider import EvidenceProvider
from decision_gate.seams.namespace_authority import NamespaceAuthority
from decision_gate.seams.run_state import RunStateStore
from decision_gate.seams.runpack_storage import RunpackStorage
from decision_gate.seams.schema_registry import SchemaRegistryStore
from decision_gate.seams.tenant_authorizer import TenantAuthorizer
from decision_gate.seams.usage_meter import UsageMeter

__all__ = [
    "AuditFailure",
    "Implementation",
    "PluginError",
    "PluginInfo",
    "PluginStatus",
    "ProtocolMismatch",
    "Seam",
    "SeamProtocols",
    "Seams",
    "Selection",
    "build_implementation",
    "installed_plugins",
    "load_seams",
    "resolve_selections",
]

SeamProtocols: Final[Mapping[Seam, type]] = {
    Seam.RUN_STATE_STORE: RunStateStore,
    Seam.SCHEMA_REGISTRY: SchemaRegistryStore,
    Seam.RUNPACK_STORAGE: RunpackStorage,
    Seam.TENANT_AUTHORIZER: TenantAuthorizer,
    Seam.USAGE_METER: UsageMeter,
    Seam.AUDIT_SINK: AuditSink,
    Seam.NAMESPACE_AUTHORITY: NamespaceAuthority,
    Seam.EVIDENCE_PROVIDER: EvidenceProvider,
    Seam.POLICY_DECIDER: PolicyDecider,
    Seam.DISPATCHER: Dispatcher,
}

DEFAULTS: Final[Mapping[Seam, str]] = {
    Seam.RUN_STATE_STORE: "memory",
    Seam.SCHEMA_REGISTRY: "memory",
    Seam.TENANT_AUTHORIZER: "allow_all",
    Seam.USAGE_METER: "noop",
    Seam.NAMESPACE_AUTHORITY: "none",
    Seam.POLICY_DECIDER: "permit_all",
    Seam.DISPATCHER: "record",
}

PROVIDED_ELSEWHERE: Final[Mapping[tuple[Seam, str], str]] = {
    (Seam.RUNPACK_STORAGE, "object_store"): "decision-gate-enterprise",
}
"""Implementations the reference defines that another distribution provides."""


def _select(catalogue: PluginCatalogue, seam: Seam, name: object) -> RegisteredImplementation[Any]:
    try:
        return catalogue.select(seam, name)
    except PluginError:
        distribution = PROVIDED_ELSEWHERE.get((seam, name)) if isinstance(name, str) else None
        if distribution is None:
            raise
        installed = ", ".join(catalogue.names(seam)) or "none"
        raise PluginError(
            f"{seam.value} type {name} is provided by {distribution}; installed: {installed}"
        ) from None


@attrs.frozen
class Selection:
    """The implementation one config table names, resolved but not built.

    `selector` is the TOML path of the key naming it (`runpack_storage.type`);
    `plugin` is the plugin that provides it; `problem` says why none does."""

    selector: str
    seam: Seam
    name: object
    plugin: PluginInfo | None
    problem: str | None = None


def _selected_tables(sections: Mapping[str, Any]) -> list[tuple[str, Seam, object]]:
    """Every selector `load_seams` builds from: its TOML path, the seam, the name it gives."""
    chosen: list[tuple[str, Seam, object]] = []
    for seam in (
        Seam.RUN_STATE_STORE,
        Seam.SCHEMA_REGISTRY,
        Seam.TENANT_AUTHORIZER,
        Seam.USAGE_METER,
        Seam.NAMESPACE_AUTHORITY,
        Seam.DISPATCHER,
    ):
        name = (_table(sections, seam.value) or {}).get("type", DEFAULTS[seam])
        chosen.append((f"{seam.value}.type", seam, name))
    runpack = _table(sections, Seam.RUNPACK_STORAGE.value)
    if runpack is not None:
        chosen.append(("runpack_storage.type", Seam.RUNPACK_STORAGE, runpack.get("type")))
    for index, sink in enumerate(_array(sections, "audit_sinks")):
        chosen.append((f"audit_sinks[{index}].type", Seam.AUDIT_SINK, sink.get("type")))
    policy = (_table(sections, "policy") or {}).get("engine", DEFAULTS[Seam.POLICY_DECIDER])
    chosen.append(("policy.engine", Seam.POLICY_DECIDER, policy))
    for index, entry in enumerate(_array(sections, "providers")):
        kind = entry.get("type", "builtin")
        if kind == "builtin":
            chosen.append((f"providers[{index}].name", Seam.EVIDENCE_PROVIDER, entry.get("name")))
        elif kind == "plugin":
            name = entry.get("implementation", entry.get("name"))
            chosen.append((f"providers[{index}].implementation", Seam.EVIDENCE_PROVIDER, name))
    return chosen


def resolve_selections(
    sections: Mapping[str, Any],
    *,
    only: Collection[str] | None = None,
    disable_third_party: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[Selection]:
    """Which installed plugin provides what each table selects (nothing is built)."""
    catalogue = discover_plugins(
        only=only, disable_third_party=disable_third_party, environ=environ
    )
    selections = []
    for table, seam, name in _selected_tables(sections):
        try:
            registered = _select(catalogue, seam, name)
        except PluginError as error:
            selections.append(Selection(table, seam, name, None, str(error)))
        else:
            selections.append(Selection(table, seam, name, registered.plugin))
    return selections


@attrs.frozen
class Seams:
    """Every seam, built and checked. The access seams and `audit` are the
    fail-closed guards; `audit_sinks` are the configured sinks themselves."""

    run_state_store: RunStateStore
    schema_registry: SchemaRegistryStore
    runpack_storage: RunpackStorage | None
    tenant_authorizer: FailClosedAuthorizer
    usage_meter: FailClosedMeter
    audit_sinks: tuple[AuditSink, ...]
    audit: AuditFanout
    namespace_authority: FailClosedNamespaceAuthority
    providers: ProviderRegistry
    policy: PolicyDecider
    dispatcher: Dispatcher
    plugins: tuple[PluginInfo, ...]

    async def close(self) -> None:
        """Close the providers, stores and sinks (each is idempotent)."""
        for provider_id in self.providers.ids():
            await _close(self.providers.get(provider_id))
        await self.run_state_store.close()
        await self.schema_registry.close()
        await self.namespace_authority.close()
        await self.audit.close()


def installed_plugins(
    *, only: Collection[str] | None = None, disable_third_party: bool = False
) -> list[PluginInfo]:
    """Every `decision_gate` entry point and what became of it, for the CLI table."""
    catalogue = discover_plugins(only=only, disable_third_party=disable_third_party)
    return list(catalogue.plugins)


def _table(sections: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = sections.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"[{key}] must be a table")
    return value


def _array(sections: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    value = sections.get(key)
    if value is None:
        return ()
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str | bytes)
        or not all(isinstance(item, Mapping) for item in value)
    ):
        raise InvalidInput(f"[[{key}]] must be an array of tables")
    return value


def _timeout(section: Mapping[str, Any], table: str) -> float:
    timeout_ms = section.get("timeout_ms")
    if timeout_ms is None:
        return DEFAULT_SEAM_TIMEOUT_SECONDS
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms < 1:
        raise InvalidInput(f"[{table}] timeout_ms must be a positive integer")
    return timeout_ms / 1000


class _Builder:
    """Builds implementations, remembering what to close if start-up fails."""

    def __init__(self, catalogue: PluginCatalogue) -> None:
        self.catalogue = catalogue
        self.built: list[object] = []

    async def build(self, seam: Seam, name: object, section: Mapping[str, Any]) -> Any:
        registered: RegisteredImplementation[Any] = _select(self.catalogue, seam, name)
        try:
            made = registered.implementation.factory(section)
            obj = await made if inspect.isawaitable(made) else made
        except DecisionGateError as error:
            raise PluginError(
                f"{seam.value} {registered.name!r} from plugin {registered.plugin.label} "
                f"failed to start: {error}"
            ) from None
        except Exception as error:  # noqa: BLE001 - a broken factory stops start-up, typed
            # Only the type: a foreign exception's text may carry a secret (a DSN, a key).
            raise PluginError(
                f"{seam.value} {registered.name!r} from plugin {registered.plugin.label} "
                f"failed to start: {type(error).__name__}"
            ) from None
        self.built.append(obj)
        require_protocol(obj, SeamProtocols[seam], registered)
        return obj

    async def build_table(
        self, seam: Seam, sections: Mapping[str, Any], selector: str = "type"
    ) -> Any:
        section = _table(sections, seam.value) or {}
        return await self.build(seam, section.get(selector, DEFAULTS[seam]), section)

    async def close_built(self, failure: BaseException) -> None:
        """Close what was built; a close that fails is noted on `failure`."""
        for obj in reversed(self.built):
            if getattr(obj, "close", None) is not None:
                try:
                    await _close(obj)
                except Exception as error:  # noqa: BLE001 - the start-up error is the one raised
                    failure.add_note(
                        f"closing {type(obj).__name__} also failed: {type(error).__name__}"
                    )


async def _close(obj: object) -> None:
    """`obj.close()`, awaited if async; a blocking one (an MCP provider joining its
    process) runs in a thread so the loop keeps serving while it ends."""
    close = getattr(obj, "close", None)
    if close is None:
        return
    if inspect.iscoroutinefunction(close):
        await close()
        return
    made = await asyncio.to_thread(close)
    if inspect.isawaitable(made):
        await made


def _default_trust(sections: Mapping[str, Any]) -> Any:
    return (_table(sections, "trust") or {}).get("default_policy", "audit")


def _optional_text(entry: Mapping[str, Any], key: str, name: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"[[providers]] {name}: {key} must be a string")
    return value


def _mcp_provider(entry: Mapping[str, Any], name: str, default_trust: Any) -> EvidenceProvider:
    """The external provider of one `type = "mcp"` entry."""
    # Imported here, not at the top: the MCP client shares the server's correlation-id
    # rules (`decision_gate.server`), and the server package imports this one.
    from decision_gate.providers.mcp_external import mcp_provider_from_config

    command = entry.get("command") or ()
    if not isinstance(command, list | tuple) or not all(isinstance(arg, str) for arg in command):
        raise InvalidInput(f"[[providers]] {name}: command must be an array of strings")
    return mcp_provider_from_config(
        name,
        capabilities_path=_optional_text(entry, "capabilities_path", name),
        command=tuple(command),
        url=_optional_text(entry, "url", name),
        allow_insecure_http=entry.get("allow_insecure_http") is True,
        auth=entry.get("auth"),
        timeouts=entry.get("timeouts"),
        trust=entry.get("trust"),
        default_trust=default_trust,
    )


async def _providers(
    builder: _Builder, entries: Sequence[Mapping[str, Any]], default_trust: Any = "audit"
) -> ProviderRegistry:
    registry = ProviderRegistry()
    for entry in entries:
        name, kind = entry.get("name"), entry.get("type", "builtin")
        if not isinstance(name, str) or not name:
            raise InvalidInput("[[providers]] name must be a non-empty string")
        if kind == "mcp":
            external = _mcp_provider(entry, name, default_trust)
            builder.built.append(external)
            registry.register(external)
            continue
        if kind == "builtin":
            implementation: object = name
            if not _select(builder.catalogue, Seam.EVIDENCE_PROVIDER, name).plugin.builtin:
                raise InvalidInput(
                    f'[[providers]] {name}: not a built-in provider; use type = "plugin"'
                )
        elif kind == "plugin":
            implementation = entry.get("implementation", name)
        else:
            raise InvalidInput(f"[[providers]] {name}: type must be builtin, plugin or mcp")
        provider: EvidenceProvider = await builder.build(
            Seam.EVIDENCE_PROVIDER, implementation, entry
        )
        if provider.provider_id != name:
            raise ProtocolMismatch(
                f"evidence_provider {implementation!r} answers as {provider.provider_id!r}, "
                f"but the config names it {name!r}"
            )
        registry.register(provider)
    return registry


async def build_implementation(
    seam: Seam | str,
    section: Mapping[str, Any],
    *,
    only: Collection[str] | None = None,
    disable_third_party: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """One seam's implementation, selected by `section`'s `type` (`engine` for
    the policy, `name`/`implementation` for a provider), built through plugin
    discovery and checked against the Protocol exactly as `load_seams` does,
    without the guards. For tests and tools that need a single seam."""
    if seam not in {s.value for s in Seam}:
        raise InvalidInput(f"unknown seam {seam!r}; seams: {', '.join(s.value for s in Seam)}")
    seam = Seam(seam)
    catalogue = discover_plugins(
        only=only, disable_third_party=disable_third_party, environ=environ
    )
    builder = _Builder(catalogue)
    if seam is Seam.EVIDENCE_PROVIDER:
        registry = await _providers(builder, [section])
        return registry.get(str(section.get("name")))
    selector = "engine" if seam is Seam.POLICY_DECIDER else "type"
    return await builder.build(seam, section.get(selector, DEFAULTS.get(seam)), section)


async def load_seams(
    sections: Mapping[str, Any],
    *,
    only: Collection[str] | None = None,
    disable_third_party: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Seams:
    """Discover plugins and build every seam the config selects (see the module doc)."""
    catalogue = discover_plugins(
        only=only, disable_third_party=disable_third_party, environ=environ
    )
    builder = _Builder(catalogue)
    try:
        run_state_store = await builder.build_table(Seam.RUN_STATE_STORE, sections)
        schema_registry = await builder.build_table(Seam.SCHEMA_REGISTRY, sections)
        runpack_section = _table(sections, Seam.RUNPACK_STORAGE.value)
        runpack_storage = (
            None
            if runpack_section is None
            else await builder.build(
                Seam.RUNPACK_STORAGE, runpack_section.get("type"), runpack_section
            )
        )
        sinks = [
            await builder.build(Seam.AUDIT_SINK, entry.get("type"), entry)
            for entry in _array(sections, "audit_sinks")
        ]
        audit = AuditFanout(sinks)
        authz_section = _table(sections, Seam.TENANT_AUTHORIZER.value) or {}
        meter_section = _table(sections, Seam.USAGE_METER.value) or {}
        authority_section = _table(sections, Seam.NAMESPACE_AUTHORITY.value) or {}
        policy_section = _table(sections, "policy") or {}
        seams = Seams(
            run_state_store=run_state_store,
            schema_registry=schema_registry,
            runpack_storage=runpack_storage,
            tenant_authorizer=FailClosedAuthorizer(
                await builder.build_table(Seam.TENANT_AUTHORIZER, sections),
                audit,
                timeout=_timeout(authz_section, Seam.TENANT_AUTHORIZER.value),
            ),
            usage_meter=FailClosedMeter(
                await builder.build_table(Seam.USAGE_METER, sections),
                audit,
                timeout=_timeout(meter_section, Seam.USAGE_METER.value),
            ),
            audit_sinks=tuple(sinks),
            audit=audit,
            namespace_authority=FailClosedNamespaceAuthority(
                await builder.build_table(Seam.NAMESPACE_AUTHORITY, sections),
                timeout=_timeout(authority_section, Seam.NAMESPACE_AUTHORITY.value),
            ),
            providers=await _providers(
                builder, _array(sections, "providers"), _default_trust(sections)
            ),
            policy=await builder.build(
                Seam.POLICY_DECIDER, policy_section.get("engine", "permit_all"), policy_section
            ),
            dispatcher=await builder.build_table(Seam.DISPATCHER, sections),
            plugins=catalogue.plugins,
        )
        catalogue.manager.hook.decision_gate_seams_loaded(seams=seams)
    except BaseException as failure:
        await builder.close_built(failure)
        raise
    return seams
