"""Tool behaviours behind the router (server.md §2.2, §8 items 38-82)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

TOKEN = "semantics-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def spec(scenario_id: str = "gate", *, namespace_id: int = 1, threshold: int = 1) -> dict[str, Any]:
    return {
        "scenario_id": scenario_id,
        "namespace_id": namespace_id,
        "spec_version": "1",
        "default_tenant_id": 1,
        "policies": [],
        "schemas": [],
        "conditions": [
            {
                "condition_id": "later",
                "comparator": "equals",
                "expected": True,
                "policy_tags": [],
                "query": {
                    "provider_id": "time",
                    "check_id": "after",
                    "params": {"timestamp": threshold},
                },
            }
        ],
        "stages": [
            {
                "stage_id": "main",
                "entry_packets": [],
                "gates": [{"gate_id": "wait", "requirement": {"Condition": "later"}}],
                "advance_to": {"kind": "terminal"},
                "on_timeout": "fail",
                "timeout": None,
            }
        ],
    }


def run_config(run_id: str = "run-1", scenario_id: str = "gate") -> dict[str, Any]:
    return {
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": run_id,
        "scenario_id": scenario_id,
        "dispatch_targets": [],
        "policy_tags": [],
    }


def start(server: RunningServer, run_id: str = "run-1", **kwargs: Any) -> Any:
    return server.call(
        "scenario_start",
        {
            "scenario_id": "gate",
            "run_config": run_config(run_id),
            "started_at": {"kind": "logical", "value": 0},
            "issue_entry_packets": False,
        },
        **kwargs,
    )


def next_request(trigger_id: str, time: int, feedback: str | None = None) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "scenario_id": "gate",
        "request": {
            "run_id": "run-1",
            "tenant_id": 1,
            "namespace_id": 1,
            "trigger_id": trigger_id,
            "agent_id": "agent",
            "time": {"kind": "logical", "value": time},
            "correlation_id": None,
        },
    }
    if feedback is not None:
        arguments["feedback"] = feedback
    return arguments


def status_request() -> dict[str, Any]:
    return {
        "scenario_id": "gate",
        "request": {
            "run_id": "run-1",
            "tenant_id": 1,
            "namespace_id": 1,
            "requested_at": {"kind": "logical", "value": 9},
            "correlation_id": None,
        },
    }


SHAPE = {
    "tenant_id": 1,
    "namespace_id": 1,
    "schema_id": "shape",
    "version": "v1",
    "schema": {"type": "object", "properties": {"later": {"type": "boolean"}}},
    "description": None,
    "created_at": {"kind": "logical", "value": 1},
}


@pytest.fixture
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def server(evidence_root: str) -> Iterator[RunningServer]:
    with run_server(server_config(evidence_root)) as running:
        running.call("scenario_define", {"spec": spec()})
        yield running


# ------------------------------------------------------------------ scenarios and runs


def test_define_returns_the_same_hash_for_the_same_spec(server: RunningServer) -> None:
    again = server.call("scenario_define", {"spec": spec()})

    assert again["spec_hash"]["algorithm"] == "sha256"
    assert again == server.call("scenario_define", {"spec": spec()})


def test_a_spec_naming_an_unconfigured_provider_is_provider_missing(server: RunningServer) -> None:
    bad = spec("other")
    bad["conditions"][0]["query"]["provider_id"] = "weather"

    status, error = server.error("scenario_define", {"spec": bad})

    assert status == 400
    assert error["message"] == "provider_missing: provider not registered: weather"


def test_a_comparator_outside_the_checks_allow_list_is_refused(server: RunningServer) -> None:
    bad = spec("other")
    bad["conditions"][0]["comparator"] = "greater_than"

    status, error = server.error("scenario_define", {"spec": bad})

    assert status == 400
    assert (
        error["message"]
        == "comparator_not_allowed: comparator not allowed for time.after: greater_than"
    )


def test_params_missing_and_invalid_are_named(server: RunningServer) -> None:
    missing = spec("other")
    del missing["conditions"][0]["query"]["params"]
    invalid = spec("other")
    invalid["conditions"][0]["query"]["params"] = {"timestamp": 1, "extra": 2}

    _, missing_error = server.error("scenario_define", {"spec": missing})
    _, invalid_error = server.error("scenario_define", {"spec": invalid})

    assert missing_error["message"] == "params_missing: check params required for time.after"
    assert invalid_error["message"].startswith(
        "params_invalid: check params invalid for time.after"
    )


def test_an_expected_value_of_the_wrong_type_is_expected_invalid(server: RunningServer) -> None:
    bad = spec("other")
    bad["conditions"][0]["expected"] = "yes"

    _, error = server.error("scenario_define", {"spec": bad})

    assert error["message"].startswith("expected_invalid: check expected value invalid")


def test_a_structurally_invalid_spec_is_a_control_plane_error(server: RunningServer) -> None:
    bad = spec("other")
    bad["stages"][0]["gates"][0]["requirement"] = {"Condition": "nowhere"}

    status, error = server.error("scenario_define", {"spec": bad})

    assert (status, error["code"]) == (200, -32030)
    assert error["message"].startswith("invalid scenario spec")


def test_starting_an_undefined_scenario_is_not_found(server: RunningServer) -> None:
    arguments = {
        "scenario_id": "undefined",
        "run_config": run_config(scenario_id="undefined"),
        "started_at": {"kind": "logical", "value": 0},
        "issue_entry_packets": False,
    }

    status, error = server.error("scenario_start", arguments)

    assert (status, error["code"], error["message"]) == (200, -32004, "scenario not defined")


def test_starting_a_run_twice_is_run_already_exists(server: RunningServer) -> None:
    start(server)

    status, error = server.error(
        "scenario_start",
        {
            "scenario_id": "gate",
            "run_config": run_config(),
            "started_at": {"kind": "logical", "value": 0},
            "issue_entry_packets": False,
        },
    )

    assert (status, error["code"], error["message"]) == (200, -32030, "run already exists: run-1")


def test_status_of_an_unknown_run_is_run_not_found(server: RunningServer) -> None:
    status, error = server.error("scenario_status", status_request())

    assert (status, error["code"], error["message"]) == (200, -32030, "run not found: run-1")


def test_next_is_idempotent_per_trigger_id(server: RunningServer) -> None:
    start(server)
    first = server.call("scenario_next", next_request("t1", 1))
    again = server.call("scenario_next", next_request("t1", 1))
    state = server.call("scenario_status", status_request())

    assert first["decision"] == again["decision"]
    assert state["last_decision"]["decision_id"] == first["decision"]["decision_id"]


def test_the_run_completes_once_the_condition_holds(server: RunningServer) -> None:
    start(server)
    held = server.call("scenario_next", next_request("t1", 1))
    done = server.call("scenario_next", next_request("t2", 2))

    assert (held["decision"]["outcome"]["kind"], held["status"]) == ("hold", "active")
    assert (done["decision"]["outcome"]["kind"], done["status"]) == ("complete", "completed")
    assert server.call("scenario_status", status_request())["status"] == "completed"


def test_a_conflicting_resubmission_is_a_conflict(server: RunningServer) -> None:
    start(server)
    request = {
        "run_id": "run-1",
        "tenant_id": 1,
        "namespace_id": 1,
        "submission_id": "s1",
        "payload": {"kind": "json", "value": {"n": 1}},
        "content_type": "application/json",
        "submitted_at": {"kind": "logical", "value": 1},
        "correlation_id": None,
    }
    server.call("scenario_submit", {"scenario_id": "gate", "request": request})
    changed = {**request, "payload": {"kind": "json", "value": {"n": 2}}}

    status, error = server.error("scenario_submit", {"scenario_id": "gate", "request": changed})

    assert (status, error["code"], error["message"]) == (200, -32009, "submission_id conflict: s1")


# ------------------------------------------------------------------ scenario_next feedback


def test_a_loopback_caller_gets_trace_feedback_by_default(server: RunningServer) -> None:
    start(server)

    result = server.call("scenario_next", next_request("t1", 1))

    assert result["feedback"]["level"] == "trace"
    assert [e["gate_id"] for e in result["feedback"]["gate_evaluations"]] == ["wait"]


def test_evidence_feedback_is_denied_down_to_trace(server: RunningServer) -> None:
    start(server)

    feedback = server.call("scenario_next", next_request("t1", 1, "evidence"))["feedback"]

    assert feedback["level"] == "trace"
    assert feedback["denied_reason"] == "feedback level denied (requested=evidence, allowed=trace)"


def test_a_bearer_caller_gets_no_feedback_by_default(evidence_root: str) -> None:
    extra = f'[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["{TOKEN}"]\n'
    with run_server(server_config(evidence_root, extra)) as server:
        server.call("scenario_define", {"spec": spec()}, headers=AUTH)
        start(server, headers=AUTH)
        result = server.call("scenario_next", next_request("t1", 1), headers=AUTH)

    assert "feedback" not in result


# ------------------------------------------------------------------ evidence


def evidence_arguments(provider: str, check: str, params: Any = None) -> dict[str, Any]:
    query: dict[str, Any] = {"provider_id": provider, "check_id": check}
    if params is not None:
        query["params"] = params
    return {
        "query": query,
        "context": {
            "tenant_id": 1,
            "namespace_id": 1,
            "run_id": "r",
            "scenario_id": "gate",
            "stage_id": "main",
            "trigger_id": "t",
            "trigger_time": {"kind": "logical", "value": 5},
            "correlation_id": None,
        },
    }


def test_raw_values_are_disclosed_only_with_both_opt_ins(evidence_root: str) -> None:
    config = server_config(evidence_root, "[evidence]\nallow_raw_values = true\n").replace(
        'name = "time"\ntype = "builtin"', 'name = "time"\ntype = "builtin"\nallow_raw = true'
    )
    with run_server(config) as server:
        shown = server.call("evidence_query", evidence_arguments("time", "now"))["result"]
        hidden = server.call(
            "evidence_query", evidence_arguments("env", "get", {"key": "DEPLOY_ENV"})
        )["result"]

    assert shown["value"] == {"kind": "json", "value": 5}
    assert shown["content_type"] == "application/json"
    assert hidden["value"] is None
    assert hidden["evidence_hash"] is not None


def test_a_provider_failure_is_a_result_not_an_rpc_error(server: RunningServer) -> None:
    result = server.call(
        "evidence_query", evidence_arguments("time", "after", {"timestamp": "not a time"})
    )["result"]

    assert result["error"]["code"] == "provider_error"
    assert result["error"]["message"].startswith("evidence provider error:")
    assert (result["value"], result["evidence_hash"]) == (None, None)


def test_evidence_query_on_an_unknown_provider_is_provider_missing(server: RunningServer) -> None:
    status, error = server.error("evidence_query", evidence_arguments("weather", "now"))

    assert status == 400
    assert error["message"].startswith("provider_missing:")


# ------------------------------------------------------------------ provider discovery


def test_providers_list_is_sorted_with_sorted_checks(server: RunningServer) -> None:
    providers = server.call("providers_list", {})["providers"]

    assert [p["provider_id"] for p in providers] == ["env", "json", "time"]
    assert providers[2] == {
        "provider_id": "time",
        "transport": "builtin",
        "checks": ["after", "before", "now"],
    }


def test_check_schema_get_reports_the_json_path_contract(server: RunningServer) -> None:
    check = server.call("provider_check_schema_get", {"provider_id": "json", "check_id": "path"})

    assert check["params_required"] is True
    assert check["determinism"] == "external"
    assert check["content_types"] == ["application/json", "application/yaml"]


def test_discovery_honours_the_denylist_and_the_size_cap(evidence_root: str) -> None:
    extra = '[provider_discovery]\ndenylist = ["env"]\nmax_response_bytes = 64\n'
    with run_server(server_config(evidence_root, extra)) as server:
        denied_status, denied = server.error("provider_contract_get", {"provider_id": "env"})
        capped_status, capped = server.error("provider_contract_get", {"provider_id": "time"})

    assert (denied_status, denied["message"]) == (403, "unauthorized")
    assert (capped_status, capped["code"]) == (200, -32070)
    assert capped["message"].startswith("provider discovery response exceeds size limit (")


def test_an_unknown_check_is_check_missing(server: RunningServer) -> None:
    status, error = server.error(
        "provider_check_schema_get", {"provider_id": "time", "check_id": "tomorrow"}
    )

    assert (status, error["message"]) == (400, "check_missing: check not supported: time.tomorrow")


# ------------------------------------------------------------------ schema registry and precheck


def test_registry_writes_need_a_role_when_local_access_is_not_allowed(evidence_root: str) -> None:
    config = server_config(evidence_root).replace(
        "allow_local_only = true", "allow_local_only = false"
    )
    with run_server(config) as server:
        status, error = server.error("schemas_register", {"record": SHAPE})

    assert (status, error["message"]) == (403, "unauthorized")


def test_registering_twice_is_a_conflict(server: RunningServer) -> None:
    server.call("schemas_register", {"record": SHAPE})

    status, error = server.error("schemas_register", {"record": SHAPE})

    assert (status, error["code"], error["message"]) == (200, -32009, "schema already registered")


def test_a_schema_that_is_not_json_schema_is_invalid(server: RunningServer) -> None:
    status, error = server.error("schemas_register", {"record": {**SHAPE, "schema": {"type": 7}}})

    assert status == 400
    assert error["message"].startswith("invalid schema")


def test_signing_can_be_required(evidence_root: str) -> None:
    config = server_config(evidence_root).replace(
        "allow_local_only = true", "allow_local_only = true\nrequire_signing = true"
    )
    with run_server(config) as server:
        status, _ = server.error("schemas_register", {"record": SHAPE})
        signed = server.call(
            "schemas_register",
            {"record": {**SHAPE, "signing": {"key_id": "k1", "signature": "sig"}}},
        )

    assert status == 403
    assert signed["record"]["signing"] == {"key_id": "k1", "signature": "sig"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cursor": "not-json", "limit": 5}, "invalid cursor"),
        (
            {"cursor": None, "limit": 1001},
            "invalid arguments for schemas_list: $.limit: 1001 is greater than the maximum of 1000",
        ),
    ],
)
def test_schemas_list_refuses_bad_cursors_and_limits(
    server: RunningServer, arguments: dict[str, Any], message: str
) -> None:
    status, error = server.error("schemas_list", {"tenant_id": 1, "namespace_id": 1, **arguments})

    assert (status, error["message"]) == (400, message)


def test_schemas_get_of_an_unknown_version_is_not_found(server: RunningServer) -> None:
    status, error = server.error(
        "schemas_get", {"tenant_id": 1, "namespace_id": 1, "schema_id": "shape", "version": "v9"}
    )

    assert (status, error["code"], error["message"]) == (200, -32004, "schema not found")


def precheck(payload: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": 1,
        "namespace_id": 1,
        "scenario_id": "gate",
        "spec": None,
        "stage_id": None,
        "data_shape": {"schema_id": "shape", "version": "v1"},
        "payload": payload,
        **extra,
    }


def test_precheck_holds_on_asserted_evidence_under_verified_trust(server: RunningServer) -> None:
    server.call("schemas_register", {"record": SHAPE})

    result = server.call("precheck", precheck({"later": True}))

    assert result["decision"]["kind"] == "hold"


def test_precheck_refuses_a_payload_outside_the_shape(server: RunningServer) -> None:
    server.call("schemas_register", {"record": SHAPE})

    status, error = server.error("precheck", precheck({"later": "yes"}))

    assert status == 400
    assert error["message"].startswith("payload does not match schema")


def test_precheck_needs_a_scenario_or_a_spec(server: RunningServer) -> None:
    server.call("schemas_register", {"record": SHAPE})

    status, error = server.error("precheck", precheck({"later": True}, scenario_id=None))

    assert (status, error["message"]) == (400, "scenario_id or spec is required")


def test_precheck_of_an_unregistered_shape_is_not_found(server: RunningServer) -> None:
    status, error = server.error("precheck", precheck({"later": True}))

    assert (status, error["message"]) == (200, "schema not found")


def test_precheck_leaves_the_run_untouched_and_audits_hashes_only(
    evidence_root: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    with run_server(server_config(evidence_root, f'[server.audit]\npath = "{audit}"\n')) as server:
        server.call("scenario_define", {"spec": spec()})
        server.call("schemas_register", {"record": SHAPE})
        start(server)
        before = server.call("scenario_status", status_request())
        server.call("precheck", precheck({"later": True}))
        after = server.call("scenario_status", status_request())

    (event,) = [
        line
        for line in map(json.loads, audit.read_text().splitlines())
        if line["event"] == "precheck_audit"
    ]
    assert before == after
    assert event["redaction"] == "hash_only"
    assert (event["request"], event["response"]) == (None, None)
    assert event["request_hash"]["algorithm"] == event["response_hash"]["algorithm"] == "sha256"


# ------------------------------------------------------------------ runpacks and listing


def test_export_without_a_directory_or_storage_is_a_runpack_error(server: RunningServer) -> None:
    start(server)
    arguments = {
        "scenario_id": "gate",
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": "run-1",
        "manifest_name": None,
        "generated_at": {"kind": "logical", "value": 3},
        "include_verification": False,
    }

    status, error = server.error("runpack_export", arguments)
    missing_status, missing = server.error(
        "runpack_export", {**arguments, "run_id": "nope", "output_dir": "/tmp/unused"}
    )

    assert (status, error["code"]) == (200, -32040)
    assert error["message"] == "output_dir is required when runpack storage is not configured"
    assert (missing_status, missing["code"], missing["message"]) == (200, -32004, "run not found")


def test_scenarios_list_pages_by_scenario_id(server: RunningServer) -> None:
    server.call("scenario_define", {"spec": spec("alpha")})
    server.call("scenario_define", {"spec": spec("beta")})
    base = {"tenant_id": 1, "namespace_id": 1}

    first = server.call("scenarios_list", {**base, "cursor": None, "limit": 2})
    second = server.call("scenarios_list", {**base, "cursor": first["next_token"], "limit": 2})

    assert [i["scenario_id"] for i in first["items"]] == ["alpha", "beta"]
    assert first["next_token"] == "beta"
    assert [i["scenario_id"] for i in second["items"]] == ["gate"]
    assert second["next_token"] is None


def test_a_conflicting_redefinition_is_reported_before_capability_checks(
    server: RunningServer,
) -> None:
    changed = spec()
    changed["conditions"][0]["query"]["provider_id"] = "weather"

    status, error = server.error("scenario_define", {"spec": changed})

    assert (status, error["code"], error["message"]) == (200, -32009, "scenario already defined")
