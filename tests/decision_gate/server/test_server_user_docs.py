"""From a source checkout the server serves the repository's docs/ pages to agents.

`decision_gate_docs_search` and `resources/list` / `resources/read` answer
from the user documentation (docs/, never docs/platform_core/) after the
four agent pages, each under `decision-gate://docs/<path with - for />`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_harness import RunningServer, run_server, server_config

from decision_gate.server.docs import USER_PAGES

DOCS = Path(__file__).resolve().parents[3] / "docs"
AGENT_PAGES = ["evidence-flow", "tooling", "providers", "agent-playbook"]


@pytest.fixture
def evidence_root(tmp_path: Path) -> str:
    (tmp_path / "evidence").mkdir()
    return str(tmp_path / "evidence")


@pytest.fixture
def server(evidence_root: str) -> Iterator[RunningServer]:
    with run_server(server_config(evidence_root)) as running:
        yield running


def test_docs_search_finds_a_phrase_only_the_concepts_page_holds(server: RunningServer) -> None:
    answer = server.call("decision_gate_docs_search", {"query": "Kleene"})

    (section,) = answer["sections"]
    assert (section["doc_id"], section["doc_title"], section["doc_role"]) == (
        "concepts",
        "Concepts",
        "ontology",
    )
    assert section["heading"] == "Tri-state: True, False, Unknown"
    assert "strong Kleene logic" in section["content"]


def test_resources_list_names_the_user_pages_after_the_agent_pages(server: RunningServer) -> None:
    resources = server.rpc("resources/list").json()["result"]["resources"]

    assert [item["uri"].removeprefix("decision-gate://docs/") for item in resources] == [
        *AGENT_PAGES,
        "concepts",
        "cli",
        "server",
        "configuration",
        "security",
        "plugins",
        "transports-http",
        "transports-mcp",
        "transports-sse",
        "transports-stdio",
    ]


def test_each_user_page_is_titled_by_its_first_heading_and_described_by_its_role(
    server: RunningServer,
) -> None:
    resources = server.rpc("resources/list").json()["result"]["resources"]
    described = {item["uri"]: item["description"] for item in resources}

    assert described["decision-gate://docs/concepts"] == "Concepts (ontology)"
    assert described["decision-gate://docs/cli"] == "The `decision-gate` command line (decision)"
    assert described["decision-gate://docs/server"] == "The Decision Gate server (decision)"
    assert described["decision-gate://docs/security"] == "Security guide (reasoning)"
    assert described["decision-gate://docs/transports-http"] == (
        "HTTP: JSON-RPC on `POST /rpc` (pattern)"
    )
    assert described["decision-gate://docs/plugins"].endswith("(pattern)")
    assert described["decision-gate://docs/configuration"].endswith("(decision)")


def test_resources_read_returns_the_concepts_page_as_written(server: RunningServer) -> None:
    response = server.rpc("resources/read", {"uri": "decision-gate://docs/concepts"})

    (content,) = response.json()["result"]["contents"]
    assert content["mimeType"] == "text/markdown"
    assert content["text"] == (DOCS / "concepts.md").read_text(encoding="utf-8")


def test_platform_core_pages_are_not_served(server: RunningServer) -> None:
    resources = server.rpc("resources/list").json()["result"]["resources"]
    answer = server.call("decision_gate_docs_search", {"query": "MemoryTenancyStore"})

    assert "MemoryTenancyStore" in (DOCS / "platform_core" / "tenancy.md").read_text()
    assert not [item for item in resources if "platform" in item["uri"]]
    assert answer["sections"] == []


def test_without_default_docs_no_user_page_is_served(evidence_root: str) -> None:
    config = server_config(evidence_root, "[docs]\ninclude_default_docs = false\n")
    with run_server(config) as server:
        resources = server.rpc("resources/list").json()["result"]["resources"]
        answer = server.call("decision_gate_docs_search", {"query": "Kleene"})

    assert resources == []
    assert answer["sections"] == []


def test_every_decision_gate_page_in_docs_is_served() -> None:
    pages = {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if path.relative_to(DOCS).parts[0] != "platform_core"
    }

    assert {path for path, _ in USER_PAGES} == pages
