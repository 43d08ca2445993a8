"""Every check of the workspace: `nox -s lint typecheck tests bench`.

Sessions install the three distributions from packages/ the way users do, so a
missing dependency in a package's pyproject.toml fails here, not in production.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = (
    "packages/decision_gate_oss",
    "packages/platform_core",
    "packages/decision_gate_enterprise",
)
SOURCES = tuple(f"{p}/src" for p in PACKAGES)
TEST_DEPS = (
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-xdist>=3.6",
    "hypothesis>=6.100",
    "rfc8785>=0.1.4",
    "panzi-json-logic>=1.0",
    "moto[server]>=5.0",
    "mcp>=1.20",
    "cryptography>=42",
    "uv>=0.4",
    "schemathesis>=4.0",
    "openapi-spec-validator>=0.7",
)


def _install_workspace(session: nox.Session) -> None:
    args: list[str] = []
    for package in PACKAGES:
        args += ["-e", package]
    session.install(*args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, and the import-linter contracts of ../shared/ARCHITECTURE.md."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    _install_workspace(session)
    session.run("ruff", "check", *SOURCES, "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on all three packages."""
    session.install("mypy>=1.11", "types-jsonschema", "types-PyYAML", *TEST_DEPS)
    _install_workspace(session)
    session.run("mypy", "--strict", *SOURCES)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite. pytest exits non-zero when it collects no test."""
    _install_workspace(session)
    session.install(*TEST_DEPS)
    args = session.posargs or ["-n", "2", "-q"]
    session.run("pytest", *args)


@nox.session
def bench(session: nox.Session) -> None:
    """The measured claims of benchmarks/, printed as ratios."""
    _install_workspace(session)
    session.install(*TEST_DEPS)
    session.run("python", "-m", "benchmarks", *session.posargs)
