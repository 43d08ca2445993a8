"""The `decision-gate` command as a user meets it: real subprocesses, real files.

Each test runs the console entry point and checks what a user sees: the exit
code, one clear line on stderr for bad input, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parents[3].parent / "shared" / "contract"
RUNPACKS = [
    CONTRACT / "runpacks" / "golden" / "golden_time_after_pass",
    CONTRACT / "runpacks" / "golden" / "golden_visibility_packet",
    CONTRACT / "runpacks" / "backcompat" / "v1",
]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "decision_gate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in completed.stderr
    return completed


@pytest.mark.parametrize("runpack", RUNPACKS, ids=lambda p: p.name)
def test_reference_runpacks_verify(runpack: Path) -> None:
    completed = run("runpack", "verify", str(runpack))
    assert completed.returncode == 0
    assert "PASS" in completed.stdout


def test_tampered_artifact_fails_verification_with_exit_1(tmp_path: Path) -> None:
    copy = tmp_path / "runpack"
    shutil.copytree(RUNPACKS[0], copy)
    target = copy / "artifacts" / "triggers.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    completed = run("runpack", "verify", str(copy), "--json")
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    assert report["status"] == "fail"
    assert "hash mismatch for artifacts/triggers.json" in report["errors"]


def test_added_file_fails_verification(tmp_path: Path) -> None:
    copy = tmp_path / "runpack"
    shutil.copytree(RUNPACKS[1], copy)
    (copy / "artifacts" / "extra.json").write_text("[]")
    completed = run("runpack", "verify", str(copy), "--json")
    assert completed.returncode == 1
    assert any("unlisted file" in error for error in json.loads(completed.stdout)["errors"])


def test_verify_of_missing_directory_is_one_line_error(tmp_path: Path) -> None:
    completed = run("runpack", "verify", str(tmp_path / "nope"))
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ")
    assert len(completed.stderr.strip().splitlines()) == 1


def test_validate_accepts_the_reference_example() -> None:
    completed = run("scenario", "validate", str(CONTRACT / "examples" / "scenario.json"), "--json")
    assert completed.returncode == 0
    summary = json.loads(completed.stdout)
    assert summary["spec_hash"]["value"] == (
        "409337f68069806e3a4b628dde12907a967abb4b5b500fd0aabb4d05c5c2dd33"
    )


def test_validate_names_the_json_path_of_a_bad_field(tmp_path: Path) -> None:
    spec = json.loads((CONTRACT / "examples" / "scenario.json").read_text())
    spec["stages"][0]["gates"][0]["requirement"] = {"Condition": 7}
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    completed = run("scenario", "validate", str(tmp_path / "bad.json"))
    assert completed.returncode == 2
    assert "$.stages[0].gates[0].requirement" in completed.stderr


def test_validate_rejects_a_group_that_can_never_be_satisfied(tmp_path: Path) -> None:
    spec = json.loads((CONTRACT / "examples" / "scenario.json").read_text())
    condition = spec["conditions"][0]["condition_id"]
    spec["stages"][0]["gates"][0]["requirement"] = {
        "RequireGroup": {"min": 3, "reqs": [{"Condition": condition}]}
    }
    (tmp_path / "group.json").write_text(json.dumps(spec))
    completed = run("scenario", "validate", str(tmp_path / "group.json"))
    assert completed.returncode == 2
    assert "invalid scenario spec" in completed.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ("", "not valid JSON")],
)
def test_validate_reports_unparseable_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "spec.json").write_text(content)
    completed = run("scenario", "validate", str(tmp_path / "spec.json"))
    assert completed.returncode == 2
    assert message in completed.stderr


def test_validate_of_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    completed = run("scenario", "validate", str(tmp_path))
    assert completed.returncode == 2
    assert "not a regular file" in completed.stderr


def _write_run_files(root: Path, trigger_times: list[int]) -> None:
    spec = {
        "scenario_id": "s",
        "namespace_id": 1,
        "spec_version": "1",
        "policies": [],
        "schemas": [],
        "conditions": [
            {
                "condition_id": "late",
                "comparator": "equals",
                "expected": True,
                "policy_tags": [],
                "query": {"provider_id": "time", "check_id": "after", "params": {"timestamp": 5}},
            }
        ],
        "stages": [
            {
                "stage_id": "only",
                "entry_packets": [],
                "gates": [{"gate_id": "g", "requirement": {"Condition": "late"}}],
                "advance_to": {"kind": "terminal"},
                "timeout": None,
                "on_timeout": "fail",
            }
        ],
    }
    config = {
        "tenant_id": 1,
        "namespace_id": 1,
        "run_id": "r",
        "scenario_id": "s",
        "dispatch_targets": [],
        "policy_tags": [],
    }
    triggers = [
        {
            "trigger_id": f"t{t}",
            "tenant_id": 1,
            "namespace_id": 1,
            "run_id": "r",
            "kind": "tick",
            "time": {"kind": "logical", "value": t},
            "source_id": "test",
        }
        for t in trigger_times
    ]
    (root / "spec.json").write_text(json.dumps(spec))
    (root / "run.json").write_text(json.dumps(config))
    (root / "triggers.json").write_text(json.dumps(triggers))


def test_scenario_run_exits_0_when_the_run_completes(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [3, 9])
    completed = run(
        "scenario",
        "run",
        "spec.json",
        "--run-config",
        "run.json",
        "--triggers",
        "triggers.json",
        "--started-at",
        "logical:0",
        "--export",
        "out",
        "--json",
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert [r["decision"]["outcome"]["kind"] for r in summary["results"]] == ["hold", "complete"]
    assert run("runpack", "verify", str(tmp_path / "out")).returncode == 0


def test_scenario_run_exits_1_while_the_run_holds(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [3])
    completed = run(
        "scenario",
        "run",
        "spec.json",
        "--run-config",
        "run.json",
        "--triggers",
        "triggers.json",
        cwd=tmp_path,
    )
    assert completed.returncode == 1
    assert "hold" in completed.stdout


def test_scenario_run_rejects_a_run_config_for_another_scenario(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [3])
    config = json.loads((tmp_path / "run.json").read_text())
    config["scenario_id"] = "other"
    (tmp_path / "run.json").write_text(json.dumps(config))
    completed = run(
        "scenario",
        "run",
        "spec.json",
        "--run-config",
        "run.json",
        "--triggers",
        "triggers.json",
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    assert "scenario mismatch for run: other" in completed.stderr


def test_bad_env_pair_is_a_usage_error(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [3])
    completed = run(
        "scenario",
        "run",
        "spec.json",
        "--run-config",
        "run.json",
        "--triggers",
        "triggers.json",
        "--env",
        "NOEQUALS",
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    assert "--env expects KEY=VALUE" in completed.stderr


def test_runpack_export_from_a_sqlite_store_verifies(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [9])
    assert (
        run(
            "scenario",
            "run",
            "spec.json",
            "--run-config",
            "run.json",
            "--triggers",
            "triggers.json",
            "--store",
            "runs.sqlite3",
            "--started-at",
            "logical:0",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    exported = run(
        "runpack",
        "export",
        "--store",
        "runs.sqlite3",
        "--scenario-id",
        "s",
        "--tenant-id",
        "1",
        "--namespace-id",
        "1",
        "--run-id",
        "r",
        "--output-dir",
        "pack",
        "--generated-at",
        "logical:20",
        "--json",
        cwd=tmp_path,
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["generated_at"] == {"kind": "logical", "value": 20}
    assert run("runpack", "verify", str(tmp_path / "pack")).returncode == 0


def test_export_of_an_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    _write_run_files(tmp_path, [9])
    run(
        "scenario",
        "run",
        "spec.json",
        "--run-config",
        "run.json",
        "--triggers",
        "triggers.json",
        "--store",
        "runs.sqlite3",
        cwd=tmp_path,
    )
    completed = run(
        "runpack",
        "export",
        "--store",
        "runs.sqlite3",
        "--scenario-id",
        "s",
        "--tenant-id",
        "1",
        "--namespace-id",
        "1",
        "--run-id",
        "missing",
        "--output-dir",
        "pack",
        "--generated-at",
        "logical:20",
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    assert "run not found: missing" in completed.stderr


def test_quickstart_completes_and_its_runpack_verifies(tmp_path: Path) -> None:
    completed = run("quickstart", "--dir", str(tmp_path / "demo"), "--json")
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["status"] == "completed"
    assert summary["runpack"]["verification"]["status"] == "pass"
    assert summary["runpack"]["tampered_copy_verification"]["status"] == "fail"
    assert run("runpack", "verify", summary["runpack"]["location"]).returncode == 0


def test_help_lists_the_commands() -> None:
    completed = run("--help")
    assert completed.returncode == 0
    for command in ("quickstart", "scenario", "runpack"):
        assert command in completed.stdout
