"""The default toolchain: Closure -> Executable through the LLVM backend's steps."""

from __future__ import annotations

import functools

import attrs

from frostline.backends import llvm
from frostline.fingerprint import digest
from frostline.stages.closure import Closure
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain.cache import DiskCache
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

    def cached(self, memory: MemoryCache,
               disk: DiskCache | None = None) -> CachedStep[Closure, Executable]:
        """The chain behind a memory cache of executables and, given one, a disk cache of
        object code; both keyed on the closure, the toolchain, the versions and the host."""
        salt = version_salt(llvm.host_target().fingerprint, llvm.versions())
        if disk is None:
            return CachedStep(Step("toolchain", self.fingerprint, self.executable), memory, salt)
        emit = CachedStep(Step("toolchain.object_code", self.fingerprint, self.object_code),
                          disk, salt, hits="disk_hits")
        load = Step("toolchain", self.fingerprint,
                    lambda closure: llvm.load(emit(closure)))
        return CachedStep(load, memory, salt)


@functools.cache
def default_toolchain() -> Toolchain:
    return Toolchain()
