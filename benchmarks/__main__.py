"""`python -m benchmarks [NAME ...]`: run the measured claims and print their ratios.

Each benchmark module has `run() -> list[rows]`; every row compares our figure
with a baseline measured in the same process. Results are also written to
benchmarks/results/latest.json for the closing note of a session.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from benchmarks.report import print_rows

BENCHMARKS = (
    "gate_evaluation",
    "canonical_json",
    "control_plane",
    "runpack_memory",
    "audit_log",
    "quota_consume",
    "server_rpc",
)


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    results: dict[str, list[dict[str, object]]] = {}
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        rows = module.run()
        results[name] = rows
        print_rows(name, rows)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


sys.exit(main(sys.argv[1:]))
