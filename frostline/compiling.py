"""How a jit function gets its executables: compiled in place, in the background, or
in a compiler worker process, through the memory and disk caches.

``Compiling`` holds the methods of ``Dispatcher`` that do it (``compile``,
``compile_async`` and the compile step of a call); ``Dispatcher`` decides what a call
needs, these make it.  Every compile is a job of short steps (``toolchain.runner``) that
``Toolchain.job`` builds; the runner it goes to decides where it runs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from frostline import types as t
from frostline.stages.closure import Closure
from frostline.stages.executable import Executable
from frostline.toolchain.cache import DiskCache, default_disk_cache
from frostline.toolchain.pipeline import default_toolchain, import_compiler
from frostline.toolchain.runner import (
    BackgroundRunner,
    CompileHandle,
    InPlaceRunner,
    Job,
    background_runner,
    completed,
)
from frostline.toolchain.workflow import MemoryCache

if TYPE_CHECKING:
    from frostline.dispatcher import Dispatcher

#: The process-wide in-memory cache of executables, keyed by content.
MEMORY_CACHE = MemoryCache()


def _kept(handle: CompileHandle[Any]) -> bool:
    """Whether a finished compilation's failure stays the outcome of its signature (the
    next call reports it, not compiles it again): any failure but a passing one, such
    as a compiler worker's death."""
    if handle.cancelled():
        return False
    error = handle.exception()
    return error is not None and not getattr(error, "transient", False)


class Compiling:
    """The methods of ``Dispatcher`` that compile: in place, in the background, in a
    compiler pool."""

    def _handle(self: Dispatcher, sig: t.Signature) -> CompileHandle[Executable] | None:
        """The finished compilation for ``sig``: in place, or with ``background=True``
        started in the background (None while it runs)."""
        if not self.background:
            return self._compiled(sig)
        exe = self._by_signature.get(sig)
        if exe is not None:
            return completed(exe)
        handle = self.compile_async(sig)
        return handle if handle.done() and not handle.cancelled() else None

    @overload
    def compile(self, signature: str, /) -> Executable: ...
    @overload
    def compile(self, *types: object) -> Executable: ...

    def compile(self: Dispatcher, *signature: object) -> Executable:
        """Compile ahead of time for a signature: a string, type objects, or annotations.

        The compilation runs in the calling thread; ``compile_async`` runs it in the
        background.
        """
        return self._compiled(self.signature_from(*signature)).result()  # type: ignore

    def _compiled(self: Dispatcher, sig: t.Signature,
                  worker: Any = None) -> CompileHandle[Executable]:
        """The finished compilation for ``sig``: compiled in place if need be (by
        ``worker``, a compiler pool's ``object_code``, when given), waiting for one
        running in the background, or the failure kept from before."""
        pending = self._pending.get(sig)
        if pending is not None:  # being compiled in the background: wait for that one
            with contextlib.suppress(concurrent.futures.CancelledError):
                pending.exception()
                return pending
        with self._lock:
            exe = self._by_signature.get(sig)
            if exe is not None:
                return completed(exe)
            job = self._job(sig, worker or self._worker_compile())
            handle = InPlaceRunner().submit(job, name=f"{self.__qualname__}{sig}")
            if _kept(handle):
                self._pending[sig] = handle
        return handle

    def compile_async(self: Dispatcher, *signature: object) -> CompileHandle[Executable]:
        """Start compiling for a signature in the background; returns a handle at once.

        The handle is a ``concurrent.futures.Future`` of the Executable with
        ``add_callback_on_success``, ``add_callback_on_fail``, ``add_finalize``,
        ``result(timeout)``, ``done()`` and ``cancel()``. Calls of this function
        use the executable once it is ready. Asking again for a signature being
        compiled returns the same handle.
        """
        sig = self.signature_from(*signature)
        pool = self._pool()
        if pool is not None and pool.ready():  # isolated: one waiting thread per worker
            return self._start(sig, pool.runner(), pool.object_code)
        return self._start(sig, background_runner(), None)

    def _start(self: Dispatcher, sig: t.Signature, runner: BackgroundRunner,
               worker: Any) -> CompileHandle[Executable]:
        """``compile_async`` on ``runner``, the object code made by ``worker`` (None: in
        this process)."""
        with self._lock:
            exe = self._by_signature.get(sig)
            if exe is not None:
                return completed(exe, name=f"{self.__qualname__}{sig}")
            pending = self._pending.get(sig)
            if pending is not None and not pending.cancelled():
                return pending
            import_compiler()  # here, not in the worker (see there)
            handle = runner.submit(self._job(sig, worker), name=f"{self.__qualname__}{sig}")
            self._pending[sig] = handle
        handle.add_finalize(functools.partial(self._forget, sig, handle))
        return handle

    def _install(self: Dispatcher, sig: t.Signature, exe: Executable) -> None:
        with self._lock:
            self._by_signature.setdefault(sig, exe)

    def _forget(self: Dispatcher, sig: t.Signature, handle: CompileHandle[Executable]) -> None:
        """Drop a finished handle, unless it failed: a failure is kept, so the next call
        (tiered) or ``compile`` reports it instead of compiling the same error again."""
        with self._lock:
            if self._pending.get(sig) is handle and not _kept(handle):
                del self._pending[sig]

    def _job(self: Dispatcher, sig: t.Signature, worker: Any) -> Job[Executable]:
        """This function's compilation for ``sig`` as a job of short steps (see runner);
        the object code made by ``worker`` (a compiler pool's), or None: in this process."""
        yield "parse"
        closure = Closure(self.program, sig)
        chain = default_toolchain()
        if self.cache is False:
            exe = yield from chain.job(closure, MemoryCache(), None, worker)
        else:
            disk = self.cache if isinstance(self.cache, DiskCache) else default_disk_cache()
            exe = yield from chain.job(closure, MEMORY_CACHE, disk, worker)
        self._install(sig, exe)  # before the handle's result is set: no window without it
        return exe

    def _pool(self: Dispatcher) -> Any:
        """The compiler pool this function's compiles go to, or None (in this process)."""
        isolated = self.isolated or os.environ.get("FROSTLINE_ISOLATE") == "1"
        if not isolated:
            return None
        from frostline.toolchain.service.pool import CompilerPool, compiler_pool

        return isolated if isinstance(isolated, CompilerPool) else compiler_pool()

    def _worker_compile(self: Dispatcher) -> Callable[[Closure], Any] | None:
        """How an isolated compile makes object code: in a worker once the pool is up
        (until then, and for a function that is not isolated, None: in this process)."""
        pool = self._pool()
        return pool.object_code if pool is not None and pool.ready() else None
