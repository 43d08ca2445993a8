"""Documentation served to agents: `decision_gate_docs_search` and `decision-gate://docs/`.

The default pages are the four agent pages shipped in `server/pages/`
followed by decision-gate's user documentation (the repository's `docs/`
pages, never `docs/platform_core/`, which belongs to another distribution),
plus any `docs.extra_paths` the operator adds (`decision-gate://docs/custom/<id>`).
A user page's id is its path under `docs/` without `.md`, `/` becoming `-`
(`decision-gate://docs/transports-http`); its title is its first `# ` line.
Its role says what kind of answer it gives: concepts defines terms
(ontology); cli, server and configuration say which command, tool or setting
to use (decision); security explains why the guarantees hold (reasoning);
plugins and the transport pages are worked recipes (pattern).
The wheel carries the user pages as `decision_gate/docs/` (put there by
the build hook hatch_build.py); a source checkout reads them from
the repository instead, see `_user_docs_folder`.
Limits are checked when the catalogue is built (per-doc and total bytes,
number of docs), so a running server never reads a file it was not started
with. Search is deterministic (server.md §2.2): pages are split at `## ` and
`### ` headings; each lower-cased query term scores 3 in a heading and 1 in a
section's text; sections of documents whose role the query hints at get a
bonus (2 for the strongest hint, 1 for others); ties go to the earlier
document, then the heading. A blank query returns an overview: the first
section of the first document of each role.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import attrs

from decision_gate.config.model import DocsConfig
from decision_gate.core.errors import InternalError, InvalidInput

URI_PREFIX: Final = "decision-gate://docs/"
ROLES: Final = ("reasoning", "decision", "ontology", "pattern")
DEFAULT_MAX_SECTIONS: Final = 3
HARD_MAX_SECTIONS: Final = 10
OVERVIEW_FOLLOWUP: Final = (
    "Refine the query with comparator, provider, or trust keywords to target guidance."
)
_ROLE_CUES: Final = {
    "ontology": ("schema", "provider", "comparator", "condition", "ret", "jsonpath"),
    "decision": ("which tool", "precheck", "scenario", "runpack", "start", "next"),
    "pattern": ("playbook", "workflow", "recipe", "integration", "example"),
    "reasoning": ("why", "trust", "evidence", "security", "invariant"),
}
_FOLLOWUPS: Final = {
    "reasoning": "Ask why: add trust, evidence or security keywords for the reasoning behind it.",
    "decision": "Ask which tool: add precheck, scenario or runpack keywords for the next step.",
    "ontology": "Ask what it is: add provider, comparator or schema keywords for definitions.",
    "pattern": "Ask how: add workflow or example keywords for a worked recipe.",
}
# The pages shipped with the package: (file, doc id, title is read from the file, role).
_PAGES: Final = (
    ("evidence-flow.md", "evidence-flow", "reasoning"),
    ("tooling.md", "tooling", "decision"),
    ("providers.md", "providers", "ontology"),
    ("agent-playbook.md", "agent-playbook", "pattern"),
)
# decision-gate's user documentation: (path under docs/, role); the build hook
# (packages/decision_gate_oss/hatch_build.py) ships the same paths.
USER_PAGES: Final = (
    ("concepts.md", "ontology"),
    ("cli.md", "decision"),
    ("server.md", "decision"),
    ("configuration.md", "decision"),
    ("security.md", "reasoning"),
    ("plugins.md", "pattern"),
    ("transports/http.md", "pattern"),
    ("transports/mcp.md", "pattern"),
    ("transports/sse.md", "pattern"),
    ("transports/stdio.md", "pattern"),
)
_HEADING: Final = re.compile(r"^(#{2,3}) (.+)$")


@attrs.frozen
class DocPage:
    doc_id: str
    uri: str
    title: str
    role: str
    text: str


@attrs.frozen
class DocSection:
    doc_index: int
    page: DocPage
    heading: str
    content: str


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def _sections(index: int, page: DocPage) -> list[DocSection]:
    sections: list[DocSection] = []
    heading = page.title
    lines: list[str] = []
    for line in page.text.splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append(DocSection(index, page, heading, "\n".join(lines).strip()))
            heading, lines = match.group(2).strip(), []
        else:
            lines.append(line)
    sections.append(DocSection(index, page, heading, "\n".join(lines).strip()))
    return sections


def _user_doc_id(path: str) -> str:
    """`transports/http.md` -> `transports-http`."""
    return path.removesuffix(".md").replace("/", "-")


def _user_docs_folder() -> Traversable:
    """Where the user pages are: `decision_gate.docs` in an installed wheel; else,
    in an editable or source checkout, where the build hook never ran,
    the `docs/` folder of the repository this file sits in
    (`<repo>/packages/decision_gate_oss/src/decision_gate/server/docs.py`).
    """
    try:
        return resources.files("decision_gate.docs")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[5] / "docs"


def _custom_id(path: str, taken: set[str]) -> str:
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    base = re.sub(r"[^a-z0-9]", "_", stem) or "doc"
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


class DocsCatalogue:
    """The pages a server serves, loaded once at start-up under `[docs]` limits."""

    def __init__(self, config: DocsConfig, pages: Sequence[DocPage]) -> None:
        self.config = config
        self.pages = tuple(pages)
        self._sections = [s for i, page in enumerate(self.pages) for s in _sections(i, page)]

    @classmethod
    def load(cls, config: DocsConfig) -> DocsCatalogue:
        pages: list[DocPage] = []
        total = 0

        def admit(doc_id: str, uri: str, text: str, role: str, where: str) -> None:
            nonlocal total
            size = len(text.encode("utf-8"))
            if size > config.max_doc_bytes:
                raise InvalidInput(f"doc {where} exceeds docs.max_doc_bytes ({size} bytes)")
            total += size
            if total > config.max_total_bytes:
                raise InvalidInput("docs exceed docs.max_total_bytes")
            if len(pages) >= config.max_docs:
                raise InvalidInput(f"more than docs.max_docs ({config.max_docs}) docs")
            pages.append(DocPage(doc_id, uri, _title(text, doc_id), role, text))

        if config.enabled and config.include_default_docs:
            folder = resources.files(__package__).joinpath("pages")
            for file_name, doc_id, role in _PAGES:
                text = folder.joinpath(file_name).read_text("utf-8")
                admit(doc_id, URI_PREFIX + doc_id, text, role, file_name)
            user_folder = _user_docs_folder()
            for path, role in USER_PAGES:
                page = user_folder
                for part in path.split("/"):  # one step at a time: 3.11's namespace
                    page = page.joinpath(part)  # package paths take a single child
                try:
                    text = page.read_text("utf-8")
                except OSError:
                    raise InternalError(
                        f"decision-gate's documentation page {path} is not installed"
                    ) from None
                doc_id = _user_doc_id(path)
                admit(doc_id, URI_PREFIX + doc_id, text, role, path)
        taken: set[str] = set()
        for path in config.extra_paths if config.enabled else ():
            try:
                with open(path, "rb") as handle:
                    data = handle.read(config.max_doc_bytes + 1)
            except OSError as error:
                raise InvalidInput(f"docs extra path {path}: {error.strerror or error}") from None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"docs extra path {path} is not UTF-8") from None
            doc_id = _custom_id(path, taken)
            admit(doc_id, f"{URI_PREFIX}custom/{doc_id}", text, "pattern", path)
        return cls(config, pages)

    @property
    def search_enabled(self) -> bool:
        return self.config.enabled and self.config.enable_search

    @property
    def resources_enabled(self) -> bool:
        return self.config.enabled and self.config.enable_resources

    # ------------------------------------------------------------------ resources

    def resource_list(self) -> list[dict[str, str]]:
        return [
            {
                "uri": page.uri,
                "name": page.title,
                "description": f"{page.title} ({page.role})",
                "mimeType": "text/markdown",
            }
            for page in self.pages
        ]

    def read(self, uri: str) -> dict[str, Any]:
        for page in self.pages:
            if page.uri == uri:
                return {"contents": [{"uri": uri, "mimeType": "text/markdown", "text": page.text}]}
        raise InvalidInput(f"unknown resource uri: {uri}")

    # ------------------------------------------------------------------ search

    def search(self, query: str, max_sections: int | None) -> dict[str, Any]:
        cap = min(self.config.max_sections, HARD_MAX_SECTIONS)
        limit = max(1, min(max_sections or DEFAULT_MAX_SECTIONS, cap))
        terms = query.lower().split()
        if not terms:
            chosen = self._overview()[:limit]
            return self._answer(chosen, [OVERVIEW_FOLLOWUP])
        hinted = _role_hints(query.lower())
        scored: list[tuple[int, DocSection]] = []
        for section in self._sections:
            heading, content = section.heading.lower(), section.content.lower()
            score = sum(3 * (term in heading) + (term in content) for term in terms)
            if score == 0:
                continue
            if hinted and section.page.role == hinted[0]:
                score += 2
            elif section.page.role in hinted:
                score += 1
            scored.append((score, section))
        scored.sort(key=lambda item: (-item[0], item[1].doc_index, item[1].heading))
        chosen = [section for _, section in scored[:limit]]
        covered = {section.page.role for section in chosen}
        followups = [_FOLLOWUPS[role] for role in ROLES if role not in covered]
        return self._answer(chosen, followups)

    def _overview(self) -> list[DocSection]:
        chosen = []
        for role in ROLES:
            section = next((s for s in self._sections if s.page.role == role), None)
            if section is not None:
                chosen.append(section)
        return chosen

    @staticmethod
    def _answer(chosen: Iterable[DocSection], followups: list[str]) -> dict[str, Any]:
        sections, covered, seen = [], [], set()
        for rank, section in enumerate(chosen):
            page = section.page
            sections.append(
                {
                    "rank": rank,
                    "doc_id": page.doc_id,
                    "doc_title": page.title,
                    "doc_role": page.role,
                    "heading": section.heading,
                    "content": section.content,
                }
            )
            if page.doc_id not in seen:
                seen.add(page.doc_id)
                covered.append(
                    {"doc_id": page.doc_id, "doc_title": page.title, "doc_role": page.role}
                )
        return {"sections": sections, "docs_covered": covered, "suggested_followups": followups}


def _role_hints(query: str) -> list[str]:
    """Roles the query hints at, strongest first (ties in the order of ROLES)."""
    counts = {role: sum(cue in query for cue in _ROLE_CUES[role]) for role in ROLES}
    hinted = [role for role in ROLES if counts[role] > 0]
    return sorted(hinted, key=lambda role: -counts[role])
