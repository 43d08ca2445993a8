"""A small external evidence provider for tests, run as a real process.

`python mcp_stub_provider.py stdio [--sign SEED_FILE KEY_ID]` speaks JSON-RPC
with Content-Length framing on stdin/stdout; `... http [--sign ...]` serves
POST on 127.0.0.1 (port 0) and prints `PORT <n>` first. The check id picks
the behaviour, so one process can be well-behaved and hostile in turn:
`echo` answers with what it was asked (and the Authorization and
x-correlation-id headers over HTTP); the other ids are named for how they
misbehave.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nacl.signing

from decision_gate.core.canonical import canonical_json_bytes
from decision_gate.core.jsonvalue import JsonValue

SIGNER: tuple[nacl.signing.SigningKey, str] | None = None


def evidence(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "value": {"kind": "json", "value": value},
        "lane": "verified",
        "error": None,
        "evidence_hash": None,
        "evidence_ref": None,
        "evidence_anchor": {"anchor_type": "stub", "anchor_value": "1"},
        "signature": None,
        "content_type": "application/json",
    }
    if SIGNER is not None:
        key, key_id = SIGNER
        digest: JsonValue = {
            "algorithm": "sha256",
            "value": hashlib.sha256(canonical_json_bytes(value)).hexdigest(),
        }
        signature = key.sign(canonical_json_bytes(digest)).signature
        result["evidence_hash"] = digest
        result["signature"] = {"scheme": "ed25519", "key_id": key_id, "signature": list(signature)}
    return result


def answer(request: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
    """The HTTP status and body answering one JSON-RPC request."""
    arguments = request["params"]["arguments"]
    check = arguments["query"]["check_id"]
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
    if check == "chatty":
        sys.stderr.write(f"debug: {arguments['query']['params']}\n")
        sys.stderr.flush()
        check = "echo"
    if check == "echo":
        value = {
            "id": request["id"],
            "pid": os.getpid(),
            "query": arguments["query"],
            "context": arguments["context"],
            "headers": headers,
        }
        reply["result"] = {"content": [{"type": "json", "json": evidence(value)}]}
    elif check == "bytes":
        result = evidence(None)
        result["value"] = {"kind": "bytes", "value": [1, 2, 3]}
        reply["result"] = {"content": [{"type": "json", "json": result}]}
    elif check == "rpc_error":
        reply["error"] = {"code": -32000, "message": "provider says no"}
    elif check == "text":
        reply["result"] = {"content": [{"type": "text", "text": "plain words"}]}
    elif check == "empty":
        reply["result"] = {"content": []}
    elif check == "no_result":
        pass
    elif check == "not_evidence":
        reply["result"] = {"content": [{"type": "json", "json": {"value": "not tagged"}}]}
    elif check == "wrong_id":
        reply["id"] = "someone-else"
    elif check == "garbage":
        return 200, b"{not json"
    elif check == "huge":
        reply["result"] = {"content": [{"type": "text", "text": "x" * (1024 * 1024 + 10)}]}
    elif check == "tamper_hash":
        result = evidence("signed")
        if result["evidence_hash"] is not None:
            result["evidence_hash"]["value"] = "0" * 64
        reply["result"] = {"content": [{"type": "json", "json": result}]}
    elif check == "bad_signature":
        result = evidence("signed")
        if result["signature"] is not None:
            result["signature"]["signature"][0] ^= 1
        reply["result"] = {"content": [{"type": "json", "json": result}]}
    elif check == "short_signature":
        result = evidence("signed")
        if result["signature"] is not None:
            result["signature"]["signature"] = result["signature"]["signature"][:10]
        reply["result"] = {"content": [{"type": "json", "json": result}]}
    elif check == "other_scheme":
        result = evidence("signed")
        if result["signature"] is not None:
            result["signature"]["scheme"] = "rsa"
        reply["result"] = {"content": [{"type": "json", "json": result}]}
    elif check == "http_500":
        return 500, b"boom"
    elif check == "redirect":
        return 302, b""
    elif check == "slow":
        time.sleep(1.5)
        reply["result"] = {"content": [{"type": "json", "json": evidence("slow")}]}
    elif check == "exit":
        sys.exit(3)
    return 200, json.dumps(reply).encode()


def serve_stdio() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        length = None
        while True:
            line = stdin.readline()
            if not line:
                return
            if not line.strip():
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        request = json.loads(stdin.read(length))
        _, body = answer(request, {})
        if request["params"]["arguments"]["query"]["check_id"] == "huge_header":
            stdout.write(b"X-Pad: " + b"p" * 10000 + b"\r\n")
        stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdout.flush()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen = {
            name: self.headers[name]
            for name in ("Authorization", "x-correlation-id")
            if self.headers[name] is not None
        }
        status, body = answer(request, seen)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    global SIGNER
    transport, options = sys.argv[1], sys.argv[2:]
    if options[:1] == ["--sign"]:
        with open(options[1], "rb") as seed:
            SIGNER = (nacl.signing.SigningKey(seed.read()), options[2])
    if transport == "stdio":
        serve_stdio()
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
