"""Runpack storage implementations shipped with decision_gate (the filesystem one)."""

from decision_gate.runpacks.export import LogRecords, write_runpack
from decision_gate.runpacks.filesystem import (
    FilesystemRunpackReader,
    FilesystemRunpackStorage,
    FilesystemRunpackWriter,
    open_runpack_directory,
    validate_runpack_path,
    verify_runpack_directory,
)

__all__ = [
    "FilesystemRunpackReader",
    "FilesystemRunpackStorage",
    "FilesystemRunpackWriter",
    "LogRecords",
    "open_runpack_directory",
    "validate_runpack_path",
    "verify_runpack_directory",
    "write_runpack",
]
