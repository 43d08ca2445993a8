"""What each configured provider can answer, from its published contract.

The built-in providers' contracts are `contract/providers.json`; a plugin
provider may carry its own as a `contract` attribute (the same JSON shape).
Specs and evidence queries are checked against them before anything runs
(server.md §2.2): the provider and check exist, required params are present
and match `params_schema`, the comparator is in the check's allow-list and the
expected value matches `result_schema` (omitted for exists/not_exists, an
array of matching values for in_set). Failures are -32602 with the
reference's `<code>: <detail>` messages. A provider without a contract is
checked for existence and check ids only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import jsonschema

from decision_gate.contract import load_json
from decision_gate.core.canonical import HashDigest, hash_canonical
from decision_gate.core.comparators import Comparator
from decision_gate.core.errors import InvalidInput
from decision_gate.core.model import EvidenceQuery, ScenarioSpec
from decision_gate.seams.evidence_provider import EvidenceProvider

MAX_MESSAGE_CHARS: Final = 400


class CapabilityViolation(InvalidInput):
    """A spec or query the provider contracts rule out: `<code>: <detail>`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.capability_code = code


@attrs.frozen
class CheckCapability:
    contract: Mapping[str, Any] | None
    params_validator: Any = None
    result_validator: Any = None


@attrs.frozen
class ProviderCapability:
    provider_id: str
    transport: str
    checks: Mapping[str, CheckCapability]
    contract: Mapping[str, Any] | None
    contract_hash: HashDigest | None
    source: str


def _validator(schema: Any) -> Any:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _builtin_contracts() -> dict[str, Mapping[str, Any]]:
    return {entry["provider_id"]: entry for entry in load_json("providers.json")}


class CapabilityRegistry:
    """The contracts of the providers a server runs with, by provider id."""

    def __init__(
        self, providers: Iterable[EvidenceProvider], *, transports: Mapping[str, str]
    ) -> None:
        builtin = _builtin_contracts()
        self._providers: dict[str, ProviderCapability] = {}
        for provider in providers:
            provider_id = provider.provider_id
            contract = getattr(provider, "contract", None)
            source = "file"
            if not isinstance(contract, Mapping):
                contract = builtin.get(provider_id)
                source = "builtin"
            checks: dict[str, CheckCapability] = {}
            if contract is not None:
                for check in contract["checks"]:
                    checks[check["check_id"]] = CheckCapability(
                        contract=check,
                        params_validator=_validator(check["params_schema"]),
                        result_validator=_validator(check["result_schema"]),
                    )
            else:
                checks = {check_id: CheckCapability(contract=None) for check_id in provider.checks}
            self._providers[provider_id] = ProviderCapability(
                provider_id=provider_id,
                transport=transports.get(provider_id, "builtin"),
                checks=checks,
                contract=contract,
                contract_hash=hash_canonical(dict(contract)) if contract is not None else None,
                source=source,
            )

    def provider_ids(self) -> list[str]:
        return sorted(self._providers)

    def provider(self, provider_id: str) -> ProviderCapability:
        found = self._providers.get(provider_id)
        if found is None:
            raise CapabilityViolation("provider_missing", f"provider not registered: {provider_id}")
        return found

    def check(self, provider_id: str, check_id: str) -> CheckCapability:
        found = self.provider(provider_id).checks.get(check_id)
        if found is None:
            raise CapabilityViolation(
                "check_missing", f"check not supported: {provider_id}.{check_id}"
            )
        return found

    def validate_query(self, query: EvidenceQuery) -> CheckCapability:
        capability = self.check(query.provider_id, query.check_id)
        if capability.contract is None:
            return capability
        label = f"{query.provider_id}.{query.check_id}"
        if capability.contract.get("params_required") and query.params is None:
            raise CapabilityViolation("params_missing", f"check params required for {label}")
        if query.params is not None:
            problems = _problems(capability.params_validator, query.params)
            if problems:
                raise CapabilityViolation(
                    "params_invalid", f"check params invalid for {label}: {label}: {problems}"
                )
        return capability

    def validate_spec(self, spec: ScenarioSpec) -> None:
        for condition in spec.conditions:
            query = condition.query
            capability = self.validate_query(query)
            if capability.contract is None:
                continue
            label = f"{query.provider_id}.{query.check_id}"
            _check_expected(capability, condition.comparator, condition.expected, label)
            allowed = capability.contract.get("allowed_comparators", ())
            if condition.comparator.value not in allowed:
                raise CapabilityViolation(
                    "comparator_not_allowed",
                    f"comparator not allowed for {label}: {condition.comparator.value}",
                )


def _problems(validator: Any, value: Any) -> str:
    messages = "; ".join(error.message for error in validator.iter_errors(value))
    if len(messages) > MAX_MESSAGE_CHARS:
        return messages[:MAX_MESSAGE_CHARS] + "..."
    return messages


def _check_expected(
    capability: CheckCapability, comparator: Comparator, expected: Any, label: str
) -> None:
    def invalid(detail: str) -> CapabilityViolation:
        return CapabilityViolation(
            "expected_invalid", f"check expected value invalid for {label}: {detail}"
        )

    if comparator in (Comparator.EXISTS, Comparator.NOT_EXISTS):
        if expected is not None:
            raise invalid("expected value must be omitted for exists/not_exists")
        return
    if comparator is Comparator.IN_SET:
        if not isinstance(expected, list | tuple):
            raise invalid("expected array required for in_set comparator")
        for value in expected:
            problems = _problems(capability.result_validator, value)
            if problems:
                raise invalid(f"{label}: {problems}")
        return
    if expected is None:
        raise invalid("expected value required for comparator")
    problems = _problems(capability.result_validator, expected)
    if problems:
        raise invalid(f"{label}: {problems}")
