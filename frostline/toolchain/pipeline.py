"""The default toolchain: Closure -> Executable through the LLVM backend's steps."""

from __future__ import annotations

import functools
import warnings

import attrs

from frostline.backends import llvm
from frostline.fingerprint import digest
from frostline.stages.closure import Closure
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain.cache import CacheWarning, DiskCache
from frostline.toolchain.workflow import CachedStep, MemoryCache, Step, version_salt


def _infer_types(closure: Closure) -> TypedProgram:
    # Imported on first use: a process served from the disk cache never types anything.
    from frostline.toolchain.typing import infer_types

    return infer_types(closure)


#: Bump a step's version when its output for the same input changes.
INFER_TYPES: Step[Closure, TypedProgram] = Step("infer_types", "1", _infer_types)
LOWER: Step[TypedProgram, CompilableProgram] = Step("llvm.lower", "1", llvm.lower)
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

    def cached(self, memory: MemoryCache,
               disk: DiskCache | None = None) -> CachedStep[Closure, Executable]:
        """The chain behind a memory cache of executables and, given one, a disk cache of
        object code; both keyed on the closure, the toolchain, the versions and the host."""
        if disk is None:
            return CachedStep(Step("toolchain", self.fingerprint, self.executable), memory,
                              self.salt())
        emit = self.cached_object_code(disk)

        def load(closure: Closure) -> Executable:
            code = emit(closure)
            try:
                return llvm.load(code)
            except RuntimeError as exc:
                fresh = self.object_code(closure)
                if fresh == code:
                    raise  # compiled just now: a real failure, not a stale entry
                warnings.warn(f"frostline: cached code for {code.abi.signature} does not "
                              f"load ({exc}); compiled again", CacheWarning, stacklevel=2)
                disk.put(emit.key(closure), fresh)
                return llvm.load(fresh)

        return CachedStep(Step("toolchain", self.fingerprint, load), memory, self.salt())


@functools.cache
def default_toolchain() -> Toolchain:
    return Toolchain()
