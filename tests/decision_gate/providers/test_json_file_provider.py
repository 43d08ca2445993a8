"""The `json` provider: rooted paths, size caps, JSON/YAML parsing and JSONPath selection.

Failures are results with a structured error (the reference's codes), so the
record of a run says why a condition could not be evaluated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from decision_gate.core.errors import InvalidInput
from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceResult
from decision_gate.providers.json_file import JsonFileProvider


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps({"tests": {"failed": 0, "big": 2**64}}))
    (folder / "config.yaml").write_text("release: 2024-05-01\nreplicas: 3\n")
    return folder


def ask(root: Path, params: Any, **config: Any) -> EvidenceResult:
    return JsonFileProvider(root=root, root_id="evidence", **config).answer(params)


def error_code(result: EvidenceResult) -> str:
    assert result.value is None
    assert result.error is not None
    return result.error.code


def test_selects_a_value_with_jsonpath(root: Path) -> None:
    result = ask(root, {"file": "report.json", "jsonpath": "$.tests.failed"})
    assert result.value == JsonEvidence(0)
    assert result.content_type == "application/json"


def test_without_jsonpath_returns_the_whole_document(root: Path) -> None:
    result = ask(root, {"file": "report.json"})
    assert isinstance(result.value, JsonEvidence)
    assert result.value.value["tests"]["failed"] == 0  # type: ignore[index,call-overload]


def test_integers_beyond_u64_become_floats_as_in_the_reference(root: Path) -> None:
    result = ask(root, {"file": "report.json", "jsonpath": "$.tests.big"})
    assert isinstance(result.value, JsonEvidence)
    assert isinstance(result.value.value, float)


def test_yaml_dates_stay_strings(root: Path) -> None:
    result = ask(root, {"file": "config.yaml", "jsonpath": "$.release"})
    assert result.value == JsonEvidence("2024-05-01")
    assert result.content_type == "application/yaml"


def test_reference_and_anchor_name_the_rooted_path(root: Path) -> None:
    result = ask(root, {"file": "report.json"})
    assert result.evidence_ref is not None
    assert result.evidence_anchor is not None
    assert result.evidence_ref.uri == "dg+file://evidence/report.json"
    assert result.evidence_anchor.anchor_value == '{"path":"report.json","root_id":"evidence"}'


def test_several_matches_become_an_array(root: Path) -> None:
    (root / "list.json").write_text(json.dumps({"items": [{"n": 1}, {"n": 2}]}))
    assert ask(root, {"file": "list.json", "jsonpath": "$.items[*].n"}).value == JsonEvidence(
        [1, 2]
    )


def test_no_match_is_jsonpath_not_found(root: Path) -> None:
    assert error_code(ask(root, {"file": "report.json", "jsonpath": "$.nope"})) == (
        "jsonpath_not_found"
    )


def test_bad_jsonpath_is_invalid_jsonpath(root: Path) -> None:
    assert error_code(ask(root, {"file": "report.json", "jsonpath": "$[[["})) == "invalid_jsonpath"


def test_parent_traversal_is_outside_root(root: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.json").write_text("{}")
    assert error_code(ask(root, {"file": "../outside.json"})) == "path_outside_root"


def test_symlink_pointing_out_of_root_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text('{"token": "s3cr3t"}')
    os.symlink(tmp_path / "secret.json", root / "link.json")
    result = ask(root, {"file": "link.json"})
    assert error_code(result) == "path_outside_root"
    assert "s3cr3t" not in repr(result)


def test_absolute_path_is_forbidden(root: Path) -> None:
    assert error_code(ask(root, {"file": str(root / "report.json")})) == "absolute_path_forbidden"


def test_missing_file_is_file_not_found(root: Path) -> None:
    assert error_code(ask(root, {"file": "absent.json"})) == "file_not_found"


def test_file_over_the_cap_is_size_limit_exceeded(root: Path) -> None:
    result = ask(root, {"file": "report.json"}, max_bytes=10)
    assert error_code(result) == "size_limit_exceeded"
    assert result.error is not None
    assert result.error.details == {"file": "report.json", "max_bytes": 10, "actual_bytes": 11}


def test_invalid_json_is_reported(root: Path) -> None:
    (root / "broken.json").write_text("{nope")
    assert error_code(ask(root, {"file": "broken.json"})) == "invalid_json"


def test_yaml_can_be_disabled(root: Path) -> None:
    assert error_code(ask(root, {"file": "config.yaml"}, allow_yaml=False)) == "yaml_disabled"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (None, "params_missing"),
        ([], "params_invalid"),
        ({}, "params_missing"),
        ({"file": 3}, "params_invalid"),
        ({"file": "report.json", "jsonpath": 3}, "params_invalid"),
        ({"file": ""}, "path_missing"),
    ],
)
def test_bad_params_are_structured_errors(root: Path, params: Any, code: str) -> None:
    assert error_code(ask(root, params)) == code


def test_root_id_is_validated(root: Path) -> None:
    with pytest.raises(InvalidInput, match="root_id"):
        JsonFileProvider(root=root, root_id="Not Valid")


def test_root_must_be_a_directory(root: Path) -> None:
    with pytest.raises(InvalidInput, match="not a directory"):
        JsonFileProvider(root=root / "report.json", root_id="r")
