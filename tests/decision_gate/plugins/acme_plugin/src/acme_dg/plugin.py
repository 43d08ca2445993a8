"""Acme's implementations, registered through decision-gate's hooks."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins.hookspecs import hookimpl
from decision_gate.plugins.records import Implementation
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage
from decision_gate.seams.audit_sink import AuditEvent
from decision_gate.seams.tenant_authorizer import AuthorizationDecision
from decision_gate.seams.usage_meter import UsageDecision


class AcmeAuditSink:
    """Every event as one JSON line in Acme's log, tagged with Acme's name."""

    def __init__(self, path: str, fail_on: Iterable[str] = ()) -> None:
        self.path = path
        self.fail_on = frozenset(fail_on)
        self._lock = asyncio.Lock()
        self._closed = False

    async def emit(self, event: AuditEvent) -> None:
        if self._closed:
            raise RuntimeError("acme audit sink is closed")
        if event.kind.value in self.fail_on:
            raise OSError("acme log volume is read-only")
        line = json.dumps({"acme": True, **event.to_json()}) + "\n"
        async with self._lock:
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(line)

    async def close(self) -> None:
        self._closed = True


class AcmeAuthorizer:
    """Denies the tenants on Acme's block list."""

    def __init__(self, blocked: Iterable[int]) -> None:
        self.blocked = frozenset(blocked)

    async def authorize(self, call: Any) -> AuthorizationDecision:
        if call.tenant_id in self.blocked:
            return AuthorizationDecision.deny("acme_tenant_blocked")
        return AuthorizationDecision.allow("acme_allowed")


class AcmeQuotaMeter:
    """Per-tenant limits per metric; records count once per idempotency key."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self.used: dict[tuple[int | None, str], int] = {}
        self.seen: set[str] = set()
        self._lock = asyncio.Lock()

    async def check(self, request: Any) -> UsageDecision:
        limit = self.limits.get(request.metric.value)
        if limit is None:
            return UsageDecision(True, "acme_unmetered")
        used = self.used.get((request.call.tenant_id, request.metric.value), 0)
        if used + request.units > limit:
            return UsageDecision(False, "acme_quota_exhausted")
        return UsageDecision(True, "acme_within_quota")

    async def record(self, request: Any, idempotency_key: str) -> None:
        async with self._lock:
            if idempotency_key in self.seen:
                return
            self.seen.add(idempotency_key)
            slot = (request.call.tenant_id, request.metric.value)
            self.used[slot] = self.used.get(slot, 0) + request.units


class AcmeRunpackVault:
    """Runpacks kept in Acme's vault folder (delegating the file rules to decision-gate's)."""

    def __init__(self, root: str) -> None:
        self.vault = os.path.join(root, "acme-vault")
        self._files = FilesystemRunpackStorage(self.vault)

    async def open_writer(self, target: Any, manifest_name: str) -> Any:
        return await self._files.open_writer(target, manifest_name)

    async def open_reader(self, target: Any) -> Any:
        return await self._files.open_reader(target)


def _audit_sink(section: Mapping[str, Any]) -> AcmeAuditSink:
    if not isinstance(section.get("path"), str):
        raise InvalidInput("acme audit sink needs a path")
    return AcmeAuditSink(section["path"], section.get("fail_on", ()))


def _authorizer(section: Mapping[str, Any]) -> AcmeAuthorizer:
    return AcmeAuthorizer(section.get("blocked_tenants", ()))


def _meter(section: Mapping[str, Any]) -> AcmeQuotaMeter:
    return AcmeQuotaMeter(section.get("limits", {}))


async def _vault(section: Mapping[str, Any]) -> AcmeRunpackVault:
    if not isinstance(section.get("root"), str):
        raise InvalidInput("acme runpack vault needs a root")
    return AcmeRunpackVault(section["root"])


@hookimpl
def decision_gate_audit_sinks() -> list[Implementation[Any]]:
    return [Implementation("acme_log", _audit_sink, "Acme's JSON-lines audit log")]


@hookimpl
def decision_gate_tenant_authorizers() -> list[Implementation[Any]]:
    return [Implementation("acme_blocklist", _authorizer, "denies blocked tenants")]


@hookimpl
def decision_gate_usage_meters() -> list[Implementation[Any]]:
    return [Implementation("acme_quota", _meter, "per-tenant quotas")]


@hookimpl
def decision_gate_runpack_storages() -> list[Implementation[Any]]:
    return [Implementation("acme_vault", _vault, "runpacks in Acme's vault")]
