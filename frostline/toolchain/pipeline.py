"""The default toolchain: Closure -> Executable through the LLVM backend's steps."""

from __future__ import annotations

import functools

import attrs

from frostline.backends import llvm
from frostline.backends.llvm import target
from frostline.fingerprint import digest
from frostline.stages.closure import Closure
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain.typing import infer_types
from frostline.toolchain.workflow import CachedStep, MemoryCache, Step, version_salt

#: Bump a step's version when its output for the same input changes.
INFER_TYPES: Step[Closure, TypedProgram] = Step("infer_types", "1", infer_types)
LOWER: Step[TypedProgram, CompilableProgram] = Step("llvm.lower", "1", llvm.lower)
OPTIMIZE: Step[CompilableProgram, OptimizedProgram] = Step("llvm.optimize", "1", llvm.optimize)
EMIT: Step[OptimizedProgram, ObjectCode] = Step("llvm.emit_object", "1", llvm.emit_object)


@attrs.frozen
class Toolchain:
    """Closure -> ObjectCode -> Executable, with the in-memory cache around the whole."""

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

    def cached(self, cache: MemoryCache) -> CachedStep[Closure, Executable]:
        step: Step[Closure, Executable] = Step("toolchain", self.fingerprint, self.executable)
        host = target.host_target()
        return CachedStep(step, cache, version_salt(host.fingerprint, target.versions()))


@functools.cache
def default_toolchain() -> Toolchain:
    return Toolchain()
