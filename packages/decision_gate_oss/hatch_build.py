"""Build hook: put decision-gate's user documentation into its sdist and wheel.

The pages live in the repository's docs/ folder, two levels above this
project. An sdist carries them in its own docs/ folder, so a wheel built from
the sdist finds them there; the wheel holds them as decision_gate/docs/, which
server/docs.py serves through `decision_gate_docs_search` and the
`decision-gate://docs/` resources. docs/platform_core/ belongs to
platform-core and stays out. Editable installs read the repository's docs/
directly and get nothing from this hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The same pages as USER_PAGES in src/decision_gate/server/docs.py (a test compares them).
PAGES = (
    "concepts.md",
    "cli.md",
    "server.md",
    "configuration.md",
    "security.md",
    "plugins.md",
    "transports/http.md",
    "transports/mcp.md",
    "transports/sse.md",
    "transports/stdio.md",
)


class UserDocumentation(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        candidates = (root / "docs", root.parent.parent / "docs")
        for folder in candidates:
            if all((folder / page).is_file() for page in PAGES):
                break
        else:
            raise FileNotFoundError(
                "decision-gate's documentation pages were not found in "
                + " or ".join(str(folder) for folder in candidates)
            )
        prefix = "decision_gate/docs" if self.target_name == "wheel" else "docs"
        for page in PAGES:
            build_data["force_include"][str(folder / page)] = f"{prefix}/{page}"
