"""Discovery: which plugins are installed, which load, and what they register.

Plugins are modules named by entry points of the `decision_gate` group; our
own built-ins are one of them (`decision_gate.plugins.builtin`, declared in
decision-gate's own pyproject), found and registered exactly like a
third-party wheel. Invariants:
- A plugin that fails to import, or whose hooks do not match a hookspec
  (`check_pending`), or whose registration hook raises or returns something
  other than `Implementation` records, is reported as FAILED with its
  distribution name and version; it contributes nothing. Start-up stops only
  if the config then selects a name no loaded plugin provides.
- `only` names the plugins to load; `disable_third_party` skips every plugin
  not shipped in the decision-gate distribution. Plugins of decision-gate
  itself are always loaded: they are decision-gate, not extensions of it.
  Both switches also come from the environment (`DECISION_GATE_PLUGINS`,
  a comma-separated list, and `DECISION_GATE_DISABLE_PLUGINS=1`).
- Two plugins registering the same name for one seam is an error naming both.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from importlib import metadata
from typing import Any, Final

import attrs
import pluggy

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins.hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME, DecisionGateHookSpecs
from decision_gate.plugins.records import (
    BUILTIN_DISTRIBUTION,
    HOOK_NAMES,
    Implementation,
    PluginInfo,
    PluginStatus,
    RegisteredImplementation,
    Seam,
)
from decision_gate.providers import BUILTIN_PROVIDER_IDS

__all__ = [
    "DISABLE_PLUGINS_ENV",
    "LOAD_PLUGINS_ENV",
    "PluginCatalogue",
    "PluginError",
    "discover_plugins",
]

LOAD_PLUGINS_ENV: Final = "DECISION_GATE_PLUGINS"
DISABLE_PLUGINS_ENV: Final = "DECISION_GATE_DISABLE_PLUGINS"


class PluginError(InvalidInput):
    """A plugin, or the config's choice of one, stops start-up."""


@attrs.frozen
class PluginCatalogue:
    """Every discovered plugin and every implementation the loaded ones registered."""

    plugins: tuple[PluginInfo, ...]
    implementations: Mapping[Seam, Mapping[str, RegisteredImplementation[Any]]]
    manager: pluggy.PluginManager = attrs.field(eq=False, repr=False)

    @property
    def failures(self) -> tuple[PluginInfo, ...]:
        return tuple(p for p in self.plugins if p.status is PluginStatus.FAILED)

    def names(self, seam: Seam) -> list[str]:
        return sorted(self.implementations.get(seam, {}))

    def select(self, seam: Seam, name: object) -> RegisteredImplementation[Any]:
        """The implementation the config names for `seam`, or a `PluginError`
        listing what is installed (and which plugins failed to load)."""
        found = self.implementations.get(seam, {}).get(name) if isinstance(name, str) else None
        if found is not None:
            return found
        installed = ", ".join(self.names(seam)) or "none"
        message = f"unknown {seam.value} type {name!r}; installed: {installed}"
        if self.failures:
            failed = "; ".join(f"{p.label}: {p.error}" for p in self.failures)
            message += f"; plugins that failed to load: {failed}"
        raise PluginError(message)


def switches_from_env(
    only: Collection[str] | None, disable_third_party: bool, environ: Mapping[str, str]
) -> tuple[frozenset[str] | None, bool]:
    """The effective switches: explicit arguments win, the environment fills in."""
    if only is None and environ.get(LOAD_PLUGINS_ENV) is not None:
        only = [n.strip() for n in environ[LOAD_PLUGINS_ENV].split(",") if n.strip()]
    disabled = environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    return (frozenset(only) if only is not None else None), disable_third_party or disabled


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(DecisionGateHookSpecs)
    return manager


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


def _precedence(entry_point: metadata.EntryPoint) -> tuple[str, bool, str]:
    """Name order; under one name decision-gate's own entry point comes first, so a
    third-party plugin can never take the place of a built-in one."""
    distribution, _ = _distribution_of(entry_point)
    return entry_point.name, distribution != BUILTIN_DISTRIBUTION, entry_point.value


def _describe(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def discover_plugins(
    *,
    only: Collection[str] | None = None,
    disable_third_party: bool = False,
    environ: Mapping[str, str] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> PluginCatalogue:
    """Load the `decision_gate` entry points and collect their registrations."""
    selected, third_party_off = switches_from_env(
        only, disable_third_party, os.environ if environ is None else environ
    )
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    manager = _new_manager()
    plugins: list[PluginInfo] = []
    registrations: list[tuple[PluginInfo, dict[Seam, list[Implementation[Any]]]]] = []
    seen: dict[str, PluginInfo] = {}
    for entry_point in sorted(entry_points, key=_precedence):
        distribution, version = _distribution_of(entry_point)
        info = PluginInfo(
            name=entry_point.name,
            distribution=distribution,
            version=version,
            module=entry_point.value,
            status=PluginStatus.LOADED,
        )
        first = seen.get(info.name)
        if first is not None:
            if (first.distribution, first.module) != (info.distribution, info.module):
                error = f"plugin name {info.name!r} is already taken by {first.label}"
                plugins.append(attrs.evolve(info, status=PluginStatus.FAILED, error=error))
            continue
        seen[info.name] = info
        if not info.builtin and (
            third_party_off or (selected is not None and info.name not in selected)
        ):
            plugins.append(attrs.evolve(info, status=PluginStatus.SKIPPED))
            continue
        loaded, registered = _load_one(manager, entry_point, info)
        plugins.append(loaded)
        if loaded.status is PluginStatus.LOADED:
            registrations.append((loaded, registered))
    if selected is not None:
        unknown = sorted(selected - {p.name for p in plugins})
        if unknown:
            raise PluginError(
                f"{LOAD_PLUGINS_ENV}/only names plugins that are not installed: "
                f"{', '.join(unknown)}; installed: {', '.join(p.name for p in plugins) or 'none'}"
            )
    return PluginCatalogue(
        plugins=tuple(plugins), implementations=_index(registrations), manager=manager
    )


def _load_one(
    manager: pluggy.PluginManager, entry_point: metadata.EntryPoint, info: PluginInfo
) -> tuple[PluginInfo, dict[Seam, list[Implementation[Any]]]]:
    """Import one plugin, validate its hooks and call its registration hooks
    (alone, in a manager of its own, so a failure is pinned on it)."""
    try:
        plugin = entry_point.load()
        probe = _new_manager()
        probe.register(plugin, name=info.name)
        probe.check_pending()
        registered = _registrations(probe)
        _check_reserved(info, registered)
        manager.register(plugin, name=info.name)
    except Exception as error:  # noqa: BLE001 - any plugin failure is reported with its wheel
        return attrs.evolve(info, status=PluginStatus.FAILED, error=_describe(error)), {}
    names = {seam: tuple(impl.name for impl in impls) for seam, impls in registered.items()}
    return attrs.evolve(info, implementations=names), registered


def _check_reserved(info: PluginInfo, registered: Mapping[Seam, list[Implementation[Any]]]) -> None:
    if info.builtin:
        return
    taken = sorted(
        impl.name
        for impl in registered.get(Seam.EVIDENCE_PROVIDER, [])
        if impl.name in BUILTIN_PROVIDER_IDS
    )
    if taken:
        raise InvalidInput(
            f"evidence provider names are reserved for built-ins: {', '.join(taken)}"
        )


def _registrations(manager: pluggy.PluginManager) -> dict[Seam, list[Implementation[Any]]]:
    """Call every registration hook once, checking what comes back."""
    registered: dict[Seam, list[Implementation[Any]]] = {}
    for seam, hook_name in HOOK_NAMES.items():
        for result in getattr(manager.hook, hook_name)():
            items = list(result)
            for item in items:
                if not isinstance(item, Implementation):
                    raise InvalidInput(
                        f"{hook_name} returned {type(item).__name__}, not an Implementation"
                    )
            registered.setdefault(seam, []).extend(items)
    return {seam: impls for seam, impls in registered.items() if impls}


def _index(
    registrations: list[tuple[PluginInfo, dict[Seam, list[Implementation[Any]]]]],
) -> dict[Seam, dict[str, RegisteredImplementation[Any]]]:
    by_seam: dict[Seam, dict[str, RegisteredImplementation[Any]]] = {}
    for info, registered in registrations:
        for seam, impls in registered.items():
            slot = by_seam.setdefault(seam, {})
            for impl in impls:
                other = slot.get(impl.name)
                if other is not None:
                    raise PluginError(
                        f"{seam.value} {impl.name!r} is registered by both "
                        f"{other.plugin.label} and {info.label}"
                    )
                slot[impl.name] = RegisteredImplementation(seam, impl, info)
    return by_seam
