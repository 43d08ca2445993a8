"""Conformance suite: the behaviour every `RunpackStorage` must show.

Activate it with `from decision_gate.testing.runpack_storage import *` next
to a `runpack_storage` fixture yielding a storage over an empty location.
Pinned down (seams/runpack_storage.py): unsafe artifact paths, manifest names
and run keys are refused with `RunpackError` before anything is stored; a
runpack is complete only once its manifest is written, last; an aborted or
failed write leaves no manifest and no half-written artifact; reopening a
complete runpack removes its manifest first; reads are capped and typed.
Only keyed targets (`RunKey`) are used: explicit directories are
storage-specific.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest

from decision_gate.core.errors import RunpackError
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import ArtifactReadError
from decision_gate.seams.runpack_storage import RunpackReader, RunpackStorage, RunpackWriter

__all__ = [
    "UNSAFE_PATHS",
    "test_a_complete_runpack_reads_back_every_file",
    "test_a_missing_artifact_is_a_read_error",
    "test_a_read_over_the_callers_limit_is_refused",
    "test_a_run_key_that_is_not_a_safe_segment_is_refused",
    "test_a_runpack_that_was_never_written_cannot_be_opened",
    "test_an_aborted_runpack_has_no_manifest",
    "test_an_artifact_whose_bytes_fail_midway_is_not_stored",
    "test_reopening_a_complete_runpack_removes_its_manifest_first",
    "test_runpacks_of_different_keys_are_separate",
    "test_storage_satisfies_the_protocol",
    "test_unsafe_artifact_paths_are_refused",
    "test_unsafe_manifest_names_are_refused",
]

MANIFEST = "runpack.json"
KEY = RunKey(7, 9, "run-1")
UNSAFE_PATHS = [
    "",
    "/etc/passwd",
    "../escape.json",
    "a/../../escape.json",
    "a/./b.json",
    "a//b.json",
    "a\\b.json",
    "nul\x00.json",
    "x" * 300,
    "artifacts/",
]


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(reader: RunpackReader, path: str, max_bytes: int = 1 << 20) -> bytes:
    return b"".join([chunk async for chunk in reader.read_chunks(path, max_bytes)])


async def _write_complete(
    storage: RunpackStorage, key: RunKey, files: dict[str, bytes], manifest: bytes = b"{}"
) -> str:
    writer = await storage.open_writer(key, MANIFEST)
    for path, data in files.items():
        await writer.write_artifact(path, _chunks(data[:3], data[3:]))
    return await writer.finalize(manifest)


async def _files(storage: RunpackStorage, key: RunKey) -> list[str]:
    reader = await storage.open_reader(key)
    try:
        return sorted(await reader.list_files())
    finally:
        await reader.close()


async def test_storage_satisfies_the_protocol(runpack_storage: RunpackStorage) -> None:
    assert isinstance(runpack_storage, RunpackStorage)
    assert inspect.iscoroutinefunction(runpack_storage.open_writer)
    writer = await runpack_storage.open_writer(KEY, MANIFEST)
    assert isinstance(writer, RunpackWriter)
    await writer.abort()


async def test_a_complete_runpack_reads_back_every_file(runpack_storage: RunpackStorage) -> None:
    files = {"artifacts/triggers.json": b"[1,2,3]", "artifacts/spec.json": b'{"a":1}'}
    location = await _write_complete(runpack_storage, KEY, files, b'{"manifest":true}')
    assert isinstance(location, str)
    assert location
    assert await _files(runpack_storage, KEY) == sorted([*files, MANIFEST])
    reader = await runpack_storage.open_reader(KEY)
    try:
        for path, data in files.items():
            assert await _read(reader, path) == data
        assert await _read(reader, MANIFEST) == b'{"manifest":true}'
    finally:
        await reader.close()


@pytest.mark.parametrize("path", UNSAFE_PATHS, ids=repr)
async def test_unsafe_artifact_paths_are_refused(
    runpack_storage: RunpackStorage, path: str
) -> None:
    writer = await runpack_storage.open_writer(KEY, MANIFEST)
    with pytest.raises(RunpackError):
        await writer.write_artifact(path, _chunks(b"data"))
    await writer.finalize(b"{}")
    assert await _files(runpack_storage, KEY) == [MANIFEST]


@pytest.mark.parametrize("name", ["../runpack.json", "/runpack.json", "a//m.json", ""], ids=repr)
async def test_unsafe_manifest_names_are_refused(
    runpack_storage: RunpackStorage, name: str
) -> None:
    with pytest.raises(RunpackError):
        await runpack_storage.open_writer(KEY, name)


@pytest.mark.parametrize("run_id", ["..", ".", "a/b", "a\\b", "nul\x00", ""], ids=repr)
async def test_a_run_key_that_is_not_a_safe_segment_is_refused(
    runpack_storage: RunpackStorage, run_id: str
) -> None:
    with pytest.raises(RunpackError):
        await runpack_storage.open_writer(RunKey(7, 9, run_id), MANIFEST)


async def test_an_aborted_runpack_has_no_manifest(runpack_storage: RunpackStorage) -> None:
    writer = await runpack_storage.open_writer(KEY, MANIFEST)
    await writer.write_artifact("artifacts/a.json", _chunks(b"[]"))
    await writer.abort()
    try:
        listed = await _files(runpack_storage, KEY)
    except RunpackError:
        return
    assert MANIFEST not in listed


async def test_an_artifact_whose_bytes_fail_midway_is_not_stored(
    runpack_storage: RunpackStorage,
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"half of it"
        raise OSError("the source went away")

    writer = await runpack_storage.open_writer(KEY, MANIFEST)
    with pytest.raises((OSError, RunpackError)):
        await writer.write_artifact("artifacts/broken.json", failing())
    await writer.write_artifact("artifacts/ok.json", _chunks(b"{}"))
    await writer.finalize(b"{}")
    assert await _files(runpack_storage, KEY) == ["artifacts/ok.json", MANIFEST]


async def test_reopening_a_complete_runpack_removes_its_manifest_first(
    runpack_storage: RunpackStorage,
) -> None:
    await _write_complete(runpack_storage, KEY, {"artifacts/a.json": b"[]"})
    writer = await runpack_storage.open_writer(KEY, MANIFEST)
    assert MANIFEST not in await _files(runpack_storage, KEY)
    await writer.abort()
    assert MANIFEST not in await _files(runpack_storage, KEY)


async def test_a_read_over_the_callers_limit_is_refused(runpack_storage: RunpackStorage) -> None:
    await _write_complete(runpack_storage, KEY, {"artifacts/a.json": b"x" * 100})
    reader = await runpack_storage.open_reader(KEY)
    try:
        with pytest.raises(ArtifactReadError):
            await _read(reader, "artifacts/a.json", 99)
        assert await _read(reader, "artifacts/a.json", 100) == b"x" * 100
    finally:
        await reader.close()


async def test_a_missing_artifact_is_a_read_error(runpack_storage: RunpackStorage) -> None:
    await _write_complete(runpack_storage, KEY, {"artifacts/a.json": b"[]"})
    reader = await runpack_storage.open_reader(KEY)
    try:
        with pytest.raises(ArtifactReadError):
            await _read(reader, "artifacts/missing.json")
    finally:
        await reader.close()


async def test_a_runpack_that_was_never_written_cannot_be_opened(
    runpack_storage: RunpackStorage,
) -> None:
    with pytest.raises(RunpackError):
        await runpack_storage.open_reader(RunKey(7, 9, "never-written"))


async def test_runpacks_of_different_keys_are_separate(runpack_storage: RunpackStorage) -> None:
    other = RunKey(8, 9, "run-1")
    await _write_complete(runpack_storage, KEY, {"artifacts/mine.json": b"1"})
    await _write_complete(runpack_storage, other, {"artifacts/theirs.json": b"2"})
    assert await _files(runpack_storage, KEY) == ["artifacts/mine.json", MANIFEST]
    assert await _files(runpack_storage, other) == ["artifacts/theirs.json", MANIFEST]
