"""Filesystem runpack storage: real directories, real symlinks, real failures."""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from runpack_testing import (
    MANIFEST,
    REFERENCE_RUNPACKS,
    SPEC,
    copy_reference,
    reference_files,
    small_run,
)

from decision_gate.core.errors import RunpackError
from decision_gate.core.model import U64, Logical, RunState
from decision_gate.core.runlog import LogKind, RunKey
from decision_gate.core.runpack import (
    DECISIONS_PATH,
    MAX_RUNPACK_ARTIFACT_BYTES,
    ArtifactReadError,
    ArtifactTooLarge,
    FileHashEntry,
    RunpackBuilder,
    build_runpack_bytes,
    manifest_bytes,
    parse_manifest,
    root_hash_of,
)
from decision_gate.runpacks import (
    FilesystemRunpackStorage,
    open_runpack_directory,
    validate_runpack_path,
    verify_runpack_directory,
    write_runpack,
)
from decision_gate.seams.runpack_storage import RunpackDirectory, RunpackStorage

GENERATED_AT = Logical(U64(10))


def _logs(state: RunState) -> Any:
    async def records(kind: LogKind) -> AsyncIterator[Any]:
        for record in getattr(state, kind.value):
            yield record

    return records


async def _export(
    storage: FilesystemRunpackStorage, target: Any, state: RunState, **options: Any
) -> Any:
    writer = await storage.open_writer(target, MANIFEST)
    builder = RunpackBuilder.for_state(SPEC, state, GENERATED_AT)
    return await write_runpack(writer, builder, _logs(state), **options)


def test_the_filesystem_storage_satisfies_the_seam(tmp_path: pathlib.Path) -> None:
    assert isinstance(FilesystemRunpackStorage(tmp_path), RunpackStorage)


@pytest.mark.parametrize("name", REFERENCE_RUNPACKS)
async def test_a_reference_runpack_directory_verifies(name: str, tmp_path: pathlib.Path) -> None:
    report = await verify_runpack_directory(copy_reference(name, tmp_path))
    assert report.passed
    assert report.checked_files == 8


async def test_an_exported_runpack_verifies_and_matches_the_in_memory_build(
    tmp_path: pathlib.Path,
) -> None:
    state = small_run(triggers=3)
    storage = FilesystemRunpackStorage(tmp_path)
    key = RunKey(1, 1, "run-1")
    manifest, report = await _export(storage, key, state, with_verification=True)
    assert report is not None
    assert report.checked_files == 7
    assert len(manifest.integrity.file_hashes) == 8
    directory = tmp_path / "tenant" / "1" / "namespace" / "1" / "run" / "run-1"
    expected = build_runpack_bytes(SPEC, state, GENERATED_AT, with_verification=True).files
    written = {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }
    assert written == dict(expected)
    final = await verify_runpack_directory(directory)
    assert final.passed
    assert final.checked_files == 8
    async with await storage.open_reader(key) as reader:
        assert sorted(await reader.list_files()) == sorted(expected)


async def test_an_export_into_an_explicit_directory_verifies(tmp_path: pathlib.Path) -> None:
    storage = FilesystemRunpackStorage(tmp_path / "root")
    target = RunpackDirectory(str(tmp_path / "out"))
    await _export(storage, target, small_run())
    assert (await verify_runpack_directory(tmp_path / "out")).passed


# --------------------------------------------------------------------------- atomicity


async def test_a_failure_mid_export_leaves_no_manifest_and_no_temporary_files(
    tmp_path: pathlib.Path,
) -> None:
    state = small_run(triggers=3)

    async def failing(kind: LogKind) -> AsyncIterator[Any]:
        for record in getattr(state, kind.value):
            if kind is LogKind.DECISIONS:
                raise OSError("store went away")
            yield record

    storage = FilesystemRunpackStorage(tmp_path)
    writer = await storage.open_writer(RunpackDirectory(str(tmp_path / "out")), MANIFEST)
    builder = RunpackBuilder.for_state(SPEC, state, GENERATED_AT)
    with pytest.raises(OSError, match="store went away"):
        await write_runpack(writer, builder, failing)
    present = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert present == [
        "artifacts",
        "artifacts/gate_evals.json",
        "artifacts/scenario_spec.json",
        "artifacts/triggers.json",
    ]
    with pytest.raises(RunpackError, match="invalid manifest: artifact not found"):
        await verify_runpack_directory(tmp_path / "out")


async def test_reopening_a_complete_runpack_for_writing_removes_its_manifest_first(
    tmp_path: pathlib.Path,
) -> None:
    storage = FilesystemRunpackStorage(tmp_path)
    target = RunpackDirectory(str(tmp_path / "out"))
    await _export(storage, target, small_run())
    assert (tmp_path / "out" / MANIFEST).exists()
    writer = await storage.open_writer(target, MANIFEST)
    assert not (tmp_path / "out" / MANIFEST).exists()
    await writer.abort()


async def test_a_re_export_replaces_the_previous_runpack(tmp_path: pathlib.Path) -> None:
    storage = FilesystemRunpackStorage(tmp_path)
    target = RunpackDirectory(str(tmp_path / "out"))
    await _export(storage, target, small_run(triggers=1))
    await _export(storage, target, small_run(triggers=4))
    report = await verify_runpack_directory(tmp_path / "out")
    assert report.passed


# --------------------------------------------------------------------------- symlinks


async def test_a_symlinked_artifact_is_refused(tmp_path: pathlib.Path) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    outside = tmp_path / "outside.json"
    target = runpack / "artifacts" / "triggers.json"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    report = await verify_runpack_directory(runpack)
    assert not report.passed
    assert report.errors[0] == (
        "artifact read failed for artifacts/triggers.json: "
        "refusing a symlink or non-directory in runpack path artifacts/triggers.json"
    )


async def test_a_symlinked_artifact_directory_is_refused(tmp_path: pathlib.Path) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    (runpack / "artifacts").rename(tmp_path / "elsewhere")
    (runpack / "artifacts").symlink_to(tmp_path / "elsewhere")
    report = await verify_runpack_directory(runpack)
    assert not report.passed
    assert all("refusing a symlink" in e for e in report.errors if "read failed" in e)
    assert report.checked_files == 0


async def test_a_symlinked_runpack_directory_is_refused(tmp_path: pathlib.Path) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    link = tmp_path / "link"
    link.symlink_to(runpack)
    with pytest.raises(RunpackError, match="is a symlink or not a directory"):
        await verify_runpack_directory(link)


async def test_a_symlinked_manifest_is_refused(tmp_path: pathlib.Path) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    (runpack / MANIFEST).rename(tmp_path / "real.json")
    (runpack / MANIFEST).symlink_to(tmp_path / "real.json")
    with pytest.raises(RunpackError, match="refusing a symlink"):
        await verify_runpack_directory(runpack)


async def test_the_writer_does_not_write_through_a_symlinked_directory(
    tmp_path: pathlib.Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "artifacts").symlink_to(elsewhere)
    storage = FilesystemRunpackStorage(tmp_path)
    with pytest.raises(RunpackError, match="refusing a symlink"):
        await _export(storage, RunpackDirectory(str(out)), small_run())
    assert list(elsewhere.iterdir()) == []
    assert not (out / MANIFEST).exists()


async def test_a_symlink_in_the_runpack_is_listed_as_an_unlisted_file(
    tmp_path: pathlib.Path,
) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    (runpack / "artifacts" / "link").symlink_to(tmp_path)
    report = await verify_runpack_directory(runpack)
    assert report.errors == ("unlisted file artifacts/link",)


# --------------------------------------------------------------------------- traversal


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../manifest.json",
        "artifacts/../../x",
        "/etc/passwd",
        "artifacts\\x.json",
        "a\x00b",
        "artifacts//x.json",
        "./x.json",
        "artifacts/",
        "x" * 256,
        "a/" * 2100 + "b",
    ],
)
def test_unsafe_runpack_paths_are_refused(path: str) -> None:
    with pytest.raises(RunpackError):
        validate_runpack_path(path)


async def test_a_manifest_listing_a_path_outside_the_runpack_fails_without_reading_it(
    tmp_path: pathlib.Path,
) -> None:

    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    (tmp_path / "secret.json").write_bytes(b"[]")
    manifest = parse_manifest(reference_files(REFERENCE_RUNPACKS[0])[MANIFEST])
    entries = list(manifest.integrity.file_hashes)
    entries[4] = FileHashEntry(path="../secret.json", hash=entries[4].hash)
    tampered = attrs.evolve(
        manifest,
        integrity=attrs.evolve(
            manifest.integrity, file_hashes=tuple(entries), root_hash=root_hash_of(entries)
        ),
    )
    (runpack / MANIFEST).write_bytes(manifest_bytes(tampered))
    report = await verify_runpack_directory(runpack)
    assert (
        "artifact read failed for ../secret.json: "
        "runpack path segment '..' not allowed: ../secret.json"
    ) in report.errors
    assert report.checked_files == 7


@pytest.mark.parametrize("run_id", ["..", "a/b", "a\\b", "", "x" * 300])
async def test_a_run_key_that_is_no_safe_segment_is_refused(
    run_id: str, tmp_path: pathlib.Path
) -> None:
    storage = FilesystemRunpackStorage(tmp_path)
    with pytest.raises(RunpackError):
        await storage.open_writer(RunKey(1, 1, run_id), MANIFEST)
    assert list(tmp_path.iterdir()) == []


async def test_a_manifest_name_that_escapes_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RunpackError, match="not allowed"):
        await FilesystemRunpackStorage(tmp_path).open_writer(
            RunpackDirectory(str(tmp_path)), "../manifest.json"
        )


async def test_an_artifact_cannot_overwrite_the_manifest(tmp_path: pathlib.Path) -> None:
    writer = await FilesystemRunpackStorage(tmp_path).open_writer(
        RunpackDirectory(str(tmp_path / "out")), MANIFEST
    )

    async def one() -> AsyncIterator[bytes]:
        yield b"{}"

    with pytest.raises(RunpackError, match="is the manifest's"):
        await writer.write_artifact(MANIFEST, one())
    await writer.abort()


# --------------------------------------------------------------------------- size caps


async def test_an_oversized_artifact_is_refused_before_reading(tmp_path: pathlib.Path) -> None:
    runpack = copy_reference(REFERENCE_RUNPACKS[0], tmp_path)
    with open(runpack / DECISIONS_PATH, "r+b") as handle:
        handle.truncate(MAX_RUNPACK_ARTIFACT_BYTES + 1)
    report = await verify_runpack_directory(runpack)
    too_large = (
        f"artifact too large: {DECISIONS_PATH} "
        f"({MAX_RUNPACK_ARTIFACT_BYTES + 1} > {MAX_RUNPACK_ARTIFACT_BYTES})"
    )
    assert f"artifact read failed for {DECISIONS_PATH}: {too_large}" in report.errors
    assert f"decision log read failed: {too_large}" in report.errors


async def test_a_read_is_capped_at_the_callers_limit(tmp_path: pathlib.Path) -> None:
    (tmp_path / "data.json").write_bytes(b"x" * 100)
    async with await open_runpack_directory(tmp_path) as reader:
        with pytest.raises(ArtifactTooLarge, match=r"\(100 > 99\)"):
            await reader.read_bytes("data.json", 99)
        assert await reader.read_bytes("data.json", 100) == b"x" * 100


async def test_only_regular_files_are_read(tmp_path: pathlib.Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    async with await open_runpack_directory(tmp_path) as reader:
        with pytest.raises(ArtifactReadError, match="not a regular file"):
            await reader.read_bytes("fifo", 10)
        with pytest.raises(ArtifactReadError, match="not a regular file"):
            await reader.read_bytes("dir", 10)
        with pytest.raises(ArtifactReadError, match="artifact not found"):
            await reader.read_bytes("missing", 10)


async def test_a_missing_runpack_directory_is_a_typed_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RunpackError, match="unable to open runpack directory"):
        await verify_runpack_directory(tmp_path / "absent")
    with pytest.raises(RunpackError, match="runpack not found"):
        await FilesystemRunpackStorage(tmp_path).open_reader(RunKey(1, 1, "run-1"))


async def test_a_reader_lent_by_a_writer_stops_working_once_the_writer_is_done(
    tmp_path: pathlib.Path,
) -> None:
    storage = FilesystemRunpackStorage(tmp_path)
    writer = await storage.open_writer(RunpackDirectory(str(tmp_path / "out")), MANIFEST)

    async def one() -> AsyncIterator[bytes]:
        yield b"[]"

    await writer.write_artifact("artifacts/triggers.json", one())
    lent = writer.reader()
    assert await lent.read_bytes("artifacts/triggers.json", 10) == b"[]"
    await writer.finalize(b"{}")
    with pytest.raises(ArtifactReadError, match="closed"):
        await lent.read_bytes("artifacts/triggers.json", 10)
