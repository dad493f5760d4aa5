"""Running a compilation: in the calling thread, or as short tasks on background workers.

A compilation is a *job*: a generator that announces each step by name
(``yield "optimize"``), runs it on the next resumption, and finally returns
its result (``Toolchain.job`` makes one for a closure).  Both runners take a
job and callbacks and give back a ``CompileHandle``:

* ``InPlaceRunner`` runs every step in the calling thread and returns a
  finished handle.
* ``BackgroundRunner`` runs each step as a separate task on a small pool of
  worker threads.  After a step the job goes to the back of the queue, so
  pending compilations interleave step by step and a short compilation
  submitted after a long one finishes first.  A cancelled job stops before
  its next step.  At interpreter exit pending jobs are cancelled and the
  workers stop after their current step.

A ``CompileHandle`` is a ``concurrent.futures.Future`` (``result``, ``done``,
``cancel``, ``wait``/``as_completed`` work on it) with frostline's callbacks:
on success (the result), on failure (the exception) and finalisers (run
after either, and after cancellation).  Each callback runs exactly once;
one added after completion runs at once in the adding thread.  An exception
inside a callback becomes a ``CallbackWarning`` carrying its traceback; it
never reaches the scheduler.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import sys
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from frostline import forksafe, stats

T = TypeVar("T")

#: A compilation: yields the name of each step before running it, returns the result.
Job = Generator[str, None, T]


class CallbackWarning(RuntimeWarning):
    """A compilation callback raised; the message carries its traceback."""


class CompileHandle(concurrent.futures.Future, Generic[T]):  # type: ignore[type-arg]
    """A compilation in progress or done; a ``concurrent.futures.Future`` with callbacks.

    ``stage`` names the step running or last run; after a failure, the step
    that failed.
    """

    def __init__(self, name: str = "compilation") -> None:
        super().__init__()
        self.name = name
        self.stage = "pending"
        self._lock = threading.Lock()
        self._callbacks: list[tuple[str, Callable[..., object]]] = []
        self._ended = False
        forksafe.renew_locks(self, "_lock", "_condition")  # (the Future's)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else "done" if self.done() else self.stage
        return f"<CompileHandle {self.name} [{state}]>"

    def add_callback_on_success(self, fn: Callable[[T], object]) -> None:
        """Call ``fn(result)`` once the compilation succeeds (at once if it has)."""
        self._add("success", fn)

    def add_callback_on_fail(self, fn: Callable[[BaseException], object]) -> None:
        """Call ``fn(exception)`` once the compilation fails (at once if it has)."""
        self._add("fail", fn)

    def add_finalize(self, fn: Callable[[], object]) -> None:
        """Call ``fn()`` once the compilation ends: succeeded, failed or cancelled."""
        self._add("finalize", fn)

    def _add(self, kind: str, fn: Callable[..., object]) -> None:
        with self._lock:
            if not self._ended:
                self._callbacks.append((kind, fn))
                return
        self._run([(kind, fn)])

    def running(self) -> bool:
        return not self.done() and self.stage != "pending"

    def cancel(self) -> bool:
        """Cancel before or during compilation: the job stops before its next step."""
        # The future stays PENDING while its steps run, so cancelling works until
        # the result is set.
        with self._lock:
            first = not self.cancelled()
            if not super().cancel():
                return False
        if first:
            stats.bump("background_cancelled")
        self._end()
        return True

    def _finish(self, result: T | None, error: BaseException | None) -> None:
        """Record the outcome, unless the handle was cancelled meanwhile."""
        try:
            if error is None:
                self.set_result(result)
            else:
                self.set_exception(error)
        except concurrent.futures.InvalidStateError:
            return  # cancelled while its last step ran: the cancellation stands
        self._end()

    def _end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            callbacks, self._callbacks = self._callbacks, []
        self._run([c for c in callbacks if c[0] != "finalize"])
        self._run([c for c in callbacks if c[0] == "finalize"])

    def _run(self, callbacks: list[tuple[str, Callable[..., object]]]) -> None:
        """Run callbacks that apply to how the compilation ended; report their errors."""
        error = None if self.cancelled() else self.exception()
        for kind, fn in callbacks:
            try:
                if kind == "finalize":
                    fn()
                elif self.cancelled():
                    continue
                elif kind == "success" and error is None:
                    fn(self.result())
                elif kind == "fail" and error is not None:
                    fn(error)
            except Exception:
                warnings.warn(f"frostline: a callback of {self.name} raised:\n"
                              f"{traceback.format_exc()}", CallbackWarning, stacklevel=2)


def _step(handle: CompileHandle[T], job: Job[T]) -> bool:
    """Run the job's next step; True when the job has ended (the handle is finished)."""
    try:
        handle.stage = next(job)
        return False
    except StopIteration as done:
        handle._finish(done.value, None)
    except Exception as exc:  # the compilation failed: its handle reports it
        handle._finish(None, exc)
    return True


class InPlaceRunner:
    """Runs a job to its end in the calling thread."""

    def submit(self, job: Job[T], name: str = "compilation") -> CompileHandle[T]:
        handle: CompileHandle[T] = CompileHandle(name)
        handle.stage = "in place"
        while not _step(handle, job):
            pass
        return handle


def run_in_place(job: Job[T]) -> T:
    """Run a job to its end in this thread and return its result (or raise its error)."""
    return InPlaceRunner().submit(job).result()  # type: ignore[no-any-return]


def completed(result: T, name: str = "compilation") -> CompileHandle[T]:
    """A handle for a result that needed no compilation."""
    handle: CompileHandle[T] = CompileHandle(name)
    handle._finish(result, None)
    return handle


class BackgroundRunner:
    """Runs jobs step by step on ``workers`` threads, round-robin."""

    def __init__(self, workers: int = 2):
        self.workers = workers
        self._names = itertools.count()
        self._reset()
        reset = weakref.WeakMethod(self._after_fork)
        forksafe.in_child(lambda: (method := reset()) and method())

    def _reset(self) -> None:
        self._queue: collections.deque[tuple[CompileHandle[Any], Job[Any]]] = \
            collections.deque()
        #: Handles whose step a worker is running.
        self._stepping: set[CompileHandle[Any]] = set()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._shutdown = False

    def _after_fork(self) -> None:
        """A forked child has none of the parent's workers: it starts afresh, and the
        jobs the parent had queued or running are cancelled in the child (they go on
        in the parent), so nothing there waits for them; their finalize callbacks run."""
        orphans = [handle for handle, _ in self._queue] + list(self._stepping)
        self._reset()  # (the jobs are dropped: a running generator cannot be closed)
        for handle in orphans:
            handle.cancel()

    def submit(self, job: Job[T], name: str = "compilation") -> CompileHandle[T]:
        """Queue ``job``; its handle comes back at once."""
        handle: CompileHandle[T] = CompileHandle(name)
        with self._ready:
            if self._shutdown:
                job.close()
                handle.cancel()
                return handle
            self._queue.append((handle, job))
            self._start_workers()
            self._ready.notify()
        stats.bump("background_started")
        return handle

    def pending(self) -> int:
        """Jobs waiting for their next step (running steps not counted)."""
        with self._ready:
            return len(self._queue)

    def _start_workers(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"frostline-compiler-{next(self._names)}")
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._shutdown:
                    self._ready.wait()
                if self._shutdown:
                    return
                handle, job = self._queue.popleft()
                self._stepping.add(handle)  # a handle is always queued or stepping
            ended = handle.cancelled()
            if ended:
                job.close()
            elif _step(handle, job):
                ended = True
                if not handle.cancelled():
                    stats.bump("background_failed" if handle.exception() is not None
                               else "background_finished")
            with self._ready:
                self._stepping.discard(handle)
                if ended:
                    continue
                if not self._shutdown:
                    self._queue.append((handle, job))
                    self._ready.notify()
                    continue
            handle.cancel()  # shut down while its step ran: it ends here
            job.close()

    def shutdown(self, wait: bool = True) -> None:
        """Cancel every pending job and stop the workers after their current step (waiting
        for them to stop, with ``wait``)."""
        with self._ready:
            self._shutdown = True
            pending = list(self._queue)
            self._queue.clear()
            self._ready.notify_all()
        for handle, job in pending:
            handle.cancel()
            job.close()
        for thread in self._threads if wait else ():
            if thread is not threading.current_thread():
                thread.join()


_background: list[BackgroundRunner] = []
_background_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_background_lock")


def background_runner() -> BackgroundRunner:
    """The process's background runner, started on first use and stopped at exit."""
    with _background_lock:
        if not _background:
            runner = BackgroundRunner()
            _background.append(runner)
            _at_exit(runner.shutdown)
        return _background[0]


def _at_exit(fn: Callable[[], None]) -> None:
    # threading's exit hooks run before the interpreter waits for threads and tears
    # down modules: workers stop between steps, while everything still exists.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(fn)
    else:  # pragma: no cover - CPython has it since 3.9
        import atexit

        atexit.register(fn)
