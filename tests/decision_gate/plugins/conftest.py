"""Installing small plugins for a test: a real module and a real dist-info on sys.path.

`install_plugin(source, name=..., distribution=..., version=...)` writes the
module and a `<dist>-<version>.dist-info` with an `entry_points.txt` naming it
in the `decision_gate` group, then puts the folder on sys.path, so
`importlib.metadata` discovers it exactly as it discovers an installed wheel.
Module names are unique per test, so no test sees another's plugin.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

InstallPlugin = Callable[..., str]

collect_ignore = ["acme_plugin"]
"""The third-party plugin's own tests run inside its virtual environment
(test_third_party_wheel.py), never in this one, where it is not installed."""


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install(
        source: str,
        *,
        name: str = "acme",
        distribution: str = "acme-decision-gate",
        version: str = "1.2.3",
    ) -> str:
        module = f"dg_test_plugin_{uuid.uuid4().hex[:12]}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), "utf-8")
        dist_info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(exist_ok=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", "utf-8"
        )
        with (dist_info / "entry_points.txt").open("a", encoding="utf-8") as entry_points:
            entry_points.write(f"[decision_gate]\n{name} = {module}\n")
        importlib.invalidate_caches()
        modules.append(module)
        return module

    yield install
    for module in modules:
        sys.modules.pop(module, None)
