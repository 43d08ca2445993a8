"""Runpacks in a local directory tree, without following a single symlink.

Every path inside a runpack is built from validated segments
(`validate_runpack_path`) and walked one directory at a time with
`O_DIRECTORY|O_NOFOLLOW` relative to the parent's file descriptor; files are
opened with `O_NOFOLLOW`. So neither a symlinked artifact nor a symlinked
directory anywhere below the runpack root is followed, and a directory renamed
or swapped mid-operation cannot redirect a read or a write (the descriptors
stay bound to what was checked). The runpack root itself is opened with
`O_NOFOLLOW` too; only the components above it, chosen by the operator, are
resolved normally.

Writes are atomic per file: a temporary name in the target directory
(`O_EXCL`), fsync, `os.replace`, fsync of the directory. The manifest is
written last and any previous manifest is removed before the first artifact,
so a directory without a manifest is an incomplete runpack and one with a
manifest is complete.

Reads accept regular files only and enforce the caller's byte cap twice: on
the size `fstat` reports and on the bytes actually read. Blocking calls run in
a worker thread; artifact writes are batched so that a record-sized chunk does
not cost a thread hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from types import TracebackType
from typing import Any, Final

from decision_gate.core.errors import RunpackError
from decision_gate.core.runlog import RunKey
from decision_gate.core.runpack import (
    DEFAULT_MANIFEST_NAME,
    MAX_RUNPACK_ARTIFACT_BYTES,
    ArtifactReadError,
    ArtifactTooLarge,
    VerificationReport,
    verify_runpack_bytes,
)
from decision_gate.seams.runpack_storage import RunpackDirectory, RunpackTarget

MAX_SEGMENT_BYTES: Final = 255
MAX_PATH_BYTES: Final = 4096
MAX_LISTED_ENTRIES: Final = 10_000
MAX_LISTED_DEPTH: Final = 16
READ_CHUNK_BYTES: Final = 16 * 1024
WRITE_BATCH_BYTES: Final = 32 * 1024
MAX_MANIFEST_BYTES: Final = MAX_RUNPACK_ARTIFACT_BYTES

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SYMLINK_ERRNOS: Final = frozenset({errno.ELOOP, errno.ENOTDIR, errno.EMLINK})


def validate_runpack_path(path: str) -> tuple[str, ...]:
    """The segments of a relative runpack path, or `RunpackError` saying why not."""
    if not isinstance(path, str) or not path:
        raise RunpackError("runpack path must be a non-empty string")
    if "\x00" in path:
        raise RunpackError("runpack path contains a NUL character")
    if "\\" in path:
        raise RunpackError(f"runpack path contains a backslash: {path!r}")
    if path.startswith("/"):
        raise RunpackError(f"absolute runpack path not allowed: {path}")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise RunpackError(f"runpack path longer than {MAX_PATH_BYTES} bytes")
    segments = tuple(path.split("/"))
    for segment in segments:
        _check_segment(segment, path)
    return segments


def _check_segment(segment: str, path: str) -> None:
    if not segment:
        raise RunpackError(f"runpack path has an empty segment: {path}")
    if segment in (".", ".."):
        raise RunpackError(f"runpack path segment {segment!r} not allowed: {path}")
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        raise RunpackError(f"runpack path segment longer than {MAX_SEGMENT_BYTES} bytes")


def key_segments(key: RunKey) -> tuple[str, ...]:
    """Where a keyed runpack lives below the storage root."""
    segments = (
        "tenant",
        str(key.tenant_id),
        "namespace",
        str(key.namespace_id),
        "run",
        key.run_id,
    )
    for segment in segments:
        if "\x00" in segment or "/" in segment or "\\" in segment:
            raise RunpackError("run id cannot be used as a runpack path segment")
        _check_segment(segment, "/".join(segments))
    return segments


def _refusal(error: OSError, path: str) -> RunpackError:
    if error.errno in _SYMLINK_ERRNOS:
        return ArtifactReadError(f"refusing a symlink or non-directory in runpack path {path}")
    if isinstance(error, FileNotFoundError):
        return ArtifactReadError(f"artifact not found: {path}")
    return ArtifactReadError(f"unable to access {path}: {error.strerror}")


def _open_child_dir(parent_fd: int, name: str, *, create: bool, path: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _walk(base_fd: int, segments: tuple[str, ...], *, create: bool, path: str) -> int:
    """A new descriptor for the directory `segments` below `base_fd` (no symlinks)."""
    fd = os.dup(base_fd)
    try:
        for segment in segments:
            child = _open_child_dir(fd, segment, create=create, path=path)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_root(path: str, *, create: bool) -> int:
    if "\x00" in path:
        raise RunpackError("runpack directory contains a NUL character")
    absolute = os.path.abspath(path)
    if create:
        try:
            os.makedirs(absolute, exist_ok=True)
        except OSError as error:
            raise RunpackError(
                f"unable to create runpack directory {absolute}: {error.strerror}"
            ) from None
    try:
        return os.open(absolute, _DIR_FLAGS)
    except OSError as error:
        if error.errno in _SYMLINK_ERRNOS:
            raise RunpackError(
                f"runpack directory {absolute} is a symlink or not a directory"
            ) from None
        raise RunpackError(
            f"unable to open runpack directory {absolute}: {error.strerror}"
        ) from None


class _DirectoryHandle:
    """An open directory descriptor shared by a writer and the readers it lends."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @property
    def fd(self) -> int:
        if self._fd < 0:
            raise ArtifactReadError("runpack directory is closed")
        return self._fd

    @property
    def open(self) -> bool:
        return self._fd >= 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FilesystemRunpackReader:
    """Reads one runpack directory through a descriptor held open since it was checked."""

    def __init__(self, directory: _DirectoryHandle, location: str, *, owner: bool = True) -> None:
        self._directory = directory
        self._location = location
        self._owner = owner

    @property
    def location(self) -> str:
        return self._location

    async def close(self) -> None:
        if self._owner:
            self._directory.close()

    async def __aenter__(self) -> FilesystemRunpackReader:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _open_file(self, path: str, max_bytes: int) -> int:
        try:
            segments = validate_runpack_path(path)
        except RunpackError as error:
            raise ArtifactReadError(str(error)) from None
        try:
            parent = _walk(self._directory.fd, segments[:-1], create=False, path=path)
        except OSError as error:
            raise _refusal(error, path) from None
        try:
            fd = os.open(segments[-1], _READ_FLAGS, dir_fd=parent)
        except OSError as error:
            raise _refusal(error, path) from None
        finally:
            os.close(parent)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ArtifactReadError(f"not a regular file: {path}")
            if info.st_size > max_bytes:
                raise ArtifactTooLarge(path, info.st_size, max_bytes)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    async def read_chunks(self, path: str, max_bytes: int) -> AsyncGenerator[bytes, None]:
        fd = await asyncio.to_thread(self._open_file, path, max_bytes)
        try:
            total = 0
            while True:
                try:
                    chunk = await asyncio.to_thread(os.read, fd, READ_CHUNK_BYTES)
                except OSError as error:
                    raise ArtifactReadError(
                        f"unable to read artifact {path}: {error.strerror}"
                    ) from None
                if not chunk:
                    return
                total += len(chunk)
                if total > max_bytes:
                    raise ArtifactTooLarge(path, total, max_bytes)
                yield chunk
        finally:
            os.close(fd)

    async def read_bytes(self, path: str, max_bytes: int) -> bytes:
        parts = [chunk async for chunk in self.read_chunks(path, max_bytes)]
        return b"".join(parts)

    def _list(self) -> list[str]:
        found: list[str] = []

        def visit(fd: int, prefix: str, depth: int) -> None:
            if depth > MAX_LISTED_DEPTH:
                raise ArtifactReadError(f"runpack nested deeper than {MAX_LISTED_DEPTH} levels")
            with os.scandir(fd) as entries:
                children = sorted(entries, key=lambda entry: entry.name)
            for entry in children:
                if len(found) >= MAX_LISTED_ENTRIES:
                    raise ArtifactReadError(f"runpack holds more than {MAX_LISTED_ENTRIES} files")
                relative = f"{prefix}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    try:
                        visit(child, f"{relative}/", depth + 1)
                    finally:
                        os.close(child)
                else:
                    found.append(relative)

        try:
            visit(self._directory.fd, "", 0)
        except OSError as error:
            raise ArtifactReadError(f"unable to list runpack: {error.strerror}") from None
        return found

    async def list_files(self) -> list[str]:
        return await asyncio.to_thread(self._list)


async def _in_thread(path: str, call: Callable[..., None], *args: Any) -> None:
    """Run a blocking write step; an OSError becomes a RunpackError naming `path`."""
    try:
        await asyncio.to_thread(call, *args)
    except OSError as error:
        raise RunpackError(f"unable to write {path}: {error.strerror or error}") from None


class FilesystemRunpackWriter:
    """Writes one runpack directory; see the module docstring for the atomicity rules."""

    def __init__(self, dir_fd: int, location: str, manifest_name: str) -> None:
        self._directory = _DirectoryHandle(dir_fd)
        self._location = location
        self._manifest_segments = validate_runpack_path(manifest_name)
        self._temporary: set[tuple[int, str]] = set()

    @property
    def location(self) -> str:
        return self._location

    def _remove_manifest(self) -> None:
        try:
            parent = _walk(self._directory.fd, self._manifest_segments[:-1], create=False, path="")
        except FileNotFoundError:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._manifest_segments[-1], dir_fd=parent)
            os.fsync(parent)
        finally:
            os.close(parent)

    def _begin(self, segments: tuple[str, ...], path: str) -> tuple[int, int, str]:
        parent = _walk(self._directory.fd, segments[:-1], create=True, path=path)
        temporary = f".{segments[-1][:200]}.tmp-{secrets.token_hex(8)}"
        try:
            fd = os.open(temporary, _CREATE_FLAGS, 0o644, dir_fd=parent)
        except BaseException:
            os.close(parent)
            raise
        self._temporary.add((parent, temporary))
        return parent, fd, temporary

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _commit(self, parent: int, fd: int, temporary: str, leaf: str) -> None:
        os.fsync(fd)
        os.close(fd)
        os.replace(temporary, leaf, src_dir_fd=parent, dst_dir_fd=parent)
        self._temporary.discard((parent, temporary))
        os.fsync(parent)
        os.close(parent)

    def _discard(self, parent: int, fd: int, temporary: str) -> None:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=parent)
        self._temporary.discard((parent, temporary))
        with contextlib.suppress(OSError):
            os.close(parent)

    async def _write_file(self, path: str, chunks: AsyncIterable[bytes]) -> None:
        if not self._directory.open:
            raise RunpackError("runpack writer is closed")
        segments = validate_runpack_path(path)
        try:
            parent, fd, temporary = await asyncio.to_thread(self._begin, segments, path)
        except OSError as error:
            raise RunpackError(_refusal(error, path).args[0]) from None
        try:
            batch: list[bytes] = []
            pending = 0
            async for chunk in chunks:
                batch.append(chunk)
                pending += len(chunk)
                if pending >= WRITE_BATCH_BYTES:
                    await _in_thread(path, self._write_all, fd, b"".join(batch))
                    batch, pending = [], 0
            if batch:
                await _in_thread(path, self._write_all, fd, b"".join(batch))
            await _in_thread(path, self._commit, parent, fd, temporary, segments[-1])
        except BaseException:
            self._discard(parent, fd, temporary)
            raise

    async def write_artifact(self, path: str, chunks: AsyncIterable[bytes]) -> None:
        if tuple(validate_runpack_path(path)) == self._manifest_segments:
            raise RunpackError(f"artifact path {path} is the manifest's")
        await self._write_file(path, chunks)

    def reader(self) -> FilesystemRunpackReader:
        """A reader borrowing this writer's directory descriptor: valid until the
        writer is finalized or aborted, and nothing leaks if it is never closed."""
        if not self._directory.open:
            raise RunpackError("runpack writer is closed")
        return FilesystemRunpackReader(self._directory, self._location, owner=False)

    async def finalize(self, manifest: bytes) -> str:
        async def single() -> AsyncGenerator[bytes, None]:
            yield manifest

        await self._write_file("/".join(self._manifest_segments), single())
        await self._close()
        return self._location

    async def abort(self) -> None:
        for parent, temporary in list(self._temporary):
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
        self._temporary.clear()
        await self._close()

    async def _close(self) -> None:
        self._directory.close()

    async def __aenter__(self) -> FilesystemRunpackWriter:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._directory.open:
            await self.abort()


class FilesystemRunpackStorage:
    """Runpacks below `root`: keyed ones at `tenant/{t}/namespace/{n}/run/{run_id}`;
    explicit directories (`RunpackDirectory`) wherever the operator points."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = os.path.abspath(os.fspath(root))

    def _open_target(self, target: RunpackTarget, *, create: bool) -> tuple[int, str]:
        if isinstance(target, RunpackDirectory):
            fd = _open_root(target.path, create=create)
            return fd, os.path.abspath(target.path)
        segments = key_segments(target)
        root_fd = _open_root(self._root, create=create)
        location = os.path.join(self._root, *segments)
        try:
            return _walk(root_fd, segments, create=create, path="/".join(segments)), location
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                raise RunpackError(f"runpack not found: {location}") from None
            raise RunpackError(_refusal(error, location).args[0]) from None
        finally:
            os.close(root_fd)

    async def open_writer(
        self, target: RunpackTarget, manifest_name: str = DEFAULT_MANIFEST_NAME
    ) -> FilesystemRunpackWriter:
        validate_runpack_path(manifest_name)
        fd, location = await asyncio.to_thread(self._open_target, target, create=True)
        writer = FilesystemRunpackWriter(fd, location, manifest_name)
        try:
            await asyncio.to_thread(writer._remove_manifest)
        except OSError as error:
            await writer.abort()
            raise RunpackError(
                f"unable to remove the previous manifest in {location}: {error.strerror}"
            ) from None
        return writer

    async def open_reader(self, target: RunpackTarget) -> FilesystemRunpackReader:
        fd, location = await asyncio.to_thread(self._open_target, target, create=False)
        return FilesystemRunpackReader(_DirectoryHandle(fd), location)


async def open_runpack_directory(path: str | os.PathLike[str]) -> FilesystemRunpackReader:
    """A reader for a runpack directory named on the command line or in `runpack_verify`."""
    text = os.fspath(path)
    fd = await asyncio.to_thread(_open_root, text, create=False)
    return FilesystemRunpackReader(_DirectoryHandle(fd), os.path.abspath(text))


async def verify_runpack_directory(
    path: str | os.PathLike[str], manifest_name: str = DEFAULT_MANIFEST_NAME
) -> VerificationReport:
    """Verify the runpack in `path` whose manifest is `manifest_name` (relative to it).

    A tampered runpack is a `fail` report; a directory or manifest that cannot
    be read, or a manifest that does not parse, raises `RunpackError`.
    """
    async with await open_runpack_directory(path) as reader:
        try:
            data = await reader.read_bytes(manifest_name, MAX_MANIFEST_BYTES)
        except ArtifactReadError as error:
            raise RunpackError(f"invalid manifest: {error}") from None
        return await verify_runpack_bytes(data, reader, manifest_path=manifest_name)
