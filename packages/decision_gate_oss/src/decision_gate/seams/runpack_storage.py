"""The runpack storage seam: where exported runpacks are written and read back.

The control plane streams a runpack into a `RunpackWriter` (artifacts as byte
chunks, produced by `core.runpack.RunpackBuilder`, then the manifest) and the
verifier reads one through a `RunpackReader` (a `core.runpack.RunpackSource`).
Invariants every implementation keeps:
- Paths come only from validated segments. An artifact path is relative,
  `/`-separated, made of non-empty segments with no `.`/`..`, NUL, backslash
  or over-long names; anything else is refused with `RunpackError` before any
  storage is touched. Keys (tenant, namespace, run id) become segments too.
- No symlink is ever followed inside a runpack, for reading or writing: a
  symlinked artifact or directory is refused, not resolved.
- Reads are capped: `read_chunks(path, max_bytes)` refuses a file longer than
  `max_bytes` with `ArtifactTooLarge` before or while reading it, and only
  regular files are read (no devices, FIFOs or sockets).
- A half-written runpack is never visible as complete. Each file is written
  under a temporary name and moved into place once complete; the manifest is
  written last, so a runpack whose manifest is missing is incomplete. Opening a
  writer over an existing runpack first removes its manifest. A writer that
  fails or is aborted leaves no manifest behind. Other files already in the
  target are left alone (never deleted): the verifier reports them as
  unlisted, so export into an empty or a previous runpack's directory.
- I/O failures surface as `RunpackError` (`ArtifactReadError` on the read
  side) with a message naming the runpack path, never file contents.
Implementations must not block the event loop; blocking I/O goes to a thread.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Protocol, runtime_checkable

import attrs

from decision_gate.core.runlog import RunKey

__all__ = ["RunpackDirectory", "RunpackReader", "RunpackStorage", "RunpackTarget", "RunpackWriter"]


@attrs.frozen
class RunpackDirectory:
    """An explicit runpack location chosen by the operator (CLI `--output-dir`,
    the server's `output_dir` argument), rather than derived from a run key.

    `path` is interpreted by the storage (a filesystem path for the filesystem
    storage); inside it the seam's invariants hold as for keyed runpacks.
    """

    path: str


RunpackTarget = RunKey | RunpackDirectory
"""Where a runpack lives: under its run's key, or in an explicit directory."""


@runtime_checkable
class RunpackReader(Protocol):
    """Read access to one stored runpack (satisfies `core.runpack.RunpackSource`)."""

    def read_chunks(self, path: str, max_bytes: int) -> AsyncGenerator[bytes, None]:
        """The bytes of `path` in order; `ArtifactReadError` if it is missing, not a
        regular file, reached through a symlink, or longer than `max_bytes`."""
        ...

    async def list_files(self) -> list[str]:
        """Every non-directory entry below the runpack root (symlinks included, not
        followed), as relative `/`-separated paths, so unlisted files are seen."""
        ...

    @property
    def location(self) -> str:
        """A printable name of the runpack (a path or URI); never secret."""
        ...

    async def close(self) -> None:
        """Release what the reader holds (descriptors, connections); idempotent."""
        ...


@runtime_checkable
class RunpackWriter(Protocol):
    """Writes one runpack; `finalize` makes it complete, `abort` discards the attempt."""

    @property
    def location(self) -> str:
        """A printable name of the runpack being written (a path or URI); never secret."""
        ...

    async def write_artifact(self, path: str, chunks: AsyncIterable[bytes]) -> None:
        """Store `path` from `chunks`; visible under `path` only once fully written."""
        ...

    def reader(self) -> RunpackReader:
        """Read back what this writer has stored so far (export with verification);
        the caller closes it."""
        ...

    async def finalize(self, manifest: bytes) -> str:
        """Write the manifest last, atomically; return the runpack's location."""
        ...

    async def abort(self) -> None:
        """Give up: remove temporary files; the runpack stays without a manifest."""
        ...


@runtime_checkable
class RunpackStorage(Protocol):
    """Where runpacks are stored; selected by `[runpack_storage] type = ...`."""

    async def open_writer(self, target: RunpackTarget, manifest_name: str) -> RunpackWriter:
        """A writer for a runpack at `target` whose manifest will be `manifest_name`.

        `manifest_name` is a validated relative path. If a manifest of that name
        already exists it is removed first, so a rewrite is never seen as the
        old, complete runpack.
        """
        ...

    async def open_reader(self, target: RunpackTarget) -> RunpackReader:
        """A reader for the runpack at `target`; `RunpackError` if it does not exist."""
        ...
