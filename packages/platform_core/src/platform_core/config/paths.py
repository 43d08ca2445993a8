"""Paths that cannot escape their root, and reads that cannot exceed their cap.

A relative path is walked one component at a time from an open directory
descriptor of the root, each step opened with `O_NOFOLLOW`: a symlink anywhere
on the way — even one pointing back inside the root — a `..`, an absolute
path or a NUL byte is refused, and there is no window between checking a
component and using it. The root itself is the operator's trust anchor and is
taken as given. Reads stop after `cap + 1` bytes, so an oversized (or endless)
file costs at most that much memory before it is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from platform_core.errors import InvalidInput, NotFound

__all__ = [
    "FileTooLarge",
    "UnsafePath",
    "check_path_within",
    "read_capped",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class UnsafePath(InvalidInput):
    """The path is absolute, climbs out of its root, or passes through a symlink."""


class FileTooLarge(InvalidInput):
    """The file is larger than the cap its reader set."""


def _components(relative: str | os.PathLike[str]) -> list[str]:
    text = os.fspath(relative)
    if not isinstance(text, str) or not text:
        raise UnsafePath("path must be a non-empty relative path")
    if "\x00" in text:
        raise UnsafePath("path contains a NUL byte")
    if "\\" in text:
        raise UnsafePath("path contains a backslash")
    pure = PurePosixPath(text)
    if pure.is_absolute():
        raise UnsafePath("path must be relative to its root")
    parts = [part for part in pure.parts if part != "."]
    if any(part == ".." for part in parts):
        raise UnsafePath("path must not contain '..'")
    if not parts:
        raise UnsafePath("path must name something below its root")
    return parts


def _refusal(error: OSError, shown: str) -> Exception:
    if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return UnsafePath(f"{shown}: passes through a symlink or a non-directory")
    if error.errno == errno.ENOENT:
        return NotFound(f"{shown}: does not exist")
    code = errno.errorcode.get(error.errno or 0, "error")
    return InvalidInput(f"{shown}: cannot be opened ({code})")


def _open_parent(root: Path, parts: list[str], shown: str) -> int:
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise _refusal(error, "root directory") from None
    for part in parts:
        try:
            child = os.open(part, _DIR_FLAGS, dir_fd=directory)
        except OSError as error:
            os.close(directory)
            raise _refusal(error, shown) from None
        os.close(directory)
        directory = child
    return directory


def check_path_within(root: Path, relative: str | os.PathLike[str]) -> Path:
    """`root / relative` after checking every existing component is a real
    directory or file, not a symlink; components that do not exist yet are
    allowed (a directory a service will create)."""
    parts = _components(relative)
    shown = "/".join(parts)
    current = Path(root)
    for index, part in enumerate(parts):
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return Path(root).joinpath(*parts)
        except OSError as error:
            raise _refusal(error, shown) from None
        if stat.S_ISLNK(info.st_mode):
            raise UnsafePath(f"{shown}: passes through a symlink")
        if index < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
            raise UnsafePath(f"{shown}: passes through a non-directory")
    return current


def read_capped(root: Path, relative: str | os.PathLike[str], cap: int) -> bytes:
    """The bytes of a regular file below `root`, refusing anything over `cap`."""
    if cap < 0:
        raise InvalidInput("size cap must not be negative")
    parts = _components(relative)
    shown = "/".join(parts)
    directory = _open_parent(Path(root), parts[:-1], shown)
    try:
        descriptor = os.open(parts[-1], _FILE_FLAGS, dir_fd=directory)
    except OSError as error:
        raise _refusal(error, shown) from None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnsafePath(f"{shown}: is not a regular file")
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise FileTooLarge(f"{shown}: larger than {cap} bytes")
    return data
