"""The hook specifications of decision_gate (pluggy project `decision_gate`).

Every hook runs once, synchronously, while `load_seams` builds the seams at
start-up; none runs on the request path (the objects the factories return are
called directly there). A registration hook returns an iterable of
`Implementation` records; several plugins may implement the same hook and all
their records are collected. Each hook is documented with its exact signature
in docs/plugins.md (a meta-test compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import pluggy

if TYPE_CHECKING:
    from decision_gate.core.engine import Dispatcher, PolicyDecider
    from decision_gate.plugins import Seams
    from decision_gate.plugins.records import Implementation
    from decision_gate.seams.audit_sink import AuditSink
    from decision_gate.seams.evidence_provider import EvidenceProvider
    from decision_gate.seams.namespace_authority import NamespaceAuthority
    from decision_gate.seams.run_state import RunStateStore
    from decision_gate.seams.runpack_storage import RunpackStorage
    from decision_gate.seams.schema_registry import SchemaRegistryStore
    from decision_gate.seams.tenant_authorizer import TenantAuthorizer
    from decision_gate.seams.usage_meter import UsageMeter

PROJECT_NAME: Final = "decision_gate"
ENTRY_POINT_GROUP: Final = "decision_gate"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorate a plugin's hook functions with this (`@hookimpl`)."""


class DecisionGateHookSpecs:
    """The hooks a `decision_gate` plugin may implement."""

    @hookspec
    def decision_gate_run_state_stores(self) -> Iterable[Implementation[RunStateStore]]:
        """Run-state stores this plugin provides, selected by `[run_state_store] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_schema_registries(self) -> Iterable[Implementation[SchemaRegistryStore]]:
        """Schema registries this plugin provides, selected by `[schema_registry] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_runpack_storages(self) -> Iterable[Implementation[RunpackStorage]]:
        """Runpack storages this plugin provides, selected by `[runpack_storage] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_tenant_authorizers(self) -> Iterable[Implementation[TenantAuthorizer]]:
        """Tenant authorizers this plugin provides, selected by `[tenant_authorizer] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_usage_meters(self) -> Iterable[Implementation[UsageMeter]]:
        """Usage meters this plugin provides, selected by `[usage_meter] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_audit_sinks(self) -> Iterable[Implementation[AuditSink]]:
        """Audit sinks this plugin provides, selected by each `[[audit_sinks]] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_namespace_authorities(
        self,
    ) -> Iterable[Implementation[NamespaceAuthority]]:
        """Namespace authorities this plugin provides, selected by `[namespace_authority] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_evidence_providers(self) -> Iterable[Implementation[EvidenceProvider]]:
        """Evidence providers this plugin provides, selected by `[[providers]] name`
        (`type = "builtin"`) or `implementation` (`type = "plugin"`)."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_policy_deciders(self) -> Iterable[Implementation[PolicyDecider]]:
        """Dispatch policies this plugin provides, selected by `[policy] engine`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_dispatchers(self) -> Iterable[Implementation[Dispatcher]]:
        """Packet dispatchers this plugin provides, selected by `[dispatcher] type`."""
        raise AssertionError("hookspec")

    @hookspec
    def decision_gate_seams_loaded(self, seams: Seams) -> None:
        """Called once with the built seams, after every factory ran and every
        object passed its Protocol check; raising stops start-up."""
        raise AssertionError("hookspec")
