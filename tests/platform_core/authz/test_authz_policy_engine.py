"""The deny-by-default policy engine and its audit trail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_core.authz.bindings import MemoryRoleBindingStore, SqliteRoleBindingStore
from platform_core.authz.engine import DecisionRecord, PolicyEngine
from platform_core.authz.roles import Role, RoleBinding, RoleCatalog, Scope
from platform_core.errors import InvalidInput, StorageError, Unauthorized
from platform_core.identity.principal import CredentialKind, Principal, PrincipalKind

if TYPE_CHECKING:
    from conftest import RecordingAuditor

ALICE = Principal("oidc:https://idp.test#alice", PrincipalKind.USER, CredentialKind.OIDC_JWT)
CI_KEY = Principal("apikey:K1", PrincipalKind.SERVICE, CredentialKind.API_KEY, tenant_id="acme")
PAYMENTS = Scope("acme", "payments")


def engine_with(
    auditor: RecordingAuditor, *bindings: RoleBinding, roles: RoleCatalog | None = None
) -> PolicyEngine:
    return PolicyEngine(
        MemoryRoleBindingStore(bindings), auditor, roles=roles, clock=lambda: 1_800_000_000.5
    )


async def test_no_binding_means_deny(auditor: RecordingAuditor) -> None:
    decision = await engine_with(auditor).decide(ALICE, "tool:scenario_start", PAYMENTS)
    assert not decision.allowed
    assert decision.reason == (
        "no role binding grants tool:scenario_start in tenant acme namespace payments"
    )


async def test_a_granting_binding_allows_and_names_the_role(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "project_admin", PAYMENTS))
    decision = await engine.decide(ALICE, "tool:scenario_start", PAYMENTS)
    assert decision.allowed
    assert decision.role == "project_admin"
    assert "project_admin" in decision.reason


async def test_tenant_wide_binding_covers_every_namespace(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "org_admin", Scope("acme")))
    assert (await engine.decide(ALICE, "registry:write", Scope("acme", "billing"))).allowed


async def test_namespace_binding_does_not_reach_other_namespaces(
    auditor: RecordingAuditor,
) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "project_admin", PAYMENTS))
    assert not (await engine.decide(ALICE, "registry:write", Scope("acme", "billing"))).allowed
    assert not (await engine.decide(ALICE, "registry:write", Scope("acme"))).allowed


async def test_bindings_in_one_tenant_grant_nothing_in_another(
    auditor: RecordingAuditor,
) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "org_admin", Scope("acme")))
    assert not (await engine.decide(ALICE, "registry:read", Scope("globex"))).allowed


async def test_another_subjects_binding_grants_nothing(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding("oidc:https://idp.test#bob", "org_admin", PAYMENTS))
    assert not (await engine.decide(ALICE, "registry:read", PAYMENTS)).allowed


async def test_a_role_without_the_permission_denies(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "auditor", PAYMENTS))
    assert (await engine.decide(ALICE, "registry:read", PAYMENTS)).allowed
    assert not (await engine.decide(ALICE, "registry:write", PAYMENTS)).allowed


async def test_a_binding_to_an_unknown_role_grants_nothing(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "ghost", PAYMENTS))
    assert not (await engine.decide(ALICE, "registry:read", PAYMENTS)).allowed


async def test_custom_roles_grant_their_permissions(auditor: RecordingAuditor) -> None:
    roles = RoleCatalog([Role("runner", {"tool:scenario_start"})])
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "runner", PAYMENTS), roles=roles)
    assert (await engine.decide(ALICE, "tool:scenario_start", PAYMENTS)).allowed
    assert not (await engine.decide(ALICE, "tool:scenario_define", PAYMENTS)).allowed


async def test_a_tenant_bound_credential_never_acts_in_another_tenant(
    auditor: RecordingAuditor,
) -> None:
    engine = engine_with(auditor, RoleBinding(CI_KEY.subject, "org_admin", Scope("globex")))
    decision = await engine.decide(CI_KEY, "registry:read", Scope("globex"))
    assert not decision.allowed
    assert "bound to tenant acme" in decision.reason


async def test_every_decision_is_audited_with_its_reason(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(CI_KEY.subject, "service", PAYMENTS))
    allow = await engine.decide(CI_KEY, "tool:scenario_next", PAYMENTS)
    deny = await engine.decide(CI_KEY, "registry:write", PAYMENTS)
    assert [(r.decision_id, r.allowed, r.reason) for r in auditor.records] == [
        (allow.decision_id, True, allow.reason),
        (deny.decision_id, False, deny.reason),
    ]


async def test_the_audit_record_is_flat_json_with_the_decision_facts(
    auditor: RecordingAuditor,
) -> None:
    engine = engine_with(auditor, RoleBinding(CI_KEY.subject, "service", Scope("acme")))
    await engine.decide(CI_KEY, "tool:scenario_next", PAYMENTS)
    record = json.loads(json.dumps(auditor.records[0].as_dict()))
    assert record == {
        "event": "authz_decision",
        "decision_id": auditor.records[0].decision_id,
        "occurred_at": 1_800_000_000.5,
        "subject": "apikey:K1",
        "principal_kind": "service",
        "credential": "api_key",
        "tenant_id": "acme",
        "namespace": "payments",
        "action": "tool:scenario_next",
        "allowed": True,
        "reason": "role service at tenant acme grants tool:scenario_next",
        "role": "service",
        "binding_namespace": None,
    }


async def test_an_auditor_that_raises_turns_allow_into_deny() -> None:
    class BrokenAuditor:
        async def record_decision(self, record: DecisionRecord) -> None:
            raise OSError("disk full")

    engine = PolicyEngine(
        MemoryRoleBindingStore([RoleBinding(ALICE.subject, "org_admin", PAYMENTS)]),
        BrokenAuditor(),
    )
    decision = await engine.decide(ALICE, "registry:read", PAYMENTS)
    assert not decision.allowed
    assert "could not be audited" in decision.reason
    assert decision.role is None


async def test_unreadable_bindings_deny_and_are_audited(auditor: RecordingAuditor) -> None:
    class DownStore:
        async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
            raise StorageError("connection refused")

    engine = PolicyEngine(DownStore(), auditor)
    decision = await engine.decide(ALICE, "registry:read", PAYMENTS)
    assert not decision.allowed
    assert decision.reason == "role bindings unavailable"
    assert auditor.records[0].reason == "role bindings unavailable"


async def test_require_raises_unauthorized_with_the_reason(auditor: RecordingAuditor) -> None:
    with pytest.raises(Unauthorized, match="no role binding grants registry:write"):
        await engine_with(auditor).require(ALICE, "registry:write", PAYMENTS)


async def test_require_returns_the_allow(auditor: RecordingAuditor) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, "auditor", PAYMENTS))
    assert (await engine.require(ALICE, "registry:read", PAYMENTS)).allowed


async def test_a_malformed_action_is_invalid_input(auditor: RecordingAuditor) -> None:
    with pytest.raises(InvalidInput):
        await engine_with(auditor).decide(ALICE, "scenario_start", PAYMENTS)


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(
    role=st.sampled_from(["org_admin", "project_admin", "auditor", "service"]),
    bound_ns=names,
    asked_ns=names,
    action=st.builds(lambda d, n: f"{d}:{n}", st.sampled_from(["tool", "registry"]), names),
)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_a_namespace_binding_never_allows_outside_its_namespace(
    auditor: RecordingAuditor, role: str, bound_ns: str, asked_ns: str, action: str
) -> None:
    engine = engine_with(auditor, RoleBinding(ALICE.subject, role, Scope("acme", bound_ns)))
    decision = await engine.decide(ALICE, action, Scope("acme", asked_ns))
    if bound_ns != asked_ns:
        assert not decision.allowed


async def test_an_auditor_that_hangs_turns_allow_into_deny() -> None:
    class HangingAuditor:
        async def record_decision(self, record: DecisionRecord) -> None:
            await asyncio.Event().wait()

    engine = PolicyEngine(
        MemoryRoleBindingStore([RoleBinding(ALICE.subject, "org_admin", PAYMENTS)]),
        HangingAuditor(),
        timeout_seconds=0.05,
    )
    decision = await engine.decide(ALICE, "registry:read", PAYMENTS)
    assert not decision.allowed
    assert "could not be audited" in decision.reason


async def test_bindings_that_hang_deny(auditor: RecordingAuditor) -> None:
    class HangingStore:
        async def bindings_for(self, subject: str, tenant_id: str) -> Sequence[RoleBinding]:
            await asyncio.Event().wait()
            return []

    engine = PolicyEngine(HangingStore(), auditor, timeout_seconds=0.05)
    decision = await engine.decide(ALICE, "registry:read", PAYMENTS)
    assert not decision.allowed
    assert auditor.records[0].reason == "role bindings unavailable"


async def test_decisions_against_a_real_sqlite_store_follow_grants_and_revocations(
    auditor: RecordingAuditor, tmp_path: Path
) -> None:
    store = await SqliteRoleBindingStore.open(tmp_path / "bindings.sqlite3")
    engine = PolicyEngine(store, auditor)
    binding = RoleBinding(ALICE.subject, "project_admin", PAYMENTS)
    await store.grant(binding)
    assert (await engine.decide(ALICE, "registry:write", PAYMENTS)).allowed
    await store.revoke(binding)
    assert not (await engine.decide(ALICE, "registry:write", PAYMENTS)).allowed


def test_a_non_positive_timeout_is_invalid_input(auditor: RecordingAuditor) -> None:
    with pytest.raises(InvalidInput):
        PolicyEngine(MemoryRoleBindingStore(), auditor, timeout_seconds=0)


@given(
    subject=st.text(alphabet="abcdefghij:#", min_size=1, max_size=20),
    tenant=names,
    namespace=st.none() | names,
    action=st.builds(lambda d, n: f"{d}:{n}", names, names),
)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_without_bindings_everything_is_denied_and_audited(
    auditor: RecordingAuditor, subject: str, tenant: str, namespace: str | None, action: str
) -> None:
    engine = PolicyEngine(MemoryRoleBindingStore(), auditor)
    principal = Principal(subject, PrincipalKind.USER, CredentialKind.OIDC_JWT)
    decision = await engine.decide(principal, action, Scope(tenant, namespace))
    assert not decision.allowed
    assert (auditor.records[-1].decision_id, auditor.records[-1].allowed) == (
        decision.decision_id,
        False,
    )
