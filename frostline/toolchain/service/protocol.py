"""JSON-RPC 2.0 messages framed by ``Content-Length`` headers, as the Language Server
Protocol frames them: ``Content-Length: N\r\n\r\n`` then N bytes of UTF-8 JSON.

Large binary results (object code) do not travel in the JSON: the worker writes them to
a file whose path is in the response.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

#: The standard error codes, and the server errors of this protocol.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
COMPILE_FAILED = -32000
CANCELLED = -32001

#: The largest message either side accepts.
MAX_BYTES = 64 << 20


class ProtocolError(Exception):
    """A message that is not a framed JSON-RPC message (the other side is broken)."""


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream; ProtocolError for garbage."""
    length = None
    while True:
        line = stream.readline(1024)
        if not line:
            if length is None:
                return None
            raise ProtocolError("the stream ended inside a message's headers")
        if line in (b"\r\n", b"\n"):
            break
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(f"bad Content-Length: {value.strip()[:40]!r}") from None
    if length is None or not 0 <= length <= MAX_BYTES:
        raise ProtocolError(f"a message needs a Content-Length of 0 to {MAX_BYTES} bytes")
    body = stream.read(length)
    if len(body) != length:
        raise ProtocolError("the stream ended inside a message")
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"the message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message is a JSON object")
    return message


def request(ident: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        message["params"] = params
    return message


def response(ident: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def error(ident: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": ident, "error": body}
