"""A pool of compiler worker processes, each owned by a monitor thread of its own.

The low-level API submits a request and returns a ``RequestHandle`` (``poll``,
``cancel``, ``result``).  The high-level API builds on it: ``compile(fn, signature)``
blocks and returns an Executable, ``compile_async`` returns a ``CompileHandle`` at once;
both go through the memory and disk caches as an in-process compile does.  A worker is
a fresh interpreter (never a fork), started when the first request needs one and shut
down after ``idle_timeout`` seconds without work (``monitor``).  A compile request
names the program's functions by fingerprint; each worker keeps those it has been sent,
so a helper library travels to a worker once (``worker``: needinclude).
"""

from __future__ import annotations

import atexit
import base64
import collections
import concurrent.futures
import functools
import itertools
import os
import pickle
import queue
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from frostline.toolchain.service import protocol as rpc
from frostline.toolchain.service.monitor import (
    IDLE,
    WORKER_COMMAND,
    RequestHandle,
    Worker,
    WorkerCrashed,
    WorkerError,
    WorkerTimeout,
)

if TYPE_CHECKING:
    from frostline.stages.closure import Closure
    from frostline.stages.executable import ObjectCode
    from frostline.toolchain.runner import BackgroundRunner, CompileHandle

__all__ = ["CompilerPool", "RequestHandle", "WorkerCrashed", "WorkerError", "WorkerTimeout",
           "compiler_pool"]

#: How long a request may take by default (a large program at O3 takes seconds).
DEFAULT_TIMEOUT = 600.0
#: How long a worker waits for work before it exits (its memory goes back).
DEFAULT_IDLE_TIMEOUT = 60.0
#: How long after a failed start-up probe ``ready`` waits before probing again.
PROBE_RETRY = 1.0


def _b64pickle(value: object) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode()


class CompilerPool:
    """Compiler worker processes (``workers``, default ``FROSTLINE_WORKERS``, else one per
    CPU this process may use).

    ``timeout``: the default per request (seconds); ``idle_timeout``: how long a worker
    waits for work before it exits; ``memory_limit``: each worker's address space cap
    (bytes, RLIMIT_AS); ``environment``: variables added to the workers' environment
    (tests set faults there); ``command``: what starts a worker (tests only)."""

    def __init__(self, workers: int | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 memory_limit: int | None = None,
                 environment: Mapping[str, str] | None = None,
                 command: Sequence[str] = WORKER_COMMAND):
        from frostline.parallel import available_cpus

        size = workers if workers is not None else _configured_workers(available_cpus())
        if size < 1:
            raise ValueError(f"a compiler pool needs at least one worker, not {size}")
        self.size = size
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.memory_limit = memory_limit
        self.environment = dict(environment or {})
        self.command = tuple(command)
        self.counts = {"requests": 0, "started": 0, "respawned": 0, "idle_exits": 0,
                       "needinclude": 0, "included": 0}
        self._ids = itertools.count(1)
        self.closed = False
        self._reset()
        _pools.add(self)

    def _reset(self) -> None:
        """The pool's state, empty: at creation, and in a forked child (the workers,
        threads and locks were the parent's; the child starts workers of its own on its
        first request)."""
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._probe: RequestHandle | None = None
        self._probe_failed = 0.0
        #: Requests no worker has taken yet, oldest first.
        self._pending: collections.deque[RequestHandle] = collections.deque()
        #: Workers waiting for a request: the last one idle takes the next; workers with
        #: no process (exited idle, or not started) at the bottom.
        self._idle: list[Worker] = []
        self.workers: list[Worker] = []
        self._runner: BackgroundRunner | None = None
        self._made_dir: str | None = None

    @property
    def _dir(self) -> str:
        """Where workers write object code (made on first use)."""
        with self._lock:
            if self._made_dir is None:
                self._made_dir = tempfile.mkdtemp(prefix="frostline-pool-")
            return self._made_dir

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def next_id(self) -> int:
        return next(self._ids)

    def live_workers(self) -> int:
        """Worker processes running now (idle ones exit after ``idle_timeout``)."""
        return sum(1 for w in self.workers
                   if w.process is not None and w.process.poll() is None)

    # --- the low-level API -------------------------------------------------------------

    def submit(self, method: str, params: dict[str, Any] | None = None,
               timeout: float | None = None, include: Any = None) -> RequestHandle:
        """Queue a request for the next free worker (workers start on demand).
        ``include`` answers the worker's needinclude: fingerprints -> what to send."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the compiler pool is closed")
            handle = RequestHandle(next(self._ids), method, dict(params or {}),
                                   self.timeout if timeout is None else timeout, include)
            self.counts["requests"] += 1
            if self._idle:
                self._idle.pop().inbox.put(handle)
            else:
                self._pending.append(handle)
                if len(self.workers) < self.size:  # every worker busy: one more
                    self.workers.append(Worker(self, len(self.workers)))
        return handle

    def offer(self, worker: Worker) -> None:
        """A monitor can take a request: the oldest pending one goes to its inbox, else it
        joins the idle workers (on top, or at the bottom without a process)."""
        with self._lock:
            if self.closed:
                worker.inbox.put(None)
            elif self._pending:
                worker.inbox.put(self._pending.popleft())
            elif worker.process is None:
                self._idle.insert(0, worker)
            else:
                self._idle.append(worker)

    def next_job(self, worker: Worker) -> Any:
        """A monitor's next request, from its inbox after its ``offer``: ``monitor.IDLE``
        after ``idle_timeout`` without one; None when the pool closes."""
        try:
            return worker.inbox.get(timeout=self.idle_timeout if worker.process else None)
        except queue.Empty:
            with self._lock:
                if worker in self._idle:
                    self._idle.remove(worker)
                    return IDLE
            return worker.inbox.get()  # given a request as the wait ended

    def poll(self, handle: RequestHandle) -> bool:
        return handle.done()

    def cancel(self, handle: RequestHandle) -> bool:
        return handle.cancel()

    def finish(self, job: RequestHandle, reply: dict[str, Any]) -> None:
        """A monitor's final response to ``job``."""
        if job.cancelled_running:
            job.future.set_exception(concurrent.futures.CancelledError())
        elif "error" in reply:
            job.future.set_exception(_remote_error(reply["error"]))
        else:
            job.future.set_result(reply.get("result"))

    # --- the high-level API ------------------------------------------------------------

    def ready(self) -> bool:
        """Whether a worker is up with its compiler loaded; the first call starts one
        (so compiles run in process until the pool is up, never waiting for it).  A
        closed pool is never ready: isolated compiles after it closed (at interpreter
        exit) run in process."""
        if self.closed:
            return False
        if any(w.answered for w in self.workers):
            return True
        with self._probe_lock:
            probe = self._probe
            if probe is not None and probe.done():  # answered, or that worker died
                self._probe = None
                if probe.future.cancelled() or probe.future.exception() is not None:
                    self._probe_failed = time.monotonic()
                probe = None
            if probe is None and time.monotonic() - self._probe_failed > PROBE_RETRY:
                self._probe = self.submit("ping", {"wait": True})
        return any(w.answered for w in self.workers)

    def object_code(self, closure: Closure, timeout: float | None = None) -> ObjectCode:
        """The ObjectCode of a Closure, compiled in a worker."""
        return self.read_result(self.submit_closure(closure, timeout).result())

    def submit_closure(self, closure: Closure, timeout: float | None = None
                       ) -> RequestHandle:
        """Start compiling a Closure: the request names its functions by fingerprint and
        sends the ones a worker asks for."""
        program = closure.program
        functions = {fn.fingerprint: fn for fn in program.functions}
        params = {"entry": program.entry, "functions": list(functions),
                  "options": _b64pickle(program.options),
                  "signature": _b64pickle(closure.signature),
                  "program": program.fingerprint, "out_dir": self._dir,
                  "job": uuid.uuid4().hex}

        def include(names: list[str]) -> dict[str, str]:
            return {fp: _b64pickle(functions[fp]) for fp in names if fp in functions}

        return self.submit("compile", params, timeout, include)

    @staticmethod
    def read_result(result: dict[str, Any]) -> ObjectCode:
        """The object code a compile response's file holds (the file is removed)."""
        path = result["path"]
        try:
            with open(path, "rb") as f:
                return pickle.load(f)  # type: ignore[no-any-return]
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def compile(self, fn: Any, *signature: object, timeout: float | None = None) -> Any:
        """Compile ``fn`` (a function or ``fl.jit`` dispatcher) for ``signature`` in a
        worker, through the caches; blocks, and returns the Executable."""
        dispatcher, sig = _target(fn, signature)
        worker = functools.partial(self.object_code, timeout=timeout)
        return dispatcher._compiled(sig, worker).result()

    def compile_async(self, fn: Any, *signature: object,
                      timeout: float | None = None) -> CompileHandle[Any]:
        """Start compiling ``fn`` for ``signature`` in a worker; returns the same
        ``CompileHandle`` background compilation does, at once."""
        dispatcher, sig = _target(fn, signature)
        worker = functools.partial(self.object_code, timeout=timeout)
        return dispatcher._start(sig, self.runner(), worker)

    def runner(self) -> BackgroundRunner:
        """The threads that wait on this pool's workers for ``compile_async``: one per
        worker, so every worker has a compile to run."""
        from frostline.toolchain.pipeline import import_compiler
        from frostline.toolchain.runner import BackgroundRunner

        with self._lock:
            if self._runner is None:
                import_compiler()  # here, not in a runner thread (see import_compiler)
                self._runner = BackgroundRunner(self.size)
            return self._runner

    def close(self, timeout: float = 2.0) -> None:
        """Stop the workers within ``timeout`` seconds; requests queued or running fail."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.closed:
                return
            self.closed = True
            workers, runner, made_dir = list(self.workers), self._runner, self._made_dir
            pending = list(self._pending)
            self._pending.clear()
            self._idle.clear()
        _pools.discard(self)
        for job in pending:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the compiler pool closed before a "
                                                      "worker took the request"))
        for worker in workers:
            worker.inbox.put(None)
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()) / 2)
        for worker in workers:
            process = worker.process
            if process is not None and process.poll() is None:
                process.kill()  # a request still running: its monitor fails it
        if runner is not None:
            runner.shutdown(wait=False)  # its threads end once their requests fail
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)

    def __enter__(self) -> CompilerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _configured_workers(default: int) -> int:
    text = os.environ.get("FROSTLINE_WORKERS", "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        import warnings

        warnings.warn(f"frostline: FROSTLINE_WORKERS={text!r} is not a number; using "
                      f"{default}", RuntimeWarning, stacklevel=3)
        return default


def _target(fn: Any, signature: tuple[object, ...]) -> tuple[Any, Any]:
    """The dispatcher and Signature ``compile`` and ``compile_async`` were given."""
    from frostline.dispatcher import Dispatcher, jit

    dispatcher = fn if isinstance(fn, Dispatcher) else jit(fn)
    return dispatcher, dispatcher.signature_from(*signature)


def _remote_error(body: dict[str, Any]) -> BaseException:
    """The exception a worker's error response stands for."""
    data = body.get("data") or {}
    if body.get("code") == rpc.COMPILE_FAILED and isinstance(data.get("pickle"), str):
        try:
            exc = pickle.loads(base64.b64decode(data["pickle"]))
            if isinstance(exc, BaseException):
                return exc
        except Exception:  # an exception that does not unpickle: its message stands
            pass
    text = body.get("message", "")
    if data.get("restart"):  # the worker's memory ran out; its monitor replaced it
        return WorkerCrashed(f"{text}; it was restarted")
    if "traceback" in data:
        text += "\n" + data["traceback"]
    return WorkerError(f"the compiler worker answered error {body.get('code')}: {text}",
                       body.get("code"))


_default: CompilerPool | None = None
_default_lock = threading.Lock()
_pools: weakref.WeakSet[CompilerPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    for pool in list(_pools):
        pool._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)


def compiler_pool() -> CompilerPool:
    """The process-wide pool (``FROSTLINE_WORKERS`` workers, default one per CPU), made
    on first use and closed at interpreter exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CompilerPool()
            atexit.register(_default.close)
        return _default
