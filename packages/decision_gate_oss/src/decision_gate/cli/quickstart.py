"""`decision-gate quickstart`: a release gate, from definition to verified runpack.

The story a newcomer sees: a release may ship only when the unit tests are
green, a named person approved it and the target environment is staging;
once shipped, deployment waits for a freeze to end. Evidence comes from the
built-in providers (files read by `json`, an `env` value, the trigger's time),
the files change between triggers as they would in real life, and every step
says why the run held or moved. The run is kept in SQLite, exported as a
runpack, verified, and a tampered copy is shown failing verification.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from decision_gate.cli import render
from decision_gate.control_plane import ControlPlane, ProviderRegistry
from decision_gate.core.model import (
    Logical,
    RunConfig,
    ScenarioSpec,
    TriggerEvent,
    TriggerKind,
    parse,
    to_json,
)
from decision_gate.core.runlog import RunKey
from decision_gate.providers.env import EnvProvider
from decision_gate.providers.json_file import JsonFileProvider
from decision_gate.providers.time import TimeProvider
from decision_gate.runpack_export import export_runpack
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage, verify_runpack_directory
from decision_gate.seams.runpack_storage import RunpackDirectory
from decision_gate.stores import SqliteRunStateStore

SCENARIO_ID: Final = "release-readiness"


def _condition(
    condition_id: str, provider: str, check: str, params: Any, comparator: str, expected: Any
) -> dict[str, Any]:
    return {
        "condition_id": condition_id,
        "query": {"provider_id": provider, "check_id": check, "params": params},
        "comparator": comparator,
        "expected": expected,
        "policy_tags": [],
    }


SPEC: Final[dict[str, Any]] = {
    "scenario_id": SCENARIO_ID,
    "namespace_id": 1,
    "spec_version": "1",
    "default_tenant_id": 1,
    "policies": [],
    "schemas": [],
    "conditions": [
        _condition(
            "no_failed_tests",
            "json",
            "path",
            {"file": "reports/unit-tests.json", "jsonpath": "$.failed"},
            "equals",
            0,
        ),
        _condition(
            "tests_ran",
            "json",
            "path",
            {"file": "reports/unit-tests.json", "jsonpath": "$.passed"},
            "greater_than",
            0,
        ),
        _condition(
            "approved_by_owner",
            "json",
            "path",
            {"file": "approvals/release.json", "jsonpath": "$.approved_by"},
            "in_set",
            ["alice", "bob"],
        ),
        _condition("target_is_staging", "env", "get", {"key": "DEPLOY_ENV"}, "equals", "staging"),
        _condition("freeze_over", "time", "after", {"timestamp": 5}, "equals", True),
    ],
    "stages": [
        {
            "stage_id": "verify",
            "entry_packets": [],
            "gates": [
                {
                    "gate_id": "tests-green",
                    "requirement": {
                        "And": [{"Condition": "no_failed_tests"}, {"Condition": "tests_ran"}]
                    },
                },
                {"gate_id": "approved", "requirement": {"Condition": "approved_by_owner"}},
                {"gate_id": "right-target", "requirement": {"Condition": "target_is_staging"}},
            ],
            "advance_to": {"kind": "linear"},
            "timeout": None,
            "on_timeout": "fail",
        },
        {
            "stage_id": "ship",
            "entry_packets": [
                {
                    "packet_id": "deploy-instructions",
                    "schema_id": "deploy-instructions/v1",
                    "content_type": "application/json",
                    "visibility_labels": ["release-team"],
                    "policy_tags": [],
                    "expiry": None,
                    "payload": {"kind": "json", "value": {"action": "deploy", "target": "staging"}},
                }
            ],
            "gates": [{"gate_id": "freeze-over", "requirement": {"Condition": "freeze_over"}}],
            "advance_to": {"kind": "terminal"},
            "timeout": None,
            "on_timeout": "fail",
        },
    ],
}

RUN_CONFIG: Final[dict[str, Any]] = {
    "tenant_id": 1,
    "namespace_id": 1,
    "run_id": "release-2026.11",
    "scenario_id": SCENARIO_ID,
    "dispatch_targets": [{"kind": "agent", "agent_id": "release-bot"}],
    "policy_tags": [],
}

# What happens in the world before each trigger: (narration, files to write).
STORY: Final[list[tuple[str, dict[str, Any]]]] = [
    (
        "CI uploads a test report with 2 failures; nobody has approved yet.",
        {
            "reports/unit-tests.json": {"passed": 118, "failed": 2},
            "approvals/release.json": {"approved_by": None},
        },
    ),
    (
        "The failing tests are fixed and CI uploads a green report.",
        {"reports/unit-tests.json": {"passed": 120, "failed": 0}},
    ),
    ("Alice approves the release.", {"approvals/release.json": {"approved_by": "alice"}}),
    ("The release bot asks to deploy while the change freeze (until time 5) is on.", {}),
    ("The freeze is over; the bot asks again.", {}),
]
TRIGGER_TIMES: Final = (1, 2, 3, 4, 6)


def _write_files(root: Path, files: dict[str, Any]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


async def run_quickstart(directory: Path | None, *, quiet: bool) -> dict[str, Any]:
    """Run the whole story in `directory` (a new temp folder by default)."""
    root = (
        Path(directory)
        if directory is not None
        else Path(tempfile.mkdtemp(prefix="decision-gate-quickstart-"))
    )
    evidence_root = root / "evidence"
    evidence_root.mkdir(parents=True, exist_ok=True)
    out = render.console

    def say(text: str) -> None:
        if not quiet:
            out.print(text)

    say(f"[bold]Decision Gate quickstart[/bold] — working in {render.escape(os.fspath(root))}\n")
    spec = parse(ScenarioSpec, SPEC, "quickstart scenario")
    (root / "scenario.json").write_text(json.dumps(SPEC, indent=2) + "\n", encoding="utf-8")
    registry = ProviderRegistry()
    registry.register(TimeProvider())
    registry.register(EnvProvider(overrides={"DEPLOY_ENV": "staging"}))
    registry.register(JsonFileProvider(root=evidence_root, root_id="quickstart"))
    store = SqliteRunStateStore(root / "runs.sqlite3")
    try:
        plane = ControlPlane(store, registry)
        _, spec_hash = await plane.define(spec)
        say(
            f"1. Defined scenario [bold]{SCENARIO_ID}[/bold]: stage [bold]verify[/bold] "
            "(gates tests-green, approved, right-target) then stage [bold]ship[/bold] "
            "(gate freeze-over).\n"
            f"   Spec hash {spec_hash.value} — the spec is part of every runpack.\n"
        )
        config = parse(RunConfig, RUN_CONFIG, "quickstart run config")
        await plane.start(SCENARIO_ID, config, Logical(0))  # type: ignore[arg-type]
        say(f"2. Started run [bold]{config.run_id}[/bold] at logical time 0. Triggers:\n")
        results = []
        for index, ((narration, files), time) in enumerate(
            zip(STORY, TRIGGER_TIMES, strict=True), start=1
        ):
            _write_files(evidence_root, files)
            say(f"  [dim]{render.escape(narration)}[/dim]")
            event = TriggerEvent(
                trigger_id=f"trigger-{index}",
                tenant_id=config.tenant_id,
                namespace_id=config.namespace_id,
                run_id=config.run_id,
                kind=TriggerKind.AGENT_REQUEST_NEXT,
                time=Logical(time),  # type: ignore[arg-type]
                source_id="release-bot",
            )
            result = await plane.trigger(SCENARIO_ID, event)
            results.append(result)
            if not quiet:
                render.show_trigger_result(event.trigger_id, result)
        key = RunKey(config.tenant_id, config.namespace_id, config.run_id)
        state = await plane.run_state(key)
        if not quiet:
            out.print()
            out.print(render.decision_table(state.decisions))
        runpack_dir = root / "runpack"
        exported = await export_runpack(
            store,
            await plane.scenario(SCENARIO_ID),
            key,
            FilesystemRunpackStorage(runpack_dir),
            RunpackDirectory(os.fspath(runpack_dir)),
            generated_at=Logical(10),  # type: ignore[arg-type]
        )
        say(
            f"\n3. Exported the run as a runpack: {render.escape(exported.location)}\n"
            f"   root hash {exported.manifest.integrity.root_hash.value}"
        )
        report = await verify_runpack_directory(runpack_dir)
        say(
            "4. Verified it offline (`decision-gate runpack verify "
            f"{render.escape(os.fspath(runpack_dir))}`):"
        )
        if not quiet:
            render.show_report(os.fspath(runpack_dir), report)
        tampered_dir = root / "runpack-tampered"
        shutil.rmtree(tampered_dir, ignore_errors=True)
        shutil.copytree(runpack_dir, tampered_dir)
        decisions_file = tampered_dir / "artifacts" / "decisions.json"
        decisions_file.write_bytes(decisions_file.read_bytes().replace(b'"hold"', b'"done"', 1))
        tampered = await verify_runpack_directory(tampered_dir)
        say("5. Edited one word of a copy's decision log; verification catches it:")
        if not quiet:
            render.show_report(os.fspath(tampered_dir), tampered)
            out.print(
                "\nEvery gate decision above is reproducible from the runpack alone. "
                "Next: `decision-gate scenario run --help`, and docs/concepts.md."
            )
        return {
            "directory": os.fspath(root),
            "scenario_id": SCENARIO_ID,
            "spec_hash": spec_hash.to_json(),
            "run_id": config.run_id,
            "status": state.status.value,
            "decisions": [to_json(decision) for decision in state.decisions],
            "runpack": {
                "location": exported.location,
                "root_hash": exported.manifest.integrity.root_hash.to_json(),
                "verification": to_json(report),
                "tampered_copy_verification": to_json(tampered),
            },
        }
    finally:
        await store.close()
