"""The reference implementation's runpacks verify here, and every tampering is caught."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runpack_testing import MANIFEST, REFERENCE_RUNPACKS, reference_files, verify_in_memory

from decision_gate.core.errors import RunpackError
from decision_gate.core.jsonvalue import loads
from decision_gate.core.runpack import (
    MemoryRunpackSource,
    manifest_bytes,
    parse_manifest,
    run_to_completion,
    verify_runpack,
)


def _detected(files: dict[str, bytes], original_manifest: bytes) -> bool:
    """True when verification fails or refuses the manifest; a pass is only
    acceptable when the change touched nothing but `generated_at` (v1 manifests
    do not protect it: no artifact records it and there is no signature)."""
    try:
        report = verify_in_memory(files)
    except RunpackError:
        return True
    if not report.passed:
        return True
    tampered = loads(files[MANIFEST])
    original = loads(original_manifest)
    assert isinstance(tampered, dict)
    assert isinstance(original, dict)
    tampered.pop("generated_at")
    original.pop("generated_at")
    assert tampered == original, "an undetected change outside generated_at"
    return False


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_reference_runpack_verifies_with_status_pass(name: str) -> None:
    report = verify_in_memory(reference_files(name))
    assert report.passed
    assert report.errors == ()
    assert report.checked_files == 8


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_reference_manifest_is_reproduced_byte_for_byte_by_the_manifest_model(name: str) -> None:
    data = reference_files(name)[MANIFEST]
    assert manifest_bytes(parse_manifest(data)) == data


def _positions(length: int, samples: int = 9) -> list[int]:
    return sorted({0, length - 1, *(length * k // samples for k in range(1, samples))})


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_changing_any_sampled_byte_of_any_artifact_fails(name: str) -> None:
    files = reference_files(name)
    for path, data in files.items():
        if path == MANIFEST:
            continue
        for position in _positions(len(data)):
            for xor in (0x01, 0x20, 0x80):
                tampered = bytearray(data)
                tampered[position] ^= xor
                report = verify_in_memory({**files, path: bytes(tampered)})
                assert not report.passed, (path, position, xor)
                assert f"hash mismatch for {path}" in report.errors


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_changing_any_byte_of_the_manifest_fails_unless_only_generated_at_changed(
    name: str,
) -> None:
    files = reference_files(name)
    manifest = files[MANIFEST]
    undetected = []
    for position in range(len(manifest)):
        for replacement in (manifest[position] ^ 0x01, ord("0"), ord("a")):
            if replacement == manifest[position]:
                continue
            tampered = bytearray(manifest)
            tampered[position] = replacement
            if not _detected({**files, MANIFEST: bytes(tampered)}, manifest):
                undetected.append(position)
    start = manifest.index(b'"generated_at"')
    assert all(start < position < start + 60 for position in undetected)


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changing_a_random_byte_anywhere_is_detected(name: str, data: st.DataObject) -> None:
    files = reference_files(name)
    path = data.draw(st.sampled_from(sorted(files)))
    position = data.draw(st.integers(0, len(files[path]) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != files[path][position]))
    tampered = bytearray(files[path])
    tampered[position] = value
    changed = {**files, path: bytes(tampered)}
    if path == MANIFEST:
        _detected(changed, files[MANIFEST])
    else:
        assert not verify_in_memory(changed).passed


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_removing_any_artifact_fails(name: str) -> None:
    files = reference_files(name)
    for path in files:
        if path == MANIFEST:
            continue
        remaining = {p: d for p, d in files.items() if p != path}
        report = verify_in_memory(remaining)
        assert not report.passed
        assert any(e.startswith(f"artifact read failed for {path}:") for e in report.errors)


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
def test_an_empty_manifest_is_a_typed_error(name: str) -> None:
    files = reference_files(name)
    manifest = parse_manifest(files.pop(MANIFEST))
    assert run_to_completion(verify_runpack(manifest, MemoryRunpackSource(files))).passed
    # Bytes that are no manifest are refused with a RunpackError, not a traceback.
    with pytest.raises(RunpackError, match="invalid manifest"):
        verify_in_memory({**files, MANIFEST: b""})


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
@pytest.mark.parametrize("extra", ["artifacts/extra.json", "notes.txt", "artifacts/sub/x.json"])
def test_adding_a_file_fails_as_unlisted(name: str, extra: str) -> None:
    files = {**reference_files(name), extra: b"[]"}
    report = verify_in_memory(files)
    assert not report.passed
    assert report.errors == (f"unlisted file {extra}",)
