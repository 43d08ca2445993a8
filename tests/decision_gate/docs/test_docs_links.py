"""Links in the server's user documentation lead somewhere: an existing file and heading.

Anchors are GitHub's: the heading text lower-cased, punctuation other than
`-` and `_` dropped, spaces turned into `-`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.decision_gate.docs.doc_pages import DOCS

PAGES = (
    "configuration.md",
    "security.md",
    "server.md",
    "transports/http.md",
    "transports/sse.md",
    "transports/stdio.md",
    "../README.md",
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("#")
    }


@pytest.mark.parametrize("name", PAGES)
def test_every_relative_link_resolves(name: str) -> None:
    page = (DOCS / name).resolve()
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), (name, target)
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), (name, target)
