"""What moves stages along: parse, bind, infer_types; the LLVM backend's steps follow.

The default chain is ``frostline.toolchain.pipeline.default_toolchain()``.

Walk the chain by hand::

    definition = Definition(f)
    program = parse(definition)                 # ProgramAST
    closure = bind(program, "float64[:]")       # Closure
    typed = infer_types(closure)                # TypedProgram
    compilable = llvm.lower(typed)              # CompilableProgram (LLVM IR)
    optimized = llvm.optimize(compilable)       # OptimizedProgram (O3 IR)
    code = llvm.emit_object(optimized)          # ObjectCode
    exe = llvm.load(code)                       # Executable
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from frostline.stages.ast import ProgramAST
from frostline.stages.closure import Closure
from frostline.toolchain.frontend import parse
from frostline.toolchain.workflow import CachedStep, MemoryCache, Step
from frostline.types import Signature, make_signature

if TYPE_CHECKING:
    from frostline.toolchain.typing import infer_types


def __getattr__(name: str) -> object:
    # Type inference is imported on first use: loading cached code never needs it.
    if name == "infer_types":
        from frostline.toolchain.typing import infer_types

        return infer_types
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bind(program: ProgramAST, *signature: object) -> Closure:
    """Attach a compile-time signature to a program."""
    return Closure(program, make_signature(*signature))


__all__ = ["CachedStep", "MemoryCache", "Signature", "Step", "bind", "infer_types", "parse"]
