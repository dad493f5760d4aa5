"""A compiler worker: ``python -m frostline.toolchain.service.worker``.

Reads JSON-RPC 2.0 requests (``protocol``) on stdin and answers on stdout, one at a
time; whatever else writes to stdout (a C library, a stray print) goes to stderr, which
the pool captures.  Methods: ``ping``; ``compile`` (a pickled Closure in, base64; the
typed, lowered, optimised object code out, pickled to a file in ``out_dir`` whose path
is the result; a CompileError comes back pickled, so the caller raises the same one);
``cancel`` (the worker runs one request at a time: nothing of it is left to stop);
``shutdown``.

``FROSTLINE_WORKER_FAULT=KIND@NAME`` (tests only) makes a compile of the function NAME
fail: ``abort``, ``segv``, ``exit``, ``hang`` or ``junk`` (garbage on stdout).
"""

from __future__ import annotations

import base64
import ctypes
import os
import pickle
import signal
import sys
import time
import traceback
from typing import Any

from frostline.toolchain.service import protocol as rpc


def _fault(name: str) -> None:
    kind, _, target = os.environ.get("FROSTLINE_WORKER_FAULT", "").partition("@")
    if not kind or target != name:
        return
    if kind == "abort":
        os.abort()
    if kind == "segv":
        ctypes.string_at(0)
    if kind == "exit":
        os._exit(3)
    if kind == "hang":
        while True:
            time.sleep(60)
    if kind == "junk":
        os.write(_PROTOCOL_FD, b"this is not a message\r\n\r\n")


def _compile(params: dict[str, Any]) -> dict[str, Any]:
    from frostline.toolchain.pipeline import Toolchain

    closure = pickle.loads(base64.b64decode(params["closure"]))
    _fault(closure.program.entry_function.name)
    code = Toolchain().object_code(closure)
    path = os.path.join(params["out_dir"], f"{os.getpid()}-{params['job']}.obj")
    with open(path, "wb") as f:
        pickle.dump(code, f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"path": path}


def handle(message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The response to one message, and whether the worker goes on."""
    ident = message.get("id")
    method = message.get("method")
    if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return rpc.error(ident, rpc.INVALID_REQUEST, "not a JSON-RPC 2.0 request"), True
    params = message.get("params", {})
    if not isinstance(params, dict):
        return rpc.error(ident, rpc.INVALID_PARAMS, "params must be an object"), True
    if method == "ping":
        return rpc.response(ident, {"pid": os.getpid()}), True
    if method == "shutdown":
        return rpc.response(ident, None), False
    if method == "cancel":
        return rpc.response(ident, {"cancelled": False}), True
    if method != "compile":
        return rpc.error(ident, rpc.METHOD_NOT_FOUND, f"no method {method!r}"), True
    if not isinstance(params.get("closure"), str) or not isinstance(params.get("out_dir"), str):
        return rpc.error(ident, rpc.INVALID_PARAMS,
                         "compile takes closure (base64 pickle) and out_dir"), True
    from frostline.errors import CompileError

    try:
        return rpc.response(ident, _compile(params)), True
    except CompileError as exc:
        data = base64.b64encode(pickle.dumps(exc)).decode()
        return rpc.error(ident, rpc.COMPILE_FAILED, str(exc), {"pickle": data}), True
    except Exception as exc:  # a compiler bug: reported, and the worker goes on
        return rpc.error(ident, rpc.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}",
                         {"traceback": traceback.format_exc()}), True


_PROTOCOL_FD = 1


def main() -> None:
    global _PROTOCOL_FD
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C is the parent's
    _PROTOCOL_FD = os.dup(1)
    os.dup2(2, 1)  # stray output goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    out = os.fdopen(_PROTOCOL_FD, "wb")
    inp = sys.stdin.buffer
    going = True
    while going:
        try:
            message = rpc.read_message(inp)
        except rpc.ProtocolError as exc:
            rpc.write_message(out, rpc.error(None, rpc.PARSE_ERROR, str(exc)))
            return  # the stream is out of step: the pool starts a new worker
        if message is None:
            return
        reply, going = handle(message)
        rpc.write_message(out, reply)


if __name__ == "__main__":
    main()
