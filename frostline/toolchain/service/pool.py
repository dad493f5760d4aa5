"""A pool of compiler worker processes, each owned by a monitor thread of its own.

The low-level API submits a request and returns a ``RequestHandle`` (``poll``,
``cancel``, ``result``); ``compile(fn, signature)`` builds on it and returns an
Executable.  A worker is a fresh interpreter (never a fork), started when the first
request needs one.  Its monitor thread takes the next request from the pool's queue,
writes it to the worker's stdin, reads the response from its stdout, and is the only
thread that touches those pipes.  A worker that exits, crashes, hangs past the
request's timeout or writes garbage fails that request only, with ``WorkerCrashed``
(or ``WorkerTimeout``) carrying the exit status or signal and the tail of its
stderr; the monitor starts a replacement, and the other workers go on.
"""

from __future__ import annotations

import atexit
import base64
import concurrent.futures
import itertools
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from frostline.errors import CompileError
from frostline.toolchain.service import protocol as rpc

#: How long a request may take by default (a large program at O3 takes seconds).
DEFAULT_TIMEOUT = 600.0
#: The bytes of a dead worker's stderr an error quotes.
STDERR_TAIL = 4000


class WorkerCrashed(CompileError):
    """A compiler worker died (or broke the protocol) during a request."""

    def __init__(self, message: str, status: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.status = status
        self.stderr = stderr

    def __str__(self) -> str:
        return self.message + (f"\nworker stderr:\n{self.stderr}" if self.stderr else "")


class WorkerTimeout(WorkerCrashed):
    """A request ran past its timeout; its worker was killed."""


class WorkerError(CompileError):
    """A worker's error response other than a compile error (an unknown method, bad
    parameters, a compiler bug): ``code`` is the JSON-RPC error code."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return self.message


class RequestHandle:
    """One request to the pool: a Future of its result."""

    def __init__(self, ident: int, method: str, params: dict[str, Any], timeout: float):
        self.id = ident
        self.method = method
        self.params = params
        self.timeout = timeout
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        return self.future.result(timeout)

    def cancel(self) -> bool:
        """Cancel the request: at once if no worker has taken it; if one is running it,
        its response is waited for and dropped.  False if it had finished."""
        if self.future.cancel():
            return True
        if self.future.done():
            return False
        self._cancel_running = True
        return True

    _cancel_running = False


def _exit_text(status: int | None) -> str:
    if status is None:
        return "did not exit"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


class _Worker:
    """One worker process and its monitor thread."""

    def __init__(self, pool: CompilerPool, index: int):
        self.pool = pool
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: Any = None
        self.thread = threading.Thread(target=self._monitor, daemon=True,
                                       name=f"frostline-compiler-{index}")
        self.thread.start()

    def spawn(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        env = {**os.environ, **self.pool.environment}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "frostline.toolchain.service.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env,
            start_new_session=True, preexec_fn=self.pool._limits)

    def stderr_tail(self) -> str:
        if self.stderr is None:
            return ""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - STDERR_TAIL))
        return self.stderr.read().decode("utf-8", "replace")

    def _monitor(self) -> None:
        while True:
            job = self.pool._jobs.get()
            if job is None:  # the pool closes
                self.stop()
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                self.run(job)
            except BaseException as exc:  # never lose a request
                if not job.future.done():
                    job.future.set_exception(exc)

    def run(self, job: RequestHandle) -> None:
        if self.process is None or self.process.poll() is not None:
            self.spawn()
        assert self.process is not None and self.process.stdin and self.process.stdout
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            self.process.kill()  # type: ignore[union-attr]

        timer = threading.Timer(job.timeout, kill)
        timer.start()
        try:
            rpc.write_message(self.process.stdin, rpc.request(job.id, job.method, job.params))
            reply = rpc.read_message(self.process.stdout)
            if reply is not None and reply.get("id") != job.id:
                raise rpc.ProtocolError(f"a response to request {reply.get('id')!r}")
        except (OSError, rpc.ProtocolError) as exc:
            reply, broken = None, exc
        else:
            broken = None
        finally:
            timer.cancel()
        if reply is None:
            self.fail(job, timed_out.is_set(), broken)
            return
        self.pool._finish(job, reply)

    def fail(self, job: RequestHandle, timed_out: bool, broken: Exception | None) -> None:
        """The worker died or broke the protocol: fail the request, start a new worker."""
        process = self.process
        assert process is not None
        alive = process.poll() is None  # garbage from a live worker, not a death
        if alive:
            process.kill()
        try:
            status = process.wait(10)
        except subprocess.TimeoutExpired:
            status = None
        tail = self.stderr_tail()
        self.pool._count("respawned")
        if timed_out:
            error: WorkerCrashed = WorkerTimeout(
                f"the compiler worker took longer than {job.timeout:g} s and was killed",
                status, tail)
        elif broken is not None and alive:
            error = WorkerCrashed(f"the compiler worker broke the protocol ({broken}) and "
                                  "was restarted", status, tail)
        else:
            error = WorkerCrashed(f"the compiler worker {_exit_text(status)} during the "
                                  f"request", status, tail)
        job.future.set_exception(error)
        self.process = None
        if not self.pool._closed:
            self.spawn()  # the pool stays full

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            assert process.stdin is not None
            rpc.write_message(process.stdin, rpc.request(0, "shutdown"))
            process.stdin.close()
            process.wait(1.0)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            process.kill()


class CompilerPool:
    """Compiler worker processes (``workers``, default one per CPU this process may use).

    ``environment`` adds variables to the workers' environment (tests set faults
    there); ``memory_limit`` caps each worker's address space (bytes, RLIMIT_AS);
    ``timeout`` is the default per request."""

    def __init__(self, workers: int | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 memory_limit: int | None = None,
                 environment: Mapping[str, str] | None = None):
        from frostline.parallel import available_cpus

        self.size = workers if workers is not None else int(
            os.environ.get("FROSTLINE_WORKERS", 0) or available_cpus())
        if self.size < 1:
            raise ValueError(f"a compiler pool needs at least one worker, not {self.size}")
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.environment = dict(environment or {})
        self.counts = {"requests": 0, "respawned": 0}
        self._jobs: queue.Queue[RequestHandle | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._closed = False
        self._dir = tempfile.mkdtemp(prefix="frostline-pool-")
        self._probe: RequestHandle | None = None
        self._probe_lock = threading.Lock()
        _pools.add(self)

    def _forget_parent(self) -> None:
        """In a forked child: the workers, threads and locks were the parent's; this
        process starts workers of its own on its first request."""
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._probe = None
        self._jobs = queue.Queue()
        self._workers = []
        self._dir = tempfile.mkdtemp(prefix="frostline-pool-")

    def _limits(self) -> None:
        if self.memory_limit:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (self.memory_limit, self.memory_limit))

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    # --- the low-level API -------------------------------------------------------------

    def submit(self, method: str, params: dict[str, Any] | None = None,
               timeout: float | None = None) -> RequestHandle:
        """Queue a request for the next free worker (workers start on demand)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the compiler pool is closed")
            handle = RequestHandle(next(self._ids), method, dict(params or {}),
                                   self.timeout if timeout is None else timeout)
            self.counts["requests"] += 1
            if len(self._workers) < self.size:
                self._workers.append(_Worker(self, len(self._workers)))
        self._jobs.put(handle)
        return handle

    def poll(self, handle: RequestHandle) -> bool:
        return handle.done()

    def cancel(self, handle: RequestHandle) -> bool:
        return handle.cancel()

    def _finish(self, job: RequestHandle, reply: dict[str, Any]) -> None:
        if job._cancel_running:
            job.future.set_exception(concurrent.futures.CancelledError())
            return
        if "error" in reply:
            job.future.set_exception(_remote_error(reply["error"]))
        else:
            job.future.set_result(reply.get("result"))

    # --- the high-level API ------------------------------------------------------------

    def compile(self, fn: Any, signature: Any, timeout: float | None = None) -> Any:
        """Compile ``fn`` (a function or ``fl.jit`` dispatcher) for ``signature`` in a
        worker; the loaded Executable."""
        from frostline.backends import llvm
        from frostline.dispatcher import Dispatcher, jit
        from frostline.stages.closure import Closure

        dispatcher = fn if isinstance(fn, Dispatcher) else jit(fn)
        sig = (dispatcher.signature_from(*signature) if isinstance(signature, tuple)
               else dispatcher.signature_from(signature))
        return llvm.load(self.object_code(Closure(dispatcher.program, sig), timeout))

    def ready(self) -> bool:
        """Whether a worker has answered a ping; the first call starts one that way (so
        compiles can run in process until the pool is up, never waiting for it)."""
        with self._probe_lock:
            if self._probe is None:
                self._probe = self.submit("ping")
            probe = self._probe
            if probe.done() and probe.future.exception() is not None:
                self._probe = None  # that worker died: ask again next time
        return probe.done() and probe.future.exception() is None

    def object_code(self, closure: Any, timeout: float | None = None) -> Any:
        """The ObjectCode of a Closure, compiled in a worker."""
        params = {"closure": base64.b64encode(pickle.dumps(closure)).decode(),
                  "out_dir": self._dir, "job": uuid.uuid4().hex}
        handle = self.submit("compile", params, timeout)
        path = handle.result()["path"]
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def close(self, timeout: float = 2.0) -> None:
        """Stop the workers: at most ``timeout`` seconds, requests in flight fail."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.thread.join(timeout / max(len(workers), 1))
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> CompilerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        pool._forget_parent()


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
