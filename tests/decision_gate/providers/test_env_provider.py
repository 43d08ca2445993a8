"""The `env` provider: policy before lookup, limits, and no dependence on the machine when
overrides are configured."""

from __future__ import annotations

from typing import Any

import pytest

from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceContext, EvidenceQuery, EvidenceResult, Logical
from decision_gate.providers.env import EnvProvider
from decision_gate.seams.evidence_provider import EvidenceProviderFailure

CONTEXT = EvidenceContext(1, 1, "run", "scenario", "stage", "trigger", Logical(1))  # type: ignore[arg-type]


async def ask(provider: EnvProvider, params: Any) -> EvidenceResult:
    return await provider.query(EvidenceQuery("env", "get", params), CONTEXT)


async def test_reads_the_given_environment() -> None:
    result = await ask(EnvProvider(environ={"DEPLOY_ENV": "prod"}), {"key": "DEPLOY_ENV"})
    assert result.value == JsonEvidence("prod")
    assert result.content_type == "text/plain"


async def test_missing_key_is_no_evidence_not_an_error() -> None:
    result = await ask(EnvProvider(environ={}), {"key": "ABSENT"})
    assert result.value is None
    assert result.error is None


async def test_overrides_replace_the_environment_entirely() -> None:
    provider = EnvProvider(environ={"A": "from-env"}, overrides={"B": "override"})
    assert (await ask(provider, {"key": "B"})).value == JsonEvidence("override")
    assert (await ask(provider, {"key": "A"})).value is None


async def test_denylisted_key_is_blocked() -> None:
    with pytest.raises(EvidenceProviderFailure, match="env key blocked by policy"):
        await ask(EnvProvider(environ={"SECRET": "x"}, denylist=["SECRET"]), {"key": "SECRET"})


async def test_key_outside_the_allowlist_is_blocked() -> None:
    provider = EnvProvider(environ={"OTHER": "x"}, allowlist=["DEPLOY_ENV"])
    with pytest.raises(EvidenceProviderFailure, match="env key blocked by policy"):
        await ask(provider, {"key": "OTHER"})


async def test_oversized_value_fails_without_echoing_it() -> None:
    provider = EnvProvider(environ={"BIG": "s3cr3t" * 10}, max_value_bytes=8)
    with pytest.raises(EvidenceProviderFailure) as failure:
        await ask(provider, {"key": "BIG"})
    assert str(failure.value) == "env value exceeds limit"


async def test_oversized_key_fails() -> None:
    with pytest.raises(EvidenceProviderFailure, match="env key exceeds limit"):
        await ask(EnvProvider(environ={}, max_key_bytes=3), {"key": "LONGKEY"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (None, "env check requires params"),
        ("KEY", "env params must be an object"),
        ({}, "missing env key"),
        ({"key": 1}, "env key must be a string"),
    ],
)
async def test_bad_params_fail_with_the_reference_message(params: Any, message: str) -> None:
    with pytest.raises(EvidenceProviderFailure, match=f"^{message}$"):
        await ask(EnvProvider(environ={}), params)
