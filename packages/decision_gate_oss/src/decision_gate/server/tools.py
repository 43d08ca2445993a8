"""The tool router: one handler per tool of contract/tooling.json, behind the guards.

Every `tools/call` goes through the same gate sequence, in the reference's
observable order (server.md §2.1):

1. an unknown tool name is `unknown tool` (before authentication);
2. authenticate, then the `allowed_tools` allowlist (401 / 403);
3. tool visibility (`[server.tools]`, docs switches): hidden is `unknown tool`;
4. arguments are validated against the tool's published input schema
   (unknown fields rejected) and parsed into model values (-32602);
5. for tenant-scoped tools: the tenant authorizer, then the usage check for
   `tool_calls` (schemas_register checks its usage after the namespace guard);
6. the namespace guard: the default namespace rules, then the namespace
   authority (asked about tenant 0 when a spec names no default tenant, so a
   tenant-aware authority refuses rather than being skipped);
7. the tool's extra usage checks (`runs_started`, `evidence_queries`, ...);
8. the handler runs;
9. only after success, usage is recorded for every metric checked.

A denial anywhere is an error whose client message is one word; the reason
stays in the audit events the fail-closed seam wrappers emit. Handlers speak
the wire format of the reference: results are the JSON the output schemas
describe, errors are `DecisionGateError`s whose code and kind the transport
maps onto JSON-RPC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
import jsonschema

from decision_gate.config.model import DecisionGateConfig, FeedbackLevel, ToolVisibilityMode
from decision_gate.control_plane import ControlPlane
from decision_gate.core import engine
from decision_gate.core.canonical import canonical_json_bytes, hash_canonical
from decision_gate.core.engine import EvidenceRequest, ProviderFailure
from decision_gate.core.errors import Conflict, InvalidInput, NotFound, RunpackError
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import (
    EvidenceContext,
    EvidenceProviderError,
    EvidenceQuery,
    EvidenceResult,
    GateEvalRecord,
    NextRequest,
    RunConfig,
    ScenarioSpec,
    StatusRequest,
    SubmitRequest,
    Timestamp,
    TriggerEvent,
    TrustLane,
    parse,
    to_json,
)
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import SecurityContext, manifest_to_json
from decision_gate.plugins import Seams
from decision_gate.plugins.guards import epoch_millis
from decision_gate.runpack_export import DEFAULT_MANIFEST_NAME, export_runpack
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage, verify_runpack_directory
from decision_gate.seams.access import CallContext
from decision_gate.seams.audit_sink import AuditEvent, AuditEventKind
from decision_gate.seams.namespace_authority import NamespaceDecision
from decision_gate.seams.runpack_storage import RunpackDirectory, RunpackStorage, RunpackTarget
from decision_gate.seams.schema_registry import DataShapeRecord, schema_size
from decision_gate.seams.usage_meter import UsageMetric, UsageRequest
from decision_gate.server.auth import Authenticator, AuthOutcome, Caller
from decision_gate.server.capabilities import CapabilityRegistry
from decision_gate.server.catalogue import DOCS_SEARCH_TOOL, TOOL_NAMES, check_arguments
from decision_gate.server.correlation import sanitize_correlation_id
from decision_gate.server.docs import DocsCatalogue
from decision_gate.server.errors import MethodNotFound, ResponseTooLarge, Unauthorized
from decision_gate.server.registry_acl import RegistryAcl
from decision_gate.server.strict_validation import StrictValidator

DEFAULT_NAMESPACE_ID: Final = 1
NO_TENANT: Final = 0
MAX_LIST_LIMIT: Final = 1000
DEFAULT_LIST_LIMIT: Final = 50

# Where each tenant-scoped tool carries its tenant and namespace: the argument
# object holding `tenant_id`/`namespace_id` (None = top level), and the key of
# the tenant (scenario_define's spec names a default tenant).
_SCOPES: Final[Mapping[str, tuple[str | None, str]]] = {
    "scenario_define": ("spec", "default_tenant_id"),
    "scenario_start": ("run_config", "tenant_id"),
    "scenario_status": ("request", "tenant_id"),
    "scenario_next": ("request", "tenant_id"),
    "scenario_submit": ("request", "tenant_id"),
    "scenario_trigger": ("trigger", "tenant_id"),
    "evidence_query": ("context", "tenant_id"),
    "runpack_export": (None, "tenant_id"),
    "schemas_register": ("record", "tenant_id"),
    "schemas_list": (None, "tenant_id"),
    "schemas_get": (None, "tenant_id"),
    "scenarios_list": (None, "tenant_id"),
    "precheck": (None, "tenant_id"),
}
_EXTRA_METRICS: Final[Mapping[str, tuple[UsageMetric, ...]]] = {
    "scenario_start": (UsageMetric.RUNS_STARTED,),
    "evidence_query": (UsageMetric.EVIDENCE_QUERIES,),
    "runpack_export": (UsageMetric.RUNPACK_EXPORTS,),
}


@attrs.frozen
class ToolCall:
    """One `tools/call` as the router sees it."""

    name: str
    arguments: Any
    caller: Caller
    request_id: str | None
    client_correlation_id: str | None
    server_correlation_id: str


@attrs.frozen
class _Invocation:
    call: ToolCall
    auth: AuthOutcome
    arguments: Mapping[str, Any]
    tenant_id: int | None
    namespace_id: int | None

    def context(self) -> CallContext:
        return CallContext(
            principal=self.auth.principal,
            tool=self.call.name,
            tenant_id=self.tenant_id,
            namespace_id=self.namespace_id,
            request_id=self.call.request_id,
            client_correlation_id=self.call.client_correlation_id,
            server_correlation_id=self.call.server_correlation_id,
        )


Handler = Callable[[_Invocation], Awaitable[Any]]


@attrs.frozen
class _FeedbackGrant:
    """The feedback level a scenario_next caller asked for (or defaults to) and the one granted."""

    wanted: FeedbackLevel
    level: FeedbackLevel
    explicit: bool


class ToolRouter:
    """Runs tool calls against one control plane and one set of seams."""

    def __init__(
        self,
        config: DecisionGateConfig,
        seams: Seams,
        plane: ControlPlane,
        capabilities: CapabilityRegistry,
        docs: DocsCatalogue,
        *,
        authenticator: Authenticator,
        clock: Callable[[], int] = epoch_millis,
    ) -> None:
        self.config = config
        self.seams = seams
        self.plane = plane
        self.capabilities = capabilities
        self.docs = docs
        self.authenticator = authenticator
        self.acl = RegistryAcl(config, seams.audit, clock=clock)
        self.strict = StrictValidator(config.validation)
        self._clock = clock
        self._handlers: dict[str, Handler] = {
            "scenario_define": self._scenario_define,
            "scenario_start": self._scenario_start,
            "scenario_status": self._scenario_status,
            "scenario_next": self._scenario_next,
            "scenario_submit": self._scenario_submit,
            "scenario_trigger": self._scenario_trigger,
            "evidence_query": self._evidence_query,
            "runpack_export": self._runpack_export,
            "runpack_verify": self._runpack_verify,
            "providers_list": self._providers_list,
            "provider_contract_get": self._provider_contract_get,
            "provider_check_schema_get": self._provider_check_schema_get,
            "schemas_register": self._schemas_register,
            "schemas_list": self._schemas_list,
            "schemas_get": self._schemas_get,
            "scenarios_list": self._scenarios_list,
            "precheck": self._precheck,
            DOCS_SEARCH_TOOL: self._docs_search,
        }
        assert tuple(self._handlers) == TOOL_NAMES, "one handler per tool of tooling.json"

    # ------------------------------------------------------------------ visibility

    def is_visible(self, tool: str) -> bool:
        if tool == DOCS_SEARCH_TOOL and not self.docs.search_enabled:
            return False
        return self.config.server.tools.allows(tool)

    def listed_tools(self) -> list[str]:
        """The tools `tools/list` shows: all in passthrough mode, else the visible ones."""
        passthrough = self.config.server.tools.mode is ToolVisibilityMode.PASSTHROUGH
        return [
            name
            for name in TOOL_NAMES
            if (name != DOCS_SEARCH_TOOL or self.docs.search_enabled)
            and (passthrough or self.config.server.tools.allows(name))
        ]

    # ------------------------------------------------------------------ the gate sequence

    async def call(self, call: ToolCall, auth: Callable[[str], AuthOutcome]) -> Any:
        """Run one tool call through §2.1; `auth(action)` authenticates and audits."""
        handler = self._handlers.get(call.name)
        if handler is None:
            raise MethodNotFound("unknown tool")
        outcome = auth(call.name)
        if not self.is_visible(call.name):
            raise MethodNotFound("unknown tool")
        check_arguments(call.name, call.arguments)
        arguments: Mapping[str, Any] = call.arguments
        tenant_id, namespace_id = _scope(call.name, arguments)
        invocation = _Invocation(call, outcome, arguments, tenant_id, namespace_id)
        checked: list[UsageRequest] = []
        if call.name in _SCOPES:
            await self._authorize_tenant(invocation)
            if call.name != "schemas_register":
                checked.append(await self._check_usage(invocation, UsageMetric.TOOL_CALLS))
            await self._namespace_guard(invocation)
            if call.name == "schemas_register":
                schema = arguments["record"]["schema"]
                for metric, units in (
                    (UsageMetric.TOOL_CALLS, 1),
                    (UsageMetric.SCHEMAS_WRITTEN, 1),
                    (UsageMetric.REGISTRY_ENTRIES, 1),
                    (UsageMetric.STORAGE_BYTES, schema_size(schema)),
                ):
                    checked.append(await self._check_usage(invocation, metric, units))
            for metric in _EXTRA_METRICS.get(call.name, ()):
                checked.append(await self._check_usage(invocation, metric))
        result = await handler(invocation)
        for request in checked:
            await self.seams.usage_meter.record(
                request, f"{call.server_correlation_id}:{request.metric.value}"
            )
        return result

    async def _authorize_tenant(self, invocation: _Invocation) -> None:
        decision = await self.seams.tenant_authorizer.authorize(invocation.context())
        if not decision.allowed:
            raise Unauthorized(f"tenant authorizer: {decision.reason}")

    async def _check_usage(
        self, invocation: _Invocation, metric: UsageMetric, units: int = 1
    ) -> UsageRequest:
        request = UsageRequest(call=invocation.context(), metric=metric, units=units)
        decision = await self.seams.usage_meter.check(request)
        if not decision.allowed:
            raise Unauthorized(f"usage meter: {decision.reason}")
        return request

    async def _namespace_guard(self, invocation: _Invocation) -> None:
        namespace_id, tenant_id = invocation.namespace_id, invocation.tenant_id
        if namespace_id is None:
            return
        settings = self.config.namespace
        if namespace_id == DEFAULT_NAMESPACE_ID:
            if not settings.allow_default:
                raise Unauthorized("default namespace is disabled")
            if tenant_id is None or tenant_id not in settings.default_tenants:
                raise Unauthorized("tenant not allowed in the default namespace")
        call = invocation.call
        correlation = call.client_correlation_id or call.server_correlation_id
        # A spec without a default tenant is asked about as tenant 0, which no tenant-aware
        # authority grants: the call fails closed instead of skipping the authority.
        decision = await self.seams.namespace_authority.check(
            tenant_id if tenant_id is not None else NO_TENANT,
            namespace_id,
            correlation_id=correlation,
        )
        if decision is not NamespaceDecision.ALLOWED:
            raise Unauthorized(f"namespace authority: {decision.value}")

    # ------------------------------------------------------------------ scenarios and runs

    async def _scenario_define(self, invocation: _Invocation) -> Any:
        spec = parse(ScenarioSpec, invocation.arguments["spec"], "spec")
        stored = await self.plane.store.get_scenario(spec.scenario_id)
        if stored is not None and stored[1] != hash_canonical(to_json(spec)):
            raise Conflict("scenario already defined")
        self.capabilities.validate_spec(spec)
        self.strict.validate_spec(spec, self.capabilities)
        scenario_id, spec_hash = await self.plane.define(spec)
        return {"scenario_id": scenario_id, "spec_hash": spec_hash.to_json()}

    async def _scenario_start(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        state = await self.plane.start(
            arguments["scenario_id"],
            parse(RunConfig, arguments["run_config"], "run_config"),
            _timestamp(arguments["started_at"], "started_at"),
            issue_entry_packets=arguments["issue_entry_packets"],
        )
        return to_json(state)

    async def _scenario_status(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        request = parse(StatusRequest, arguments["request"], "request")
        return to_json(await self.plane.status(arguments["scenario_id"], request))

    async def _scenario_next(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        scenario_id = arguments["scenario_id"]
        request = parse(NextRequest, arguments["request"], "request")
        requested = arguments.get("feedback")
        grant = self._feedback_grant(
            invocation, request, FeedbackLevel(requested) if requested is not None else None
        )
        # The gate evaluations come with the decision (what the call appended), so
        # feedback costs the same on the thousandth trigger of a run as on the first.
        gate_evals: tuple[GateEvalRecord, ...] = ()
        if grant.level is FeedbackLevel.SUMMARY:
            result = await self.plane.next(scenario_id, request)
        else:
            outcome = await self.plane.next_with_gate_evals(scenario_id, request)
            result, gate_evals = outcome.result, outcome.gate_evals
        output: dict[str, Any] = to_json(result)
        feedback = await self._feedback(grant, scenario_id, gate_evals)
        if feedback is not None:
            output["feedback"] = feedback
        return output

    async def _scenario_submit(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        request = parse(SubmitRequest, arguments["request"], "request")
        return to_json(await self.plane.submit(arguments["scenario_id"], request))

    async def _scenario_trigger(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        event = parse(TriggerEvent, arguments["trigger"], "trigger")
        return to_json(await self.plane.trigger(arguments["scenario_id"], event))

    def _feedback_grant(
        self, invocation: _Invocation, request: NextRequest, requested: FeedbackLevel | None
    ) -> _FeedbackGrant:
        """server.md §2.2 scenario_next: the feedback level this caller may see."""
        policy = self.config.server.feedback.scenario_next
        local = invocation.auth.auth_method == "local"
        wanted = requested or (policy.local_only_default if local else policy.default)
        level = wanted if wanted.rank <= policy.max.rank else policy.max
        principal = invocation.auth.principal.principal_id
        roles = set(self.acl.scoped_roles(principal, request.tenant_id, request.namespace_id))

        def permitted(candidate: FeedbackLevel) -> bool:
            if candidate is FeedbackLevel.TRACE:
                return principal in policy.trace_subjects or bool(roles & set(policy.trace_roles))
            if candidate is FeedbackLevel.EVIDENCE:
                return principal in policy.evidence_subjects or bool(
                    roles & set(policy.evidence_roles)
                )
            return True

        if level is FeedbackLevel.EVIDENCE and not permitted(level):
            level = FeedbackLevel.TRACE
        if level is FeedbackLevel.TRACE and not permitted(level):
            level = FeedbackLevel.SUMMARY
        return _FeedbackGrant(wanted=wanted, level=level, explicit=requested is not None)

    async def _feedback(
        self, grant: _FeedbackGrant, scenario_id: str, gate_evals: tuple[GateEvalRecord, ...]
    ) -> dict[str, Any] | None:
        """The `feedback` object of a scenario_next result, or None when it is omitted.

        `gate_evals` are the records of the request's trigger id (server.md §2.2).
        """
        denied = grant.level.rank < grant.wanted.rank
        if grant.level is FeedbackLevel.SUMMARY and not grant.explicit and not denied:
            return None
        feedback: dict[str, Any] = {"level": grant.level.value}
        if denied:
            feedback["denied_reason"] = (
                f"feedback level denied (requested={grant.wanted.value}, "
                f"allowed={grant.level.value})"
            )
        if grant.level is FeedbackLevel.SUMMARY:
            return feedback
        if grant.level is FeedbackLevel.TRACE:
            feedback["gate_evaluations"] = [to_json(record.evaluation) for record in gate_evals]
        else:
            scenario = await self.plane.scenario(scenario_id)
            feedback["gate_records"] = [
                self._redacted_gate_record(scenario, record) for record in gate_evals
            ]
        return feedback

    def _redacted_gate_record(self, scenario: engine.Scenario, record: GateEvalRecord) -> Any:
        wire = to_json(record)
        for entry, evidence in zip(wire["evidence"], record.evidence, strict=True):
            result = entry["result"]
            condition = scenario.conditions.get(evidence.condition_id)
            provider_id = condition.query.provider_id if condition is not None else None
            if not self._raw_allowed(provider_id):
                result["value"] = None
                result["content_type"] = None
            if result.get("error") is not None:
                result["evidence_hash"] = None
        return wire

    # ------------------------------------------------------------------ evidence

    def _raw_allowed(self, provider_id: str | None) -> bool:
        evidence = self.config.evidence
        if not evidence.allow_raw_values:
            return False
        if not evidence.require_provider_opt_in:
            return True
        entry = next((p for p in self.config.providers if p.name == provider_id), None)
        return entry is not None and entry.allow_raw

    async def _evidence_query(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        query = parse(EvidenceQuery, arguments["query"], "query")
        context = parse(EvidenceContext, arguments["context"], "context")
        self.capabilities.validate_query(query)
        result: EvidenceResult
        if context.correlation_id is not None and (
            sanitize_correlation_id(context.correlation_id) is None
        ):
            result = _provider_error("invalid correlation id")
        else:
            request = EvidenceRequest(condition_id="query", query=query, context=context)
            outcome = (await self.plane.fetch_evidence((request,)))["query"]
            result = (
                _provider_error(outcome.message)
                if isinstance(outcome, ProviderFailure)
                else outcome
            )
        wire: dict[str, Any] = to_json(result)
        if result.error is not None:
            wire.update(value=None, content_type=None, evidence_hash=None)
        elif result.value is not None and result.evidence_hash is None:
            wire["evidence_hash"] = engine.evidence_hash(result.value).to_json()
        if not self._raw_allowed(query.provider_id):
            wire.update(value=None, content_type=None)
        return {"result": wire}

    # ------------------------------------------------------------------ runpacks

    async def _runpack_export(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        scenario = await self.plane.scenario(arguments["scenario_id"])
        key = RunKey(arguments["tenant_id"], arguments["namespace_id"], arguments["run_id"])
        if await self.plane.store.load_head(key) is None:
            raise NotFound("run not found")
        storage: RunpackStorage
        target: RunpackTarget
        configured = self.seams.runpack_storage
        if configured is not None:
            storage, target = configured, key
        elif arguments.get("output_dir"):
            storage = FilesystemRunpackStorage(arguments["output_dir"])
            target = RunpackDirectory(arguments["output_dir"])
        else:
            raise RunpackError("output_dir is required when runpack storage is not configured")
        exported = await export_runpack(
            self.plane.store,
            scenario,
            key,
            storage,
            target,
            generated_at=_timestamp(arguments["generated_at"], "generated_at"),
            include_verification=arguments["include_verification"],
            manifest_name=arguments.get("manifest_name") or DEFAULT_MANIFEST_NAME,
            anchor_policy=self.plane.config.anchor_policy,
            security=SecurityContext(
                dev_permissive=self.config.dev_permissive,
                namespace_authority=self.seams.namespace_authority.security_context,
            ),
        )
        output: dict[str, Any] = {
            "manifest": manifest_to_json(exported.manifest),
            "report": None if exported.report is None else to_json(exported.report),
        }
        if configured is not None:
            output["storage_uri"] = exported.location
        return output

    async def _runpack_verify(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        report = await verify_runpack_directory(
            arguments["runpack_dir"], arguments["manifest_path"]
        )
        wire = to_json(report)
        return {"report": wire, "status": wire["status"]}

    # ------------------------------------------------------------------ provider discovery

    async def _providers_list(self, invocation: _Invocation) -> Any:
        providers = []
        for provider_id in self.capabilities.provider_ids():
            capability = self.capabilities.provider(provider_id)
            providers.append(
                {
                    "provider_id": provider_id,
                    "transport": capability.transport,
                    "checks": sorted(capability.checks),
                }
            )
        return {"providers": providers}

    def _disclosable(self, provider_id: str) -> None:
        if not provider_id.strip():
            raise InvalidInput("provider_id must be non-empty")
        discovery = self.config.provider_discovery
        denied = provider_id in discovery.denylist or (
            bool(discovery.allowlist) and provider_id not in discovery.allowlist
        )
        if denied:
            raise Unauthorized("provider contract disclosure denied")

    def _bounded(self, response: dict[str, Any]) -> dict[str, Any]:
        limit = self.config.provider_discovery.max_response_bytes
        size = len(canonical_json_bytes(response))
        if size > limit:
            raise ResponseTooLarge(
                f"provider discovery response exceeds size limit ({size} > {limit})"
            )
        return response

    async def _provider_contract_get(self, invocation: _Invocation) -> Any:
        provider_id = invocation.arguments["provider_id"]
        self._disclosable(provider_id)
        capability = self.capabilities.provider(provider_id)
        if capability.contract is None or capability.contract_hash is None:
            raise NotFound(f"provider {provider_id} publishes no contract")
        return self._bounded(
            {
                "provider_id": provider_id,
                "contract": capability.contract,
                "contract_hash": capability.contract_hash.to_json(),
                "source": capability.source,
                "version": None,
            }
        )

    async def _provider_check_schema_get(self, invocation: _Invocation) -> Any:
        provider_id = invocation.arguments["provider_id"]
        check_id = invocation.arguments["check_id"]
        self._disclosable(provider_id)
        if not check_id.strip():
            raise InvalidInput("check_id must be non-empty")
        provider = self.capabilities.provider(provider_id)
        check = self.capabilities.check(provider_id, check_id).contract
        if check is None or provider.contract_hash is None:
            raise NotFound(f"provider {provider_id} publishes no contract")
        return self._bounded(
            {
                "provider_id": provider_id,
                "check_id": check_id,
                "params_required": check["params_required"],
                "params_schema": check["params_schema"],
                "result_schema": check["result_schema"],
                "allowed_comparators": check["allowed_comparators"],
                "determinism": check["determinism"],
                "anchor_types": check["anchor_types"],
                "content_types": check["content_types"],
                "examples": check["examples"],
                "contract_hash": provider.contract_hash.to_json(),
            }
        )

    # ------------------------------------------------------------------ schema registry

    async def _schemas_register(self, invocation: _Invocation) -> Any:
        raw = invocation.arguments["record"]
        await self.acl.require(invocation.context(), invocation.auth, "register", raw)
        signing = raw.get("signing")
        if self.acl.require_signing and (
            signing is None
            or not str(signing.get("key_id", "")).strip()
            or not str(signing.get("signature", "")).strip()
        ):
            raise Unauthorized("schema signing required")
        limit = self.acl.max_schema_bytes
        size = schema_size(raw["schema"])
        if size > limit:
            raise InvalidInput(f"schema exceeds size limit: {size} bytes (max {limit})")
        try:
            validator_class = jsonschema.validators.validator_for(
                raw["schema"], default=jsonschema.Draft202012Validator
            )
            validator_class.check_schema(raw["schema"])
        except jsonschema.SchemaError as error:
            raise InvalidInput(f"invalid schema: {error.message}") from None
        record = DataShapeRecord.from_json(raw)
        await self.seams.schema_registry.register(record)
        return {"record": record.to_json()}

    async def _schemas_list(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        limit = _limit(arguments.get("limit"))
        await self.acl.require(invocation.context(), invocation.auth, "list", arguments)
        page = await self.seams.schema_registry.list(
            arguments["tenant_id"], arguments["namespace_id"], arguments.get("cursor"), limit
        )
        return {
            "items": [record.to_json() for record in page.items],
            "next_token": page.next_token,
        }

    async def _schemas_get(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        await self.acl.require(invocation.context(), invocation.auth, "get", arguments)
        record = await self.seams.schema_registry.get(
            arguments["tenant_id"],
            arguments["namespace_id"],
            arguments["schema_id"],
            arguments["version"],
        )
        if record is None:
            raise NotFound("schema not found")
        return {"record": record.to_json()}

    async def _scenarios_list(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        limit = _limit(arguments.get("limit"))
        tenant_id, namespace_id = arguments["tenant_id"], arguments["namespace_id"]
        cursor = arguments.get("cursor")
        items = []
        for scenario_id, spec_hash in await self.plane.store.list_scenarios():
            spec = (await self.plane.scenario(scenario_id)).spec
            if spec.namespace_id != namespace_id:
                continue
            if spec.default_tenant_id is not None and spec.default_tenant_id != tenant_id:
                continue
            items.append(
                {
                    "scenario_id": scenario_id,
                    "namespace_id": spec.namespace_id,
                    "spec_hash": spec_hash.to_json(),
                }
            )
        ids = [item["scenario_id"] for item in items]
        start = ids.index(cursor) + 1 if cursor in ids else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {"items": page, "next_token": page[-1]["scenario_id"] if page and more else None}

    # ------------------------------------------------------------------ precheck

    async def _precheck(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        tenant_id, namespace_id = arguments["tenant_id"], arguments["namespace_id"]
        shape = arguments["data_shape"]
        record = await self.seams.schema_registry.get(
            tenant_id, namespace_id, shape["schema_id"], shape["version"]
        )
        if record is None:
            raise NotFound("schema not found")
        payload = arguments["payload"]
        schema: Any = record.schema
        try:
            validator_class = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(payload))
        except jsonschema.SchemaError as failure:
            raise InvalidInput(f"invalid schema: {failure.message}") from None
        if error is not None:
            raise InvalidInput(f"payload does not match schema: {error.message}")
        scenario = await self._precheck_scenario(arguments)
        spec = scenario.spec
        if spec.default_tenant_id is not None and spec.default_tenant_id != tenant_id:
            raise Unauthorized("precheck tenant does not match the scenario")
        self.strict.validate_precheck(spec, record.schema)
        evidence = _asserted_evidence(spec, payload)
        result = engine.precheck(scenario, arguments.get("stage_id"), evidence, self.plane.config)
        response = to_json(result)
        await self._precheck_audit(invocation, spec.scenario_id, record, arguments, response)
        return response

    async def _precheck_scenario(self, arguments: Mapping[str, Any]) -> engine.Scenario:
        scenario_id, raw_spec = arguments.get("scenario_id"), arguments.get("spec")
        namespace_id = arguments["namespace_id"]
        if raw_spec is not None:
            spec = parse(ScenarioSpec, raw_spec, "spec")
            if scenario_id is not None and scenario_id != spec.scenario_id:
                raise InvalidInput("scenario_id does not match spec")
            if spec.namespace_id != namespace_id:
                raise InvalidInput("namespace_id does not match spec")
            self.capabilities.validate_spec(spec)
            return engine.compile_scenario(spec)
        if scenario_id is None:
            raise InvalidInput("scenario_id or spec is required")
        scenario = await self.plane.scenario(scenario_id)
        if scenario.spec.namespace_id != namespace_id:
            raise NotFound("scenario not in namespace")
        return scenario

    async def _precheck_audit(
        self,
        invocation: _Invocation,
        scenario_id: str,
        record: DataShapeRecord,
        request: Mapping[str, Any],
        response: Any,
    ) -> None:
        with_payloads = self.config.server.audit.log_precheck_payloads
        call = invocation.call
        await self.seams.audit.emit(
            AuditEvent(
                AuditEventKind.PRECHECK,
                {
                    "timestamp_ms": self._clock(),
                    "request_id": call.request_id,
                    "tenant_id": str(invocation.tenant_id),
                    "namespace_id": str(invocation.namespace_id),
                    "unsafe_client_correlation_id": call.client_correlation_id,
                    "server_correlation_id": call.server_correlation_id,
                    "scenario_id": scenario_id,
                    "stage_id": request.get("stage_id"),
                    "schema_id": record.schema_id,
                    "schema_version": record.version,
                    "request_hash": hash_canonical(dict(request)).to_json(),
                    "response_hash": hash_canonical(response).to_json(),
                    "request": dict(request) if with_payloads else None,
                    "response": response if with_payloads else None,
                    "redaction": "payload" if with_payloads else "hash_only",
                },
            )
        )

    # ------------------------------------------------------------------ docs

    async def _docs_search(self, invocation: _Invocation) -> Any:
        arguments = invocation.arguments
        return self.docs.search(arguments["query"], arguments.get("max_sections"))


# ---------------------------------------------------------------------- helpers


def _scope(tool: str, arguments: Mapping[str, Any]) -> tuple[int | None, int | None]:
    where = _SCOPES.get(tool)
    if where is None:
        return None, None
    holder_key, tenant_key = where
    holder = arguments if holder_key is None else arguments[holder_key]
    return holder.get(tenant_key), holder.get("namespace_id")


def _timestamp(value: Any, what: str) -> Timestamp:
    return parse(Timestamp, value, what)  # type: ignore[arg-type]


def _limit(value: Any) -> int:
    limit = DEFAULT_LIST_LIMIT if value is None else value
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    return int(limit)


def _provider_error(message: str) -> EvidenceResult:
    return EvidenceResult(
        lane=TrustLane.VERIFIED,
        error=EvidenceProviderError(
            code="provider_error", message=f"evidence provider error: {message}", details=None
        ),
    )


def _asserted_evidence(spec: ScenarioSpec, payload: Any) -> dict[str, EvidenceResult]:
    """The payload as asserted evidence: one value per condition id (server.md precheck)."""
    conditions = [condition.condition_id for condition in spec.conditions]
    if isinstance(payload, dict):
        values = {cid: payload[cid] for cid in conditions if cid in payload}
    elif len(conditions) == 1:
        values = {conditions[0]: payload}
    else:
        raise InvalidInput("payload must be an object keyed by condition ids")
    return {
        cid: EvidenceResult(
            value=JsonEvidence(value),
            lane=TrustLane.ASSERTED,
            evidence_hash=hash_canonical(value),
            content_type="application/json",
        )
        for cid, value in values.items()
    }
