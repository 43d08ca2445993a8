"""The stdio transport: JSON-RPC in Content-Length frames (server.md §1.3).

Each frame is a block of header lines ended by an empty line, of which only
`Content-Length: N` is read, then exactly N bytes of body; replies are
written the same way. Frames are handled one at a time, each with a fresh
server correlation id; the caller is the local process (auth `local`,
subject `stdio`). A frame without a usable length, one longer than
`max_body_bytes`, or input that ends inside a frame stops the server with
`StdioFramingError` - there is no way to resynchronise a byte stream, so
answering would only answer the wrong request. End of input between frames
is a normal shutdown.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO, Final

from decision_gate.core.errors import DecisionGateError
from decision_gate.server.app import DecisionGateServer
from decision_gate.server.auth import Caller
from decision_gate.server.rpc import RpcRequestInfo

MAX_HEADER_LINE_BYTES: Final = 8192
MAX_HEADER_LINES: Final = 32


class StdioFramingError(DecisionGateError):
    """The input is not a sequence of Content-Length frames; the server stops."""


def read_frame(stream: BinaryIO, max_body_bytes: int) -> bytes | None:
    """One frame's body, or None at a clean end of input."""
    length: int | None = None
    for index in range(MAX_HEADER_LINES + 1):
        line = stream.readline(MAX_HEADER_LINE_BYTES + 1)
        if not line:
            if index == 0:
                return None
            raise StdioFramingError("input ended inside a frame header")
        if len(line) > MAX_HEADER_LINE_BYTES:
            raise StdioFramingError("frame header line too long")
        text = line.decode("ascii", "replace").rstrip("\r\n")
        if not text:
            break
        if text.startswith("Content-Length:"):
            value = text[len("Content-Length:") :].strip()
            if not value.isdigit():
                raise StdioFramingError("invalid Content-Length")
            length = int(value)
    else:
        raise StdioFramingError("too many frame header lines")
    if length is None:
        raise StdioFramingError("frame without Content-Length")
    if length > max_body_bytes:
        raise StdioFramingError(f"frame of {length} bytes exceeds max_body_bytes")
    body = stream.read(length)
    if len(body) != length:
        raise StdioFramingError("input ended inside a frame body")
    return body


def write_frame(stream: BinaryIO, body: bytes) -> None:
    stream.write(b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)
    stream.flush()


async def serve_stdio(server: DecisionGateServer, reader: BinaryIO, writer: BinaryIO) -> None:
    """Answer frames from `reader` on `writer` until the input ends."""
    limit = server.config.server.max_body_bytes
    caller = Caller(transport="stdio")
    while True:
        body = await asyncio.to_thread(read_frame, reader, limit)
        if body is None:
            return
        info = RpcRequestInfo(
            caller=caller,
            server_correlation_id=server.correlation_ids.issue(),
            request_bytes=len(body),
        )
        reply = await server.rpc.handle(body, info)
        await asyncio.to_thread(write_frame, writer, reply.encoded())
