"""A compiler worker: the pool runs this file (``python -P .../worker.py``);
``python -m frostline.toolchain.service.worker`` runs the same loop.

Reads JSON-RPC 2.0 requests (``protocol``) on stdin and answers on stdout, one at a
time; whatever else writes to stdout (a C library, a stray print) goes to stderr, which
the pool captures.  Run as a file, the worker starts on the standard library alone and
answers a ``ping`` at once, while a thread imports the compiler (NumPy, llvmlite,
frostline's steps); ``ping`` with ``{"wait": true}`` answers once that is done.

Methods:

* ``compile``: the entry function's id, the fingerprints of every function of the
  program (entry first or not), the options and the signature (pickled, base64).  The
  worker keeps the functions it has been sent, by fingerprint; when it lacks some, it
  answers ``{"needinclude": [fingerprint, ...], "request": id}`` and the caller sends
  them with ``continuecompile`` (``{"request": id, "functions": {fingerprint: pickle}}``),
  repeated until the worker has all it needs.  The typed, lowered, optimised object code
  is pickled to a file in ``out_dir`` whose path is the result; a CompileError comes
  back pickled, so the caller raises the same one.
* ``cancel``: the worker runs one request at a time, so nothing of it is left to stop.
* ``ping``, ``shutdown``.

``FROSTLINE_WORKER_FAULT=KIND@NAME`` (tests only) makes a compile of the function NAME
fail: ``abort``, ``segv``, ``exit``, ``hang``, ``junk`` (garbage on stdout), ``badid`` (a
response to another request) or ``oom``
(allocates until it fails: under a ``memory_limit`` only).  A worker out of memory
answers so (``data.restart``), and the pool replaces it.
"""

from __future__ import annotations

import base64
import collections
import ctypes
import importlib.util
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any

if __package__:
    from frostline.toolchain.service import protocol as rpc
else:  # run as a file: importing the package would import NumPy before the first ping
    _spec = importlib.util.spec_from_file_location(
        "_frostline_protocol", os.path.join(os.path.dirname(__file__), "protocol.py"))
    assert _spec is not None and _spec.loader is not None
    rpc = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(rpc)

#: The functions a worker keeps (an LRU by fingerprint), and the compiles it keeps
#: waiting for their functions.
MAX_FUNCTIONS = 4096
MAX_WAITING = 64

_functions: collections.OrderedDict[str, Any] = collections.OrderedDict()
_waiting: collections.OrderedDict[Any, dict[str, Any]] = collections.OrderedDict()
_compiler_loaded = threading.Event()
_compiler_failed: list[str] = []
_loader: list[threading.Thread] = []  # the thread ``main`` starts to import the compiler


def _load_compiler() -> None:
    """Import everything a compile needs (on a thread, while the worker answers pings)."""
    try:
        from frostline.toolchain.pipeline import default_toolchain, import_compiler

        import_compiler()
        from frostline.backends import llvm

        llvm.host_target()
        default_toolchain()
        _give_back_memory()
    except BaseException:  # reported by every compile and waiting ping
        _compiler_failed.append(traceback.format_exc())
    finally:
        _compiler_loaded.set()


def _give_back_memory() -> None:
    """Return the heap the imports freed to the system (a worker's resident size is what
    a pool of them costs)."""
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _wait_for_compiler() -> None:
    if not _loader and not _compiler_loaded.is_set():  # ``handle`` called without ``main``
        _load_compiler()
    _compiler_loaded.wait()


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
    if kind == "badid":  # a well-formed response to a request nobody sent
        body = b'{"jsonrpc": "2.0", "id": -1, "result": null}'
        os.write(_PROTOCOL_FD, b"Content-Length: %d\r\n\r\n" % len(body) + body)
    if kind == "oom":  # (under a memory_limit only: it takes all there is)
        hoard = []
        while True:
            hoard.append(bytearray(64 << 20))


def _unpickle(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


class _BadParams(Exception):
    pass


def _compile(ident: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Compile, or name the functions still missing."""
    fingerprints = params["functions"]
    missing = [fp for fp in fingerprints if fp not in _functions]
    if missing:
        _waiting[ident] = params
        while len(_waiting) > MAX_WAITING:
            _waiting.popitem(last=False)
        return {"needinclude": missing, "request": ident}
    from frostline.stages.ast import ProgramAST
    from frostline.stages.closure import Closure
    from frostline.toolchain.pipeline import default_toolchain

    for fp in fingerprints:
        _functions.move_to_end(fp)
    program = ProgramAST(params["entry"], tuple(_functions[fp] for fp in fingerprints),
                         _unpickle(params["options"]))
    if program.fingerprint != params["program"]:
        raise _BadParams("the functions sent do not make the program named")
    closure = Closure(program, _unpickle(params["signature"]))
    _fault(program.entry_function.name)
    start = time.perf_counter()
    code = default_toolchain().object_code(closure)
    path = os.path.join(params["out_dir"], f"{os.getpid()}-{params['job']}.obj")
    with open(path, "wb") as f:
        pickle.dump(code, f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"path": path, "seconds": time.perf_counter() - start}


def _include(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``continuecompile``: keep the functions sent; the compile request it continues."""
    waiting = _waiting.pop(params.get("request"), None)
    functions = params.get("functions")
    if waiting is None:
        raise _BadParams(f"no compile request {params.get('request')!r} waits for functions")
    if not isinstance(functions, dict):
        raise _BadParams("continuecompile takes functions: {fingerprint: pickle}")
    for fp, text in functions.items():
        fn = _unpickle(text)
        if getattr(fn, "fingerprint", None) != fp:
            raise _BadParams(f"the function sent as {fp} has another fingerprint")
        _functions[fp] = fn
    while len(_functions) > MAX_FUNCTIONS:
        _functions.popitem(last=False)
    return params["request"], waiting


_COMPILE_PARAMS = {"entry": str, "functions": list, "options": str, "signature": str,
                   "program": str, "out_dir": str, "job": str}


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
        if params.get("wait"):
            _wait_for_compiler()
        loaded = _compiler_loaded.is_set() and not _compiler_failed
        if _compiler_failed and params.get("wait"):
            return rpc.error(ident, rpc.INTERNAL_ERROR, "the compiler does not import",
                             {"traceback": _compiler_failed[0]}), True
        return rpc.response(ident, {"pid": os.getpid(), "compiler": loaded}), True
    if method == "shutdown":
        return rpc.response(ident, None), False
    if method == "cancel":
        return rpc.response(ident, {"cancelled": False}), True
    if method not in ("compile", "continuecompile"):
        return rpc.error(ident, rpc.METHOD_NOT_FOUND, f"no method {method!r}"), True
    if method == "compile" and not all(isinstance(params.get(k), v)
                                       for k, v in _COMPILE_PARAMS.items()):
        return rpc.error(ident, rpc.INVALID_PARAMS, "compile takes "
                         + ", ".join(f"{k} ({v.__name__})" for k, v in
                                     _COMPILE_PARAMS.items())), True
    _wait_for_compiler()
    if _compiler_failed:
        return rpc.error(ident, rpc.INTERNAL_ERROR, "the compiler does not import",
                         {"traceback": _compiler_failed[0]}), True
    from frostline.errors import CompileError

    try:
        if method == "continuecompile":
            original, params = _include(params)
        else:
            original = ident
        return rpc.response(ident, _compile(original, params)), True
    except CompileError as exc:
        data = base64.b64encode(pickle.dumps(exc)).decode()
        return rpc.error(ident, rpc.COMPILE_FAILED, str(exc), {"pickle": data}), True
    except MemoryError:  # its memory limit: the pool starts a fresh worker
        return rpc.error(ident, rpc.INTERNAL_ERROR, "the compiler worker ran out of memory",
                         {"restart": True}), True
    except (_BadParams, pickle.UnpicklingError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, _BadParams) or method == "continuecompile":
            return rpc.error(ident, rpc.INVALID_PARAMS, str(exc)), True
        return _internal(ident, exc), True
    except Exception as exc:  # a compiler bug: reported, and the worker goes on
        return _internal(ident, exc), True


def _internal(ident: Any, exc: Exception) -> dict[str, Any]:
    return rpc.error(ident, rpc.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}",
                     {"traceback": traceback.format_exc()})


_PROTOCOL_FD = 1


def main() -> None:
    global _PROTOCOL_FD
    limit = os.environ.get("FROSTLINE_WORKER_MEMORY")
    if limit:  # the pool's memory_limit, set here: a preexec_fn would run Python code
        import resource  # between fork and exec in a threaded parent

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C is the parent's
    _PROTOCOL_FD = os.dup(1)
    os.dup2(2, 1)  # stray output goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    _loader.append(threading.Thread(target=_load_compiler, daemon=True, name="load-compiler"))
    _loader[0].start()
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
