"""Assembling a server from a validated config: seams, control plane, router.

`DecisionGateServer.start(config)` builds every seam through the plugin
layer (`decision_gate.plugins.load_seams`), the engine configuration (trust
lanes, dev-permissive, anchors), the provider capability registry and the
docs catalogue, and wires them into one `RpcService` that every transport
shares. The reference's `[server.audit]` table becomes a JSONL audit sink
unless the config lists `[[audit_sinks]]` itself, and its
`[namespace.authority] mode` selects the namespace authority implementation
of that name (so `assetcore_http` without such a plugin stops start-up). Start-up fails closed:
any error closes what was built and is raised typed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

import attrs

from decision_gate.config.model import DecisionGateConfig
from decision_gate.control_plane import ControlPlane
from decision_gate.core.engine import EngineConfig
from decision_gate.core.model import (
    AnchorRequirement,
    EvidenceAnchorPolicy,
    ProviderAnchorPolicy,
    TrustLane,
    TrustRequirement,
)
from decision_gate.plugins import Seams, load_seams
from decision_gate.plugins.guards import epoch_millis
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.server.auth import Authenticator
from decision_gate.server.capabilities import CapabilityRegistry
from decision_gate.server.correlation import ServerCorrelationIds
from decision_gate.server.docs import DocsCatalogue
from decision_gate.server.metrics import ServerMetrics
from decision_gate.server.rpc import RpcService
from decision_gate.server.tools import ToolRouter


def seam_sections(config: DecisionGateConfig) -> dict[str, Any]:
    """The config tables handed to `load_seams`, with `[server.audit]` as a sink."""
    sections = dict(config.sections)
    authority = config.namespace.authority
    if "namespace_authority" not in sections and authority.mode != "none":
        # The reference's `[namespace.authority]` selects an implementation by its mode; if
        # none is installed under that name, start-up stops instead of running unchecked.
        table: dict[str, Any] = {"type": authority.mode}
        if authority.assetcore is not None:
            table.update(attrs.asdict(authority.assetcore))
        sections["namespace_authority"] = table
    if "audit_sinks" not in sections and config.server.audit.enabled:
        sink: dict[str, Any] = {"type": "jsonl"}
        if config.server.audit.path is not None:
            sink["path"] = config.server.audit.path
        sections["audit_sinks"] = [sink]
    return sections


def engine_config(config: DecisionGateConfig) -> EngineConfig:
    """Trust and anchor settings for the engine (server.md §3.14, §4)."""
    min_lane = TrustLane(config.trust.min_lane)
    overrides: dict[str, TrustRequirement] = {}
    if config.dev_permissive:
        for provider_id in config.dev.permissive_exempt_providers:
            overrides[provider_id] = TrustRequirement(min_lane)
        min_lane = TrustLane.ASSERTED
    anchors = config.sections.get("anchors") or {}
    policy = EvidenceAnchorPolicy(
        providers=tuple(
            ProviderAnchorPolicy(
                provider_id=entry["provider_id"],
                requirement=AnchorRequirement(
                    anchor_type=entry["anchor_type"],
                    required_fields=tuple(entry["required_fields"]),
                ),
            )
            for entry in anchors.get("providers", ())
        )
    )
    return EngineConfig(
        trust_requirement=TrustRequirement(min_lane),
        anchor_policy=policy,
        provider_trust_overrides=overrides,
    )


def _transports(config: DecisionGateConfig) -> Mapping[str, str]:
    return {entry.name: entry.type for entry in config.providers}


class DecisionGateServer:
    """One running server's shared state; transports call `rpc.handle`."""

    def __init__(
        self,
        config: DecisionGateConfig,
        seams: Seams,
        *,
        auth_log: TextIO | None = None,
    ) -> None:
        self.config = config
        self.seams = seams
        self.correlation_ids = ServerCorrelationIds()
        self.plane = ControlPlane(
            seams.run_state_store,
            seams.providers,
            config=engine_config(config),
            policy=seams.policy,
            dispatcher=seams.dispatcher,
        )
        self.authenticator = Authenticator(config.server.auth_or_default)
        self.docs = DocsCatalogue.load(config.docs)
        providers = [seams.providers.get(pid) for pid in seams.providers.ids()]
        self.capabilities = CapabilityRegistry(
            [p for p in providers if p is not None], transports=_transports(config)
        )
        self.router = ToolRouter(
            config,
            seams,
            self.plane,
            self.capabilities,
            self.docs,
            authenticator=self.authenticator,
        )
        self.metrics = ServerMetrics()
        self.rpc = RpcService(
            self.router,
            self.authenticator,
            self.docs,
            seams.audit,
            auth_log=auth_log,
            metrics=self.metrics,
        )

    @classmethod
    async def start(
        cls, config: DecisionGateConfig, *, auth_log: TextIO | None = None
    ) -> DecisionGateServer:
        seams = await load_seams(seam_sections(config))
        try:
            server = cls(config, seams, auth_log=auth_log)
            if config.dev_permissive:
                await seams.audit.emit(
                    AuditEvent(
                        AuditEventKind.SECURITY,
                        {
                            "timestamp_ms": epoch_millis(),
                            "unsafe_client_correlation_id": None,
                            "server_correlation_id": "missing",
                            "kind": "dev_permissive_enabled",
                            "message": "dev-permissive mode enabled",
                            "dev_permissive": True,
                            "namespace_authority": seams.namespace_authority.security_context,
                        },
                    )
                )
        except BaseException:
            await seams.close()
            raise
        return server

    async def ready(self) -> bool:
        """Readiness: both stores answer (server.md §1.1 `/readyz`)."""
        try:
            await self.seams.run_state_store.readiness()
            await self.seams.schema_registry.readiness()
        except Exception:  # noqa: BLE001 - any failure means "not ready", reported as such
            return False
        return True

    async def close(self) -> None:
        await self.seams.close()


def warn(message: str, stream: TextIO | None = None) -> None:
    """One line on stderr for operators (start-up posture, warnings)."""
    target = stream if stream is not None else sys.stderr
    target.write(message + "\n")
    target.flush()
