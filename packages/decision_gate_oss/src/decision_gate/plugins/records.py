"""What a plugin hands to decision_gate, and what decision_gate knows about a plugin.

A registration hook returns `Implementation` records: a name the config can
select and a factory taking that config section (conda's plugin records are
the model). The plugin manager attaches where each came from
(`PluginInfo`: entry-point name, distribution, version) so an error or the
`decision-gate plugins` table can always name the wheel responsible.

Invariants: implementation names are lower-case identifiers
(`[a-z][a-z0-9_]*`, at most 64 characters), unique per seam across every loaded
plugin; a record is immutable once returned.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import attrs

__all__ = [
    "Implementation",
    "PluginInfo",
    "PluginStatus",
    "RegisteredImplementation",
    "Seam",
]

_T_co = TypeVar("_T_co", covariant=True)
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")


class Seam(enum.StrEnum):
    """The pluggable parts; the value is the config table that selects one."""

    RUN_STATE_STORE = "run_state_store"
    SCHEMA_REGISTRY = "schema_registry"
    RUNPACK_STORAGE = "runpack_storage"
    TENANT_AUTHORIZER = "tenant_authorizer"
    USAGE_METER = "usage_meter"
    AUDIT_SINK = "audit_sink"
    NAMESPACE_AUTHORITY = "namespace_authority"
    EVIDENCE_PROVIDER = "evidence_provider"
    POLICY_DECIDER = "policy_decider"
    DISPATCHER = "dispatcher"

    @property
    def hook_name(self) -> str:
        """The registration hook for this seam (`decision_gate_<seam>s`, plural)."""
        return HOOK_NAMES[self]


HOOK_NAMES: Final[Mapping[Seam, str]] = {
    Seam.RUN_STATE_STORE: "decision_gate_run_state_stores",
    Seam.SCHEMA_REGISTRY: "decision_gate_schema_registries",
    Seam.RUNPACK_STORAGE: "decision_gate_runpack_storages",
    Seam.TENANT_AUTHORIZER: "decision_gate_tenant_authorizers",
    Seam.USAGE_METER: "decision_gate_usage_meters",
    Seam.AUDIT_SINK: "decision_gate_audit_sinks",
    Seam.NAMESPACE_AUTHORITY: "decision_gate_namespace_authorities",
    Seam.EVIDENCE_PROVIDER: "decision_gate_evidence_providers",
    Seam.POLICY_DECIDER: "decision_gate_policy_deciders",
    Seam.DISPATCHER: "decision_gate_dispatchers",
}


def _valid_name(_instance: object, _attribute: object, name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"implementation name {name!r} must be a lower-case identifier "
            "([a-z][a-z0-9_]*, at most 64 characters)"
        )


@attrs.frozen
class Implementation(Generic[_T_co]):
    """A named implementation of one seam, as a registration hook returns it.

    `factory` builds the object from its config section (the selected TOML
    table, `type` key included); it may return an awaitable for set-up that
    has to await.
    """

    name: str = attrs.field(validator=_valid_name)
    factory: Callable[[Mapping[str, Any]], _T_co | Awaitable[_T_co]]
    description: str = ""


class PluginStatus(enum.StrEnum):
    LOADED = "loaded"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen
class PluginInfo:
    """One entry point of the `decision_gate` group and what became of it.

    `error` (for FAILED) is the exception type and message of the failed
    import or registration; `implementations` maps a seam to the names it
    provides (empty unless LOADED).
    """

    name: str
    distribution: str
    version: str
    module: str
    status: PluginStatus
    error: str | None = None
    implementations: Mapping[Seam, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def builtin(self) -> bool:
        """Provided by the decision-gate distribution itself."""
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        """`plugin (distribution version)`, how errors name a plugin."""
        return f"{self.name} ({self.distribution} {self.version})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status.value,
            "builtin": self.builtin,
            "error": self.error,
            "implementations": {
                seam.value: list(names) for seam, names in sorted(self.implementations.items())
            },
        }


BUILTIN_DISTRIBUTION: Final = "decision-gate"


@attrs.frozen
class RegisteredImplementation(Generic[_T_co]):
    """An implementation together with the seam it serves and the plugin that gave it."""

    seam: Seam
    implementation: Implementation[_T_co]
    plugin: PluginInfo

    @property
    def name(self) -> str:
        return self.implementation.name
