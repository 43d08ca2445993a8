"""Building and verifying runpacks in memory: spec vectors P1-P9 and our extra checks."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from runpack_testing import (
    MANIFEST,
    REFERENCE_RUNPACKS,
    SPEC,
    reference_files,
    small_run,
    spec_with_provider,
    verify_in_memory,
)

from decision_gate.core.canonical import HashDigest, canonical_json_bytes, hash_bytes
from decision_gate.core.errors import RunpackError
from decision_gate.core.jsonvalue import loads
from decision_gate.core.model import (
    U64,
    AnchorRequirement,
    DecisionRecord,
    EvidenceAnchor,
    EvidenceAnchorPolicy,
    EvidenceSignature,
    GateEvalRecord,
    Logical,
    PacketRecord,
    ProviderAnchorPolicy,
    RunState,
    RunStatus,
    SubmissionRecord,
    ToolCallRecord,
    TriggerRecord,
    parse,
    to_json,
)
from decision_gate.core.runlog import LogKind
from decision_gate.core.runpack import (
    DECISIONS_PATH,
    MAX_RUNPACK_ARTIFACT_BYTES,
    SCENARIO_SPEC_PATH,
    TOOL_CALLS_PATH,
    BuiltRunpack,
    MemoryRunpackSource,
    RunpackBuilder,
    RunpackManifest,
    SecurityContext,
    VerificationReport,
    build_runpack_bytes,
    manifest_bytes,
    parse_manifest,
    root_hash_of,
    run_to_completion,
    verify_runpack,
)

GENERATED_AT = Logical(U64(10))


def _build(state: RunState | None = None, spec: Any = None, **options: Any) -> BuiltRunpack:
    spec = SPEC if spec is None else spec
    return build_runpack_bytes(spec, state or small_run(spec), GENERATED_AT, **options)


def _verify_manifest(manifest: RunpackManifest, files: dict[str, bytes]) -> VerificationReport:
    return run_to_completion(
        verify_runpack(manifest, MemoryRunpackSource(files), manifest_path=MANIFEST)
    )


def _with_manifest(built: BuiltRunpack, manifest: RunpackManifest) -> dict[str, bytes]:
    return {**built.files, MANIFEST: manifest_bytes(manifest)}


# --------------------------------------------------------------------------- P1-P9


def test_p1_a_minimal_runpack_builds_and_verifies() -> None:
    built = _build()
    report = verify_in_memory(dict(built.files))
    assert report.passed
    assert report.checked_files == 7


def test_p2_build_with_verification_embeds_a_seven_file_report_and_lists_eight() -> None:
    built = _build(with_verification=True)
    assert built.report is not None
    assert built.report.passed
    assert built.report.checked_files == 7
    assert built.files["artifacts/verifier_report.json"] == (
        b'{"checked_files":7,"errors":[],"status":"pass"}'
    )
    report = verify_in_memory(dict(built.files))
    assert report.passed
    assert report.checked_files == len(built.manifest.integrity.file_hashes) == 8
    assert built.manifest.integrity.root_hash == root_hash_of(built.manifest.integrity.file_hashes)


def test_p3_an_unsupported_manifest_version_fails_without_checking_files() -> None:
    built = _build()
    manifest = attrs.evolve(built.manifest, manifest_version="v999")
    report = verify_in_memory(_with_manifest(built, manifest))
    assert not report.passed
    assert report.checked_files == 0
    assert report.errors == ("unsupported manifest version: v999",)


def test_p4_an_oversized_decision_log_fails_as_too_large() -> None:
    built = _build()
    files = {**built.files, DECISIONS_PATH: b"x" * (MAX_RUNPACK_ARTIFACT_BYTES + 1)}
    report = verify_in_memory(files)
    assert not report.passed
    assert any("artifact too large" in error for error in report.errors)


def test_p5_a_tampered_scenario_spec_fails_with_a_hash_mismatch() -> None:
    built = _build()
    report = verify_in_memory({**built.files, SCENARIO_SPEC_PATH: b"tampered content"})
    assert not report.passed
    assert "hash mismatch for artifacts/scenario_spec.json" in report.errors


def test_p6_a_zeroed_root_hash_fails() -> None:
    built = _build()
    zero = HashDigest(algorithm="sha256", value="0" * 64)
    manifest = attrs.evolve(
        built.manifest, integrity=attrs.evolve(built.manifest.integrity, root_hash=zero)
    )
    report = verify_in_memory(_with_manifest(built, manifest))
    assert report.errors == ("root hash mismatch",)


def test_p7_a_deleted_scenario_spec_fails_to_read() -> None:
    built = _build()
    files = {path: data for path, data in built.files.items() if path != SCENARIO_SPEC_PATH}
    report = verify_in_memory(files)
    assert not report.passed
    assert report.errors[0].startswith("artifact read failed for artifacts/scenario_spec.json")


ASSETCORE_POLICY = EvidenceAnchorPolicy(
    providers=(
        ProviderAnchorPolicy(
            provider_id="assetcore_read",
            requirement=AnchorRequirement(
                anchor_type="assetcore.anchor_set",
                required_fields=(
                    "assetcore.namespace_id",
                    "assetcore.commit_id",
                    "assetcore.world_seq",
                ),
            ),
        ),
    )
)
_FULL_ANCHOR = {
    "assetcore.namespace_id": 1,
    "assetcore.commit_id": "commit-1",
    "assetcore.world_seq": 42,
}


@pytest.mark.parametrize(
    ("anchor", "expected_problem"),
    [
        (None, "missing evidence_anchor"),
        (EvidenceAnchor("assetcore.anchor_set", json.dumps(_FULL_ANCHOR)), None),
        (
            EvidenceAnchor(
                "assetcore.anchor_set",
                json.dumps({k: v for k, v in _FULL_ANCHOR.items() if k != "assetcore.world_seq"}),
            ),
            "anchor field assetcore.world_seq missing",
        ),
        (
            EvidenceAnchor("other.anchor", json.dumps(_FULL_ANCHOR)),
            "anchor_type mismatch: expected assetcore.anchor_set got other.anchor",
        ),
        (
            EvidenceAnchor(
                "assetcore.anchor_set", json.dumps({**_FULL_ANCHOR, "assetcore.world_seq": True})
            ),
            "anchor field assetcore.world_seq must be string or number",
        ),
    ],
    ids=["no-anchor", "all-fields", "field-missing", "wrong-type", "bool-field"],
)
def test_p8_the_anchor_policy_is_enforced_on_evidence(
    anchor: EvidenceAnchor | None, expected_problem: str | None
) -> None:
    spec = spec_with_provider("assetcore_read")
    built = _build(small_run(spec, anchor=anchor), spec, anchor_policy=ASSETCORE_POLICY)
    assert built.manifest.anchor_policy == ASSETCORE_POLICY
    report = verify_in_memory(dict(built.files))
    if expected_problem is None:
        assert report.passed
    else:
        assert report.errors == (
            "anchor invalid for condition after (trigger trigger-1, stage stage-1): "
            + expected_problem,
        )


def test_p9_a_bogus_evidence_signature_still_passes() -> None:
    bogus = EvidenceSignature(scheme="ed25519", key_id="key-1", signature=b"\x00not-a-signature")
    built = _build(small_run(signature=bogus))
    assert verify_in_memory(dict(built.files)).passed


# --------------------------------------------------------------------------- builder


def test_an_empty_anchor_policy_is_omitted_from_the_manifest() -> None:
    built = _build(anchor_policy=EvidenceAnchorPolicy())
    wire = loads(built.files[MANIFEST])
    assert isinstance(wire, dict)
    assert "anchor_policy" not in wire
    assert "security" not in wire


def test_a_spec_that_does_not_match_the_run_is_refused() -> None:
    with pytest.raises(RunpackError, match=r"^hashing error: run state spec hash mismatch$"):
        _build(small_run(), spec_with_provider("other"))


@pytest.mark.parametrize("records", [0, 1, 3])
def test_streamed_log_artifacts_equal_the_canonical_json_of_the_whole_list(records: int) -> None:
    state = small_run(triggers=records)
    built = _build(state)
    for kind, path in (
        (LogKind.TRIGGERS, "artifacts/triggers.json"),
        (LogKind.DECISIONS, DECISIONS_PATH),
    ):
        whole = canonical_json_bytes([to_json(r) for r in getattr(state, kind.value)])
        assert built.files[path] == whole
        assert built.manifest.integrity.file_hashes[list(LogKind).index(kind) + 1].hash == (
            hash_bytes(whole)
        )


def test_records_given_as_canonical_bytes_stream_like_model_records() -> None:
    state = small_run(triggers=2)
    builder = RunpackBuilder.for_state(SPEC, state, GENERATED_AT)
    builder.scenario_spec()
    writer = builder.log(LogKind.TRIGGERS)
    chunks = [writer.item_canonical(canonical_json_bytes(to_json(r))) for r in state.triggers]
    chunks.append(writer.finish())
    assert b"".join(chunks) == _build(state).files["artifacts/triggers.json"]


def test_artifacts_must_be_written_in_reference_order() -> None:
    builder = RunpackBuilder.for_state(SPEC, small_run(), GENERATED_AT)
    with pytest.raises(RunpackError, match="out of order"):
        builder.log(LogKind.TRIGGERS)
    builder.scenario_spec()
    with pytest.raises(RunpackError, match="out of order"):
        builder.log(LogKind.DECISIONS)
    with pytest.raises(RunpackError, match="before every artifact"):
        builder.manifest()


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_rebuilding_a_reference_runpack_from_its_logs_reproduces_every_byte(name: str) -> None:
    files = reference_files(name)
    reference = parse_manifest(files[MANIFEST])

    def log(path: str, cls: type) -> tuple[Any, ...]:
        items = loads(files[f"artifacts/{path}.json"])
        assert isinstance(items, list)
        return tuple(parse(cls, item) for item in items)

    state = RunState(
        tenant_id=reference.tenant_id,
        namespace_id=reference.namespace_id,
        run_id=reference.run_id,
        scenario_id=reference.scenario_id,
        spec_hash=reference.spec_hash,
        current_stage_id="stage-1",
        stage_entered_at=Logical(U64(0)),
        status=RunStatus.COMPLETED,
        dispatch_targets=(),
        triggers=log("triggers", TriggerRecord),
        gate_evals=log("gate_evals", GateEvalRecord),
        decisions=log("decisions", DecisionRecord),
        packets=log("packets", PacketRecord),
        submissions=log("submissions", SubmissionRecord),
        tool_calls=log("tool_calls", ToolCallRecord),
    )
    built = build_runpack_bytes(
        loads(files[SCENARIO_SPEC_PATH]),
        state,
        reference.generated_at,
        security=SecurityContext(dev_permissive=False, namespace_authority="dg_registry"),
        with_verification=True,
    )
    assert dict(built.files) == files


# --------------------------------------------------------------------------- our extra checks


def test_a_duplicate_decision_for_a_trigger_fails() -> None:
    state = small_run(triggers=2)
    duplicated = (state.decisions[0], attrs.evolve(state.decisions[1], trigger_id="trigger-1"))
    built = _build(attrs.evolve(state, decisions=duplicated))
    assert verify_in_memory(dict(built.files)).errors == (
        "duplicate decision for trigger trigger-1",
    )


def test_a_decision_log_that_is_no_json_array_fails_as_invalid() -> None:
    built = _build()
    bad = b'[{"decision_id":1}'
    files = {**built.files, DECISIONS_PATH: bad}
    report = verify_in_memory(files)
    assert any(error.startswith("invalid decision log:") for error in report.errors)


def test_an_index_emptied_under_a_recomputed_root_hash_fails() -> None:
    built = _build()
    keep = tuple(e for e in built.manifest.integrity.file_hashes if e.path != TOOL_CALLS_PATH)
    manifest = attrs.evolve(
        built.manifest,
        integrity=attrs.evolve(
            built.manifest.integrity, file_hashes=keep, root_hash=root_hash_of(keep)
        ),
        artifacts=tuple(a for a in built.manifest.artifacts if a.path != TOOL_CALLS_PATH),
    )
    files = {p: d for p, d in _with_manifest(built, manifest).items() if p != TOOL_CALLS_PATH}
    assert verify_in_memory(files).errors == (
        f"required artifact {TOOL_CALLS_PATH} is not listed in the manifest",
    )


def test_artifacts_that_disagree_with_the_file_hashes_fail() -> None:
    built = _build()
    artifacts = list(built.manifest.artifacts)
    artifacts[1] = attrs.evolve(artifacts[1], hash=artifacts[0].hash)
    manifest = attrs.evolve(built.manifest, artifacts=tuple(artifacts))
    report = verify_in_memory(_with_manifest(built, manifest))
    assert report.errors == (
        "manifest artifacts[] do not match integrity.file_hashes: "
        "different hashes for artifacts/triggers.json",
    )


def test_a_spec_hash_that_is_not_the_spec_artifacts_fails() -> None:
    built = _build()
    manifest = attrs.evolve(built.manifest, spec_hash=hash_bytes(b"another spec"))
    report = verify_in_memory(_with_manifest(built, manifest))
    assert report.errors == ("spec_hash does not match artifacts/scenario_spec.json",)


def test_a_run_id_that_the_trigger_log_contradicts_fails() -> None:
    built = _build()
    manifest = attrs.evolve(built.manifest, run_id="run-2")
    report = verify_in_memory(_with_manifest(built, manifest))
    assert report.errors == ("manifest run_id run-2 does not match trigger trigger-1 (run-1)",)


def test_a_scenario_id_that_the_spec_contradicts_fails() -> None:
    built = _build()
    manifest = attrs.evolve(built.manifest, scenario_id="another")
    report = verify_in_memory(_with_manifest(built, manifest))
    assert report.errors == (
        "manifest scenario_id another does not match the scenario spec (golden-time-after)",
    )


def test_an_unknown_namespace_authority_fails() -> None:
    built = _build(
        security=SecurityContext(dev_permissive=False, namespace_authority="dg_regisrty")
    )
    assert verify_in_memory(dict(built.files)).errors == (
        "unknown namespace authority dg_regisrty",
    )


def test_a_pretty_printed_manifest_fails_as_not_canonical() -> None:
    built = _build()
    pretty = json.dumps(json.loads(built.files[MANIFEST]), indent=2).encode()
    report = verify_in_memory({**built.files, MANIFEST: pretty})
    assert report.errors == ("manifest is not canonical JSON",)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[]", b'{"manifest_version":"v1"}', b"\xff\xfe", b"null"]
)
def test_bytes_that_are_no_manifest_raise_a_runpack_error(data: bytes) -> None:
    with pytest.raises(RunpackError, match=r"^invalid manifest: "):
        parse_manifest(data)


@pytest.mark.parametrize("log", [b"[1]", b"[[]]", b'["x",null]', b"{}", b"[1,]"])
def test_a_decision_log_of_non_records_is_reported_not_raised(log: bytes) -> None:
    built = _build()
    report = verify_in_memory({**built.files, DECISIONS_PATH: log})
    assert any(error.startswith("invalid decision log: ") for error in report.errors)


def test_a_gate_eval_log_of_non_records_is_reported_under_an_anchor_policy() -> None:
    spec = spec_with_provider("assetcore_read")
    built = _build(small_run(spec), spec, anchor_policy=ASSETCORE_POLICY)
    report = verify_in_memory({**built.files, "artifacts/gate_evals.json": b"[7]"})
    assert any(error.startswith("invalid gate eval log: ") for error in report.errors)


def test_the_first_repeated_trigger_in_log_order_is_the_one_reported() -> None:
    state = small_run(triggers=5)
    decisions = list(state.decisions)
    decisions[3] = attrs.evolve(decisions[3], trigger_id="trigger-3")
    decisions[4] = attrs.evolve(decisions[4], trigger_id="trigger-1")
    built = _build(attrs.evolve(state, decisions=tuple(decisions)))
    assert verify_in_memory(dict(built.files)).errors == (
        "duplicate decision for trigger trigger-3",
    )


def test_a_long_decision_log_without_duplicates_passes() -> None:
    built = _build(small_run(triggers=400))
    assert verify_in_memory(dict(built.files)).passed
