"""The reference's golden runpacks, reproduced byte for byte by driving a server over /rpc.

The calls are the ones the runpacks record: `scenario_define` with the
recorded spec, `scenario_start` (with entry packets at the `init` trigger's
time when the run recorded one), one `scenario_trigger` per recorded trigger
(the built-in `time` provider answers), then `runpack_export` at logical time
10 with verification, and `runpack_verify`. Every file of the export must
equal the reference's, manifest included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import RunningServer, run_server, server_config

GOLDEN_ROOT = Path("/work/shared/contract/runpacks/golden")
GOLDEN = sorted(path.name for path in GOLDEN_ROOT.iterdir())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "evidence").mkdir()
    with run_server(server_config(str(tmp_path / "evidence"))) as running:
        yield running


def read_json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def drive(server: RunningServer, golden: Path, output_dir: Path) -> dict[str, Any]:
    """Replay the recorded run through the server and export it; the export result."""
    spec = read_json(golden / "artifacts" / "scenario_spec.json")
    manifest = read_json(golden / "manifest.json")
    triggers = [record["event"] for record in read_json(golden / "artifacts" / "triggers.json")]
    initial = triggers[0]["trigger_id"] == "init"
    server.call("scenario_define", {"spec": spec})
    server.call(
        "scenario_start",
        {
            "scenario_id": spec["scenario_id"],
            "run_config": {
                "tenant_id": manifest["tenant_id"],
                "namespace_id": manifest["namespace_id"],
                "run_id": manifest["run_id"],
                "scenario_id": spec["scenario_id"],
                "dispatch_targets": [],
                "policy_tags": [],
            },
            "started_at": triggers[0]["time"] if initial else {"kind": "logical", "value": 0},
            "issue_entry_packets": initial,
        },
    )
    for trigger in triggers[1:] if initial else triggers:
        server.call("scenario_trigger", {"scenario_id": spec["scenario_id"], "trigger": trigger})
    return server.call(  # type: ignore[no-any-return]
        "runpack_export",
        {
            "scenario_id": spec["scenario_id"],
            "tenant_id": manifest["tenant_id"],
            "namespace_id": manifest["namespace_id"],
            "run_id": manifest["run_id"],
            "output_dir": str(output_dir),
            "manifest_name": "manifest.json",
            "generated_at": {"kind": "logical", "value": 10},
            "include_verification": True,
        },
    )


def verify_arguments(directory: Path) -> dict[str, str]:
    return {"runpack_dir": str(directory), "manifest_path": "manifest.json"}


def files_below(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("name", GOLDEN)
def test_the_exported_runpack_equals_the_reference_byte_for_byte(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    drive(server, GOLDEN_ROOT / name, tmp_path / "export")

    assert files_below(tmp_path / "export") == files_below(GOLDEN_ROOT / name)


@pytest.mark.parametrize("name", GOLDEN)
def test_the_export_result_is_the_written_manifest(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    exported = drive(server, GOLDEN_ROOT / name, tmp_path / "export")

    assert exported["manifest"] == read_json(GOLDEN_ROOT / name / "manifest.json")
    assert exported["report"] == {"status": "pass", "checked_files": 7, "errors": []}


@pytest.mark.parametrize("name", GOLDEN)
def test_the_reproduced_runpack_verifies_over_rpc(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    drive(server, GOLDEN_ROOT / name, tmp_path / "export")

    verified = server.call(
        "runpack_verify",
        {"runpack_dir": str(tmp_path / "export"), "manifest_path": "manifest.json"},
    )

    assert verified["status"] == "pass"
    assert verified["report"]["errors"] == []


def test_a_tampered_reproduction_fails_verification_as_a_successful_call(
    server: RunningServer, tmp_path: Path
) -> None:
    drive(server, GOLDEN_ROOT / GOLDEN[0], tmp_path / "export")
    decisions = tmp_path / "export" / "artifacts" / "decisions.json"
    decisions.write_bytes(decisions.read_bytes().replace(b"decision-1", b"decision-9"))

    verified = server.call(
        "runpack_verify",
        {"runpack_dir": str(tmp_path / "export"), "manifest_path": "manifest.json"},
    )

    assert verified["status"] == "fail"
    assert verified["report"]["errors"]
