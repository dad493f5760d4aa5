"""The default toolchain: Closure -> Executable through the LLVM backend's steps."""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable

import attrs

from frostline import stats
from frostline.backends import llvm
from frostline.fingerprint import digest
from frostline.stages.closure import Closure
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain import bundle
from frostline.toolchain.cache import CacheWarning, DiskCache
from frostline.toolchain.runner import Job, run_in_place
from frostline.toolchain.workflow import CachedStep, MemoryCache, Step, version_salt


def _infer_types(closure: Closure) -> TypedProgram:
    # Imported on first use: a process served from the disk cache never types anything.
    from frostline.toolchain.typing import infer_types

    return infer_types(closure)


#: Bump a step's version when its output for the same input changes.
INFER_TYPES: Step[Closure, TypedProgram] = Step("infer_types", "3", _infer_types)
LOWER: Step[TypedProgram, CompilableProgram] = Step("llvm.lower", "5", llvm.lower)
OPTIMIZE: Step[CompilableProgram, OptimizedProgram] = Step("llvm.optimize", "1", llvm.optimize)
EMIT: Step[OptimizedProgram, ObjectCode] = Step("llvm.emit_object", "1", llvm.emit_object)


@attrs.frozen
class Toolchain:
    """Closure -> ObjectCode -> Executable.

    ``cached`` wraps the chain in the caches: executables in memory, object
    code on disk, so a disk hit skips every step from typing to code emission.
    """

    infer_types: Step[Closure, TypedProgram] = INFER_TYPES
    lower: Step[TypedProgram, CompilableProgram] = LOWER
    optimize: Step[CompilableProgram, OptimizedProgram] = OPTIMIZE
    emit: Step[OptimizedProgram, ObjectCode] = EMIT

    @property
    def fingerprint(self) -> str:
        return digest("toolchain", self.infer_types.fingerprint, self.lower.fingerprint,
                      self.optimize.fingerprint, self.emit.fingerprint)

    def object_code(self, closure: Closure) -> ObjectCode:
        return self.emit(self.optimize(self.lower(self.infer_types(closure))))

    def executable(self, closure: Closure) -> Executable:
        return llvm.load(self.object_code(closure))

    def salt(self) -> str:
        """What keys carry besides the closure: versions and the host target."""
        return version_salt(llvm.host_target().fingerprint, llvm.versions())

    def cached_object_code(self, disk: DiskCache) -> CachedStep[Closure, ObjectCode]:
        """Closure -> ObjectCode, answered by the disk cache when it can be."""
        return CachedStep(Step("toolchain.object_code", self.fingerprint, self.object_code),
                          disk, self.salt(), hits="disk_hits")

    def object_key(self, closure: Closure) -> str:
        """The key of a closure's object code, in the disk cache and in bundles."""
        return self.cached_object_code(None).key(closure)  # type: ignore[arg-type]

    def job(self, closure: Closure, memory: MemoryCache, disk: DiskCache | None = None,
            compile_code: Callable[[Closure], ObjectCode] | None = None) -> Job[Executable]:
        """The cached chain as a job of short steps (see ``runner``): the memory cache of
        executables, then the disk cache of object code, then each step of the chain, or
        ``compile_code`` in their place (a compiler worker: ``service.pool``).

        Object code in an installed bundle (``bundle``) comes before the disk cache.
        Both caches are keyed on the closure, the toolchain, the versions and the host.
        """
        salt = self.salt()
        key = CachedStep(Step("toolchain", self.fingerprint, self.executable), memory,
                         salt).key(closure)
        hit = memory.get(key)
        if hit is not None:
            stats.bump("memory_hits")
            return hit  # type: ignore[return-value]
        disk_key = self.object_key(closure)
        code = bundle.lookup(disk_key)
        if code is not None:
            stats.bump("bundle_hits")
        elif disk is not None:
            yield "disk cache"
            code = disk.get(disk_key)
            if code is not None:
                stats.bump("disk_hits")
        if code is not None:
            yield "load"
            exe = self._load_cached(closure, code, disk, disk_key)
        elif compile_code is not None:
            yield "compile in a worker"
            code = compile_code(closure)
            stats.bump("worker_compiles")
            if disk is not None:
                disk.put(disk_key, code)
            yield "load"
            exe = llvm.load(code)
        else:
            yield "infer_types"
            typed = self.infer_types(closure)
            yield "lower"
            compilable = self.lower(typed)
            yield "optimize"
            optimized = self.optimize(compilable)
            yield "emit_object"
            code = self.emit(optimized)
            if disk is not None:
                disk.put(disk_key, code)
            yield "load"
            exe = llvm.load(code)
        memory.put(key, exe)
        return exe

    def _load_cached(self, closure: Closure, code: ObjectCode, disk: DiskCache | None,
                     disk_key: str) -> Executable:
        """Load code from a bundle or the disk cache; code that does not link is compiled
        again."""
        try:
            return llvm.load(code)
        except RuntimeError as exc:
            warnings.warn(f"frostline: cached code for {code.abi.signature} does not load "
                          f"({exc}); compiled again", CacheWarning, stacklevel=2)
            fresh = self.object_code(closure)
            if disk is not None:
                disk.put(disk_key, fresh)
            return llvm.load(fresh)

    def cached(self, memory: MemoryCache,
               disk: DiskCache | None = None) -> Callable[[Closure], Executable]:
        """``job`` run in the calling thread: Closure -> Executable through the caches."""
        return lambda closure: run_in_place(self.job(closure, memory, disk))


#: The modules a compilation imports when it first needs them (so that a warm start
#: loads no LLVM).
_COMPILER_MODULES = ("fcntl", "platformdirs", "llvmlite.binding", "frostline.toolchain.typing",
                     "frostline.backends.llvm.hostinfo", "frostline.backends.llvm.target",
                     "frostline.backends.llvm.codegen", "frostline.backends.llvm.wrapper",
                     "frostline.backends.llvm.loader", "frostline.backends.llvm.sharedlib")


def import_compiler() -> None:
    """Import, in this thread, everything a compilation imports.

    Called before a compilation goes to a background thread, so that thread imports
    nothing: a fork while a thread is inside an import leaves that module's import
    lock held in the child for ever (CPython does not renew them), and the child's
    first import of the module hangs.
    """
    for name in _COMPILER_MODULES:
        importlib.import_module(name)


@functools.cache
def default_toolchain() -> Toolchain:
    return Toolchain()
