"""Runpack storage implementations shipped with decision_gate (the filesystem one)."""

from decision_gate.runpacks.export import LogRecords, export_runpack
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
    "export_runpack",
    "open_runpack_directory",
    "validate_runpack_path",
    "verify_runpack_directory",
]
