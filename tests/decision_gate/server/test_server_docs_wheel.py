"""The decision-gate wheel carries the user documentation and serves it with no repository.

The wheel is built once per module with `uv build --wheel` and unpacked in a
temporary folder, which is exactly what installing a pure-Python wheel does;
a subprocess then imports decision_gate from that folder (PYTHONPATH goes
before the editable install) so the repository's docs/ is out of reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from decision_gate.server.docs import USER_PAGES

REPO = Path(__file__).resolve().parents[3]
DECISION_GATE = REPO / "packages" / "decision_gate_oss"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"

SERVE_FROM_THE_WHEEL = """
import asyncio, json, sys
import decision_gate
from decision_gate.config.model import DocsConfig
from decision_gate.core.errors import DecisionGateError
from decision_gate.server.docs import DocsCatalogue

try:
    catalogue = DocsCatalogue.load(DocsConfig())
except DecisionGateError as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    sys.exit(0)
concepts = catalogue.read("decision-gate://docs/concepts")["contents"][0]["text"]
found = catalogue.search("Kleene", None)["sections"]
print(json.dumps({
    "package": decision_gate.__file__,
    "uris": [item["uri"] for item in catalogue.resource_list()],
    "concepts": concepts,
    "found": [section["doc_id"] for section in found],
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [UV, "build", "--wheel", os.fspath(DECISION_GATE), "-o", os.fspath(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("decision_gate-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked into a folder that has no docs/ anywhere above it."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _serve(site: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SERVE_FROM_THE_WHEEL],
        cwd=site,
        env={**os.environ, "PYTHONPATH": os.fspath(site)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_wheel_holds_exactly_the_decision_gate_docs_pages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()

    shipped = {name for name in names if name.startswith("decision_gate/docs/")}
    assert shipped == {f"decision_gate/docs/{path}" for path, _ in USER_PAGES}
    assert "decision_gate/docs/concepts.md" in shipped
    assert "decision_gate/docs/transports/http.md" in shipped
    assert not [name for name in names if "platform_core" in name]


def test_the_installed_wheel_serves_its_own_copy_of_the_docs(installed: Path) -> None:
    served = _serve(installed)

    assert Path(str(served["package"])).is_relative_to(installed)
    assert served["concepts"] == (REPO / "docs" / "concepts.md").read_text(encoding="utf-8")
    assert served["found"] == ["concepts"]
    assert "decision-gate://docs/transports-stdio" in served["uris"]  # type: ignore[operator]


def test_an_install_missing_its_docs_fails_start_up_with_a_typed_error(
    installed: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "site"
    shutil.copytree(installed, broken)
    shutil.rmtree(broken / "decision_gate" / "docs")

    served = _serve(broken)

    assert served == {
        "error": "InternalError",
        "message": "decision-gate's documentation page concepts.md is not installed",
    }


def test_a_wheel_built_from_the_sdist_carries_the_documentation(tmp_path: Path) -> None:
    # `uv build` builds the sdist first and the wheel from it, away from the repository:
    # the sdist must carry the pages itself.
    done = subprocess.run(
        [UV, "build", os.fspath(DECISION_GATE), "-o", os.fspath(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (built,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        pages = sorted(
            name.removeprefix("decision_gate/docs/")
            for name in archive.namelist()
            if name.startswith("decision_gate/docs/")
        )
    assert pages == sorted(path for path, _ in USER_PAGES)
