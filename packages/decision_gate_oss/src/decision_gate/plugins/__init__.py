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
(default: `name`); `type = "mcp"` entries are left to the server. The
provider's `provider_id` must equal `name`.

`timeout_ms` in `tenant_authorizer`, `usage_meter` and `namespace_authority`
bounds each call (default 5000); after it the guard denies.
"""

from __future__ import annotations

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
    "build_implementation",
    "installed_plugins",
    "load_seams",
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
        """Close the stores and sinks (each is idempotent)."""
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
        registered: RegisteredImplementation[Any] = self.catalogue.select(seam, name)
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
            close = getattr(obj, "close", None)
            if close is not None and inspect.iscoroutinefunction(close):
                try:
                    await close()
                except Exception as error:  # noqa: BLE001 - the start-up error is the one raised
                    failure.add_note(
                        f"closing {type(obj).__name__} also failed: {type(error).__name__}"
                    )


async def _providers(builder: _Builder, entries: Sequence[Mapping[str, Any]]) -> ProviderRegistry:
    registry = ProviderRegistry()
    for entry in entries:
        name, kind = entry.get("name"), entry.get("type", "builtin")
        if kind == "mcp":
            continue
        if not isinstance(name, str) or not name:
            raise InvalidInput("[[providers]] name must be a non-empty string")
        if kind == "builtin":
            implementation: object = name
            if not builder.catalogue.select(Seam.EVIDENCE_PROVIDER, name).plugin.builtin:
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
            providers=await _providers(builder, _array(sections, "providers")),
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
