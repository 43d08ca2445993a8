"""Peak memory of runpack export and verify: a run 100x longer against a short one.

Both stream (records from the store one at a time into the writer; artifacts
hashed and decoded chunk by chunk), so the peak should not follow the run's
length. Target: the long run's peak within 1.5x of the short run's. Peaks are
Python allocations measured with tracemalloc around the export (or verify)
alone, after the run has been written to a SQLite store.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from benchmarks.scenarios import started_plane, trigger
from decision_gate.core.model import Logical
from decision_gate.core.runlog import RunKey
from decision_gate.runpack_export import export_runpack
from decision_gate.runpacks.filesystem import FilesystemRunpackStorage, verify_runpack_directory
from decision_gate.seams.runpack_storage import RunpackDirectory
from decision_gate.stores import SqliteRunStateStore

SHORT_RUN = 30
LONG_RUN = SHORT_RUN * 100
_T = TypeVar("_T")


async def _peak(operation: Callable[[], Awaitable[_T]]) -> int:
    tracemalloc.start()
    try:
        await operation()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def _measure(triggers: int, folder: Path) -> tuple[int, int]:
    store = SqliteRunStateStore(folder / f"run-{triggers}.sqlite3")
    plane = await started_plane(store)
    for n in range(1, triggers + 1):
        await plane.trigger("bench", trigger(n))
    scenario = await plane.scenario("bench")
    target = folder / f"runpack-{triggers}"

    async def export() -> object:
        return await export_runpack(
            store,
            scenario,
            RunKey(1, 1, "run-1"),
            FilesystemRunpackStorage(target),
            RunpackDirectory(os.fspath(target)),
            generated_at=Logical(triggers + 1),  # type: ignore[arg-type]
        )

    async def verify() -> object:
        report = await verify_runpack_directory(target)
        assert report.passed, report.errors
        return report

    export_peak = await _peak(export)
    verify_peak = await _peak(verify)
    await store.close()
    return export_peak, verify_peak


def run() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        short_export, short_verify = asyncio.run(_measure(SHORT_RUN, folder))
        long_export, long_verify = asyncio.run(_measure(LONG_RUN, folder))
    return [
        {
            "name": f"peak KiB, runpack {operation}: {LONG_RUN} vs {SHORT_RUN} triggers "
            "(target <= 1.5)",
            "ours": round(long / 1024, 1),
            "baseline": round(short / 1024, 1),
            "ratio": round(long / short, 3),
        }
        for operation, long, short in (
            ("export", long_export, short_export),
            ("verify", long_verify, short_verify),
        )
    ]


if __name__ == "__main__":
    from benchmarks.report import print_rows

    print_rows("runpack memory", run())
