"""`[[providers]] type = "mcp"` entries built by the plugin layer, with their lifecycle.

The provider is the real stub process of the provider tests; what is checked
here is what `load_seams` owes the server: the entry becomes an external
provider with its contract and the trust policy the config asks for, the
process it spawned ends when the seams close, and a bad entry stops start-up
with a typed error without leaving an earlier entry's process behind.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from decision_gate.core.errors import InvalidInput
from decision_gate.plugins import load_seams
from decision_gate.providers.evidence_trust import AuditTrust, SignatureRequired
from decision_gate.providers.mcp_external import McpEvidenceProvider, McpStdioTransport
from decision_gate.providers.provider_contract import ProviderContractError

STUB = str(Path(__file__).parents[1] / "providers" / "mcp_stub_provider.py")


def contract(provider_id: str) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        "name": provider_id,
        "description": "The test stub provider.",
        "transport": "mcp",
        "config_schema": {"type": "object"},
        "checks": [
            {
                "check_id": "echo",
                "description": "echo",
                "determinism": "external",
                "params_required": False,
                "params_schema": True,
                "result_schema": True,
                "allowed_comparators": ["exists"],
                "anchor_types": [],
                "content_types": [],
                "examples": [],
            }
        ],
        "notes": [],
    }


def entry(
    folder: Path, name: str, *, contract_for: str | None = None, **keys: Any
) -> dict[str, Any]:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(contract(contract_for or name)))
    return {
        "name": name,
        "type": "mcp",
        # The folder as a last argument (the stub ignores it) marks this test's processes.
        "command": [sys.executable, STUB, "stdio", str(folder)],
        "capabilities_path": str(path),
        **keys,
    }


def public_key_file(folder: Path) -> str:
    path = folder / "trusted.pub"
    path.write_bytes(nacl.signing.SigningKey.generate().verify_key.encode())
    return str(path)


def stdio_pid(provider: object) -> int:
    assert isinstance(provider, McpEvidenceProvider)
    assert isinstance(provider.transport, McpStdioTransport)
    return provider.transport.pid


def gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


async def test_an_mcp_entry_becomes_an_external_provider_with_its_contract(
    tmp_path: Path,
) -> None:
    seams = await load_seams({"providers": [entry(tmp_path, "stub")]})
    try:
        provider = seams.providers.get("stub")
    finally:
        await seams.close()

    assert isinstance(provider, McpEvidenceProvider)
    assert provider.contract == contract("stub")
    assert set(provider.checks) == {"echo"}
    assert isinstance(provider.trust, AuditTrust)


async def test_the_trust_default_policy_applies_to_mcp_entries(tmp_path: Path) -> None:
    key = public_key_file(tmp_path)
    policy = {"require_signature": {"keys": [key]}}
    seams = await load_seams(
        {
            "trust": {"default_policy": policy},
            "providers": [
                entry(tmp_path, "strict"),
                entry(tmp_path, "lenient", trust="audit"),
            ],
        }
    )
    try:
        strict, lenient = seams.providers.get("strict"), seams.providers.get("lenient")
    finally:
        await seams.close()

    assert isinstance(strict, McpEvidenceProvider)
    assert isinstance(strict.trust, SignatureRequired)
    assert set(strict.trust.keys) == {key}
    assert isinstance(lenient, McpEvidenceProvider)
    assert isinstance(lenient.trust, AuditTrust)


async def test_closing_the_seams_ends_the_provider_process(tmp_path: Path) -> None:
    seams = await load_seams({"providers": [entry(tmp_path, "stub")]})
    pid = stdio_pid(seams.providers.get("stub"))

    await seams.close()

    assert gone(pid)


async def test_a_bad_contract_stops_start_up_and_ends_earlier_provider_processes(
    tmp_path: Path,
) -> None:
    first = entry(tmp_path, "first")
    with pytest.raises(ProviderContractError, match="provider id mismatch"):
        await load_seams(
            {"providers": [first, entry(tmp_path, "second", contract_for="someone-else")]}
        )

    assert _children_running(first["command"]) == []


def _children_running(command: list[str]) -> list[int]:
    """Our child processes still running `command` (read from /proc)."""
    found = []
    wanted = "\0".join(command)
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            cmdline = (status.parent / "cmdline").read_text().rstrip("\0")
        except (OSError, IndexError):
            continue
        parent, state = int(fields[1]), fields[0]
        if parent == os.getpid() and cmdline == wanted and state != "Z":
            found.append(int(status.parent.name))
    return found


async def test_a_trusted_key_that_cannot_be_read_stops_start_up(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.pub")
    policy = {"require_signature": {"keys": [missing]}}

    with pytest.raises(InvalidInput, match=f"unable to read public key: {missing}"):
        await load_seams({"trust": {"default_policy": policy}, "providers": [entry(tmp_path, "p")]})


async def test_a_command_that_is_not_an_array_of_strings_is_refused(tmp_path: Path) -> None:
    bad = {**entry(tmp_path, "p"), "command": "python stub.py stdio"}

    with pytest.raises(InvalidInput, match=r"\[\[providers\]\] p: command must be an array"):
        await load_seams({"providers": [bad]})
