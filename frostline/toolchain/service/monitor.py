"""One compiler worker process and the monitor thread that owns its pipes.

The monitor takes the next request its pool gives it (``CompilerPool.next_job``: the
worker idle most recently gets the next request, so a warm worker that has the functions
already serves first), writes it to the worker's stdin and reads the response from its
stdout; it is the only thread that touches those pipes. It answers the worker's
``needinclude`` itself, from the request's include handler, with ``continuecompile``
requests until the final response. A worker that exits, crashes, hangs past the
request's timeout or writes garbage fails that request only, with ``WorkerCrashed`` (or
``WorkerTimeout``) carrying the exit status or signal and the tail of its stderr; the
monitor starts a replacement. A worker idle for the pool's ``idle_timeout`` is shut
down, and started again by the next request.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from frostline.errors import CompileError
from frostline.toolchain.service import protocol as rpc

if TYPE_CHECKING:
    from frostline.toolchain.service.pool import CompilerPool

#: The bytes of a dead worker's stderr an error quotes.
STDERR_TAIL = 4000
#: The most ``needinclude`` rounds one request may take (a worker asking for ever is
#: broken).
MAX_ROUNDS = 16
#: What the pool runs: this package's worker file, so that the worker answers its first
#: ping before it imports NumPy (``-P``: its folder does not go on ``sys.path``).
WORKER_COMMAND = (sys.executable, "-P", os.path.join(os.path.dirname(__file__), "worker.py"))


class WorkerCrashed(CompileError):
    """A compiler worker died (or broke the protocol) during a request."""

    #: Not kept as the outcome of its signature: the next call compiles again (a
    #: worker can die of something passing: memory, a kill from outside).
    transient = True

    def __init__(self, message: str, status: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.status = status
        self.stderr = stderr

    def __str__(self) -> str:
        return self.message + (f"\nworker stderr:\n{self.stderr}" if self.stderr else "")


class WorkerTimeout(WorkerCrashed):
    """A request ran past its timeout; its worker was killed."""

    #: Kept as the outcome of its signature: compiling again would wait as long again.
    transient = False


class WorkerError(CompileError):
    """A worker's error response other than a compile error (an unknown method, bad
    parameters, a compiler bug): ``code`` is the JSON-RPC error code."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return self.message


#: What ``CompilerPool.next_job`` gives a worker that waited ``idle_timeout`` for work.
IDLE = object()

#: Answers a worker's ``needinclude``: the fingerprints it names -> what to send.
IncludeHandler = Callable[[list[str]], dict[str, str]]


class RequestHandle:
    """One request to the pool: a Future of its result.  ``rounds`` counts its
    ``needinclude`` / ``continuecompile`` round trips."""

    def __init__(self, ident: int, method: str, params: dict[str, Any], timeout: float,
                 include: IncludeHandler | None = None):
        self.id = ident
        self.method = method
        self.params = params
        self.timeout = timeout
        self.include = include
        self.rounds = 0
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
        self.cancelled_running = True
        return True

    cancelled_running = False


def exit_text(status: int | None) -> str:
    if status is None:
        return "did not exit"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


class Worker:
    """One worker process (started on demand) and its monitor thread."""

    def __init__(self, pool: CompilerPool, index: int):
        self.pool = pool
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: Any = None
        #: Where the pool puts the request it gives this worker while it waits.
        self.inbox: queue.Queue[Any] = queue.Queue()
        #: Whether the process has answered a request (it is up).
        self.answered = False
        self.thread = threading.Thread(target=self._monitor, daemon=True,
                                       name=f"frostline-compiler-{index}")
        self.thread.start()

    def spawn(self) -> None:
        if self.stderr is not None:
            self.stderr.close()
        self.stderr = tempfile.TemporaryFile()
        self.answered = False
        env = {**os.environ, **self.pool.environment}
        if self.pool.memory_limit:  # the worker applies it first thing (no preexec_fn:
            env["FROSTLINE_WORKER_MEMORY"] = str(self.pool.memory_limit)  # see worker)
        try:
            self.process = subprocess.Popen(
                self.pool.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self.stderr, env=env, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as exc:
            self.process = None
            raise WorkerCrashed(f"the compiler worker does not start: {exc}") from None
        self.pool.count("started")

    def stderr_tail(self) -> str:
        if self.stderr is None:
            return ""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - STDERR_TAIL))
        return self.stderr.read().decode("utf-8", "replace")

    def _monitor(self) -> None:
        self.pool.offer(self)
        while True:
            job = self.pool.next_job(self)
            if job is IDLE:
                if self.process is not None:
                    self.pool.count("idle_exits")
                    self.stop()  # idle: the memory goes back; the next request restarts it
                self.pool.offer(self)
                continue
            if job is None:  # the pool closes
                self.stop()
                self.close()
                return
            if not job.future.set_running_or_notify_cancel():
                self.pool.offer(self)
                continue
            self._offered = False
            try:
                self.run(job)
            except BaseException as exc:  # never lose a request
                self._offer()
                if not job.future.done():
                    job.future.set_exception(exc)

    _offered = False

    def _offer(self) -> None:
        """Be ready for the next request before this one's caller hears of its end, so
        that a caller's next request finds this warm worker idle."""
        if not self._offered:
            self._offered = True
            self.pool.offer(self)

    def _exchange(self, job: RequestHandle) -> dict[str, Any] | None:
        """Send the request, answer its needinclude rounds; the final response."""
        assert self.process is not None and self.process.stdin and self.process.stdout
        message = rpc.request(job.id, job.method, job.params)
        while True:
            rpc.write_message(self.process.stdin, message)
            reply = rpc.read_message(self.process.stdout)
            if reply is None:
                return None
            if reply.get("id") != message["id"]:
                raise rpc.ProtocolError(f"a response to request {reply.get('id')!r}")
            self.answered = True
            result = reply.get("result")
            if not (isinstance(result, dict) and "needinclude" in result):
                return reply
            if job.include is None or job.rounds >= MAX_ROUNDS:
                why = ("no include handler" if job.include is None
                       else f"{MAX_ROUNDS} rounds")
                return rpc.error(job.id, rpc.INTERNAL_ERROR,
                                 f"the worker asked for functions ({why})")
            if job.cancelled_running:
                return reply  # dropped as cancelled: no more rounds
            names = [str(n) for n in result["needinclude"]]
            job.rounds += 1
            self.pool.count("needinclude")
            self.pool.count("included", len(names))
            message = rpc.request(self.pool.next_id(), "continuecompile",
                                  {"request": result.get("request"),
                                   "functions": job.include(names)})

    def run(self, job: RequestHandle) -> None:
        if self.process is None or self.process.poll() is not None:
            self.spawn()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            self.process.kill()  # type: ignore[union-attr]

        timer = threading.Timer(job.timeout, kill)
        timer.start()
        broken: Exception | None = None
        try:
            reply = self._exchange(job)
        except (OSError, rpc.ProtocolError) as exc:
            reply, broken = None, exc
        finally:
            timer.cancel()
        if reply is None:
            self.fail(job, timed_out.is_set(), broken)
            return
        if (reply.get("error") or {}).get("data", {}).get("restart"):
            self.pool.count("respawned")
            self.stop()  # out of memory: the next request starts a fresh worker
        self._offer()
        self.pool.finish(job, reply)

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
        self.pool.count("respawned")
        if timed_out:
            error: WorkerCrashed = WorkerTimeout(
                f"the compiler worker took longer than {job.timeout:g} s and was killed",
                status, tail)
        elif broken is not None and alive:
            error = WorkerCrashed(f"the compiler worker broke the protocol ({broken}) and "
                                  "was restarted", status, tail)
        else:
            error = WorkerCrashed(f"the compiler worker {exit_text(status)} during the "
                                  f"request", status, tail)
        _close_pipes(process)
        self.process = None
        self.answered = False
        try:
            if not self.pool.closed:
                self.spawn()  # the pool stays full
        finally:
            self._offer()
            job.future.set_exception(error)

    def stop(self) -> None:
        process = self.process
        self.answered = False
        if process is None:
            return
        if process.poll() is not None:
            self.process = None
            return
        try:
            assert process.stdin is not None
            rpc.write_message(process.stdin, rpc.request(0, "shutdown"))
            process.stdin.close()
            process.wait(1.0)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            process.kill()
            process.wait()
        finally:
            _close_pipes(process)
            self.process = None

    def close(self) -> None:
        """After the monitor has stopped: the stderr file goes."""
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()  # type: ignore[union-attr]
