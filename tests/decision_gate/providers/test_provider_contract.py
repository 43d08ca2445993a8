"""Provider contract files: a contract that cannot be enforced stops startup with a
message naming the provider (or file) and what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from decision_gate.contract import load_json
from decision_gate.providers.provider_contract import (
    MAX_CONTRACT_BYTES,
    ProviderContractError,
    check_provider_contract,
    contract_check_ids,
    load_provider_contract,
)


def contract(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "provider_id": "stub",
        "name": "Stub",
        "description": "A provider for tests.",
        "transport": "mcp",
        "config_schema": {"type": "object"},
        "checks": [
            {
                "check_id": "echo",
                "description": "Echoes the query.",
                "determinism": "external",
                "params_required": False,
                "params_schema": {"type": "object"},
                "result_schema": {"type": "object"},
                "allowed_comparators": ["equals", "not_equals", "exists", "not_exists"],
                "anchor_types": ["stub"],
                "content_types": ["application/json"],
                "examples": [{"description": "echo", "params": {}, "result": {}}],
            }
        ],
        "notes": [],
    }
    document.update(overrides)
    return document


def with_check(**overrides: Any) -> dict[str, Any]:
    document = contract()
    document["checks"][0].update(overrides)
    return document


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "stub.json"
    path.write_text(json.dumps(document))
    return path


def refusal(document: Any, provider_id: str = "stub") -> str:
    with pytest.raises(ProviderContractError) as caught:
        check_provider_contract(document, provider_id)
    return str(caught.value)


def test_a_valid_contract_loads_as_written(tmp_path: Path) -> None:
    loaded = load_provider_contract(write(tmp_path, contract()), "stub")
    assert loaded == contract()
    assert contract_check_ids(loaded) == ("echo",)


def test_every_builtin_contract_shape_is_accepted_for_an_mcp_provider() -> None:
    for builtin in load_json("providers.json"):
        document = copy.deepcopy(builtin)
        document["transport"] = "mcp"
        assert check_provider_contract(document, builtin["provider_id"]) == document


@pytest.mark.parametrize(
    "field",
    ["provider_id", "name", "description", "transport", "config_schema", "checks", "notes"],
)
def test_every_top_level_field_is_required(field: str) -> None:
    document = contract()
    del document[field]
    assert refusal(document) == (
        f"provider capability contract invalid: stub: '{field}' is a required property (at $)"
    )


@pytest.mark.parametrize(
    "field",
    [
        "check_id",
        "description",
        "determinism",
        "params_required",
        "params_schema",
        "result_schema",
        "allowed_comparators",
        "anchor_types",
        "content_types",
        "examples",
    ],
)
def test_every_check_field_is_required(field: str) -> None:
    document = contract()
    del document["checks"][0][field]
    message = refusal(document)
    assert f"'{field}' is a required property (at $.checks[0])" in message


def test_an_unknown_field_is_refused() -> None:
    assert "'version' was unexpected" in refusal(contract(version="1"))


def test_a_field_of_the_wrong_type_is_named_by_its_path() -> None:
    message = refusal(with_check(params_required="yes"))
    assert message.endswith("(at $.checks[0].params_required)")


def test_the_provider_id_must_be_the_configured_name() -> None:
    assert refusal(contract(), "other") == (
        "provider capability contract invalid: other: provider id mismatch "
        "(expected other, got stub)"
    )


def test_the_transport_must_be_mcp() -> None:
    assert refusal(contract(transport="builtin")).endswith(
        "external providers must declare transport=mcp"
    )


def test_comparators_must_not_be_empty() -> None:
    assert "(at $.checks[0].allowed_comparators)" in refusal(with_check(allowed_comparators=[]))


def test_comparators_must_be_known() -> None:
    assert "(at $.checks[0].allowed_comparators[0])" in refusal(
        with_check(allowed_comparators=["roughly_equals"])
    )


def test_comparators_must_be_in_canonical_order() -> None:
    assert refusal(with_check(allowed_comparators=["exists", "equals"])).endswith(
        "check echo comparators not in canonical order"
    )


def test_check_ids_must_be_unique() -> None:
    document = contract()
    document["checks"].append(copy.deepcopy(document["checks"][0]))
    assert refusal(document).endswith("check echo is declared twice")


@pytest.mark.parametrize("field", ["params_schema", "result_schema"])
def test_check_schemas_must_compile_as_draft_2020_12(field: str) -> None:
    message = refusal(with_check(**{field: {"type": 12}}))
    assert message.startswith("schema compilation failed for stub.echo: ")


def test_the_config_schema_must_compile() -> None:
    message = refusal(contract(config_schema={"minimum": "zero"}))
    assert message.startswith("schema compilation failed for stub.config_schema: ")


def test_a_file_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    document = contract(notes=["x" * MAX_CONTRACT_BYTES])
    with pytest.raises(ProviderContractError) as caught:
        load_provider_contract(write(tmp_path, document), "stub")
    assert str(caught.value) == (
        "provider capability contract invalid: stub: capability contract exceeds size limit"
    )


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stub.json"
    path.write_text("{provider_id: stub}")
    with pytest.raises(ProviderContractError) as caught:
        load_provider_contract(path, "stub")
    assert str(caught.value).startswith(f"provider capability contract parse failed: {path}: ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ProviderContractError) as caught:
        load_provider_contract(path, "stub")
    assert str(caught.value) == (
        f"provider capability contract read failed: {path}: No such file or directory"
    )


def test_an_overlong_path_component_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProviderContractError, match="path component too long"):
        load_provider_contract(tmp_path / ("a" * 300), "stub")
