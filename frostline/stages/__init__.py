"""The stage values of the compilation chain.

Naming: a stage is a noun for what the program *is* at that point
(``Definition``, ``ProgramAST``, ``Closure``, ``TypedProgram``,
``CompilableProgram``, ``OptimizedProgram``, ``ObjectCode``, ``Executable``).
Every stage is a frozen attrs value with ``as_text()`` and a content
``fingerprint``, and pickles.  Stages never import steps.
"""

from frostline.stages.ast import (
    ArrayConstant,
    BuiltinRef,
    Constant,
    ExceptionRef,
    FunctionAST,
    FunctionRef,
    GlobalValue,
    ModuleRef,
    ProgramAST,
    TypeRef,
)
from frostline.stages.closure import Closure
from frostline.stages.definition import Definition, JitOptions
from frostline.stages.executable import BoundCall, EntryABI, Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram, TargetSpec
from frostline.stages.typed import TypedFunction, TypedProgram

__all__ = [
    "ArrayConstant", "BoundCall", "BuiltinRef", "Closure", "CompilableProgram", "Constant",
    "Definition",
    "EntryABI", "ExceptionRef", "Executable", "FunctionAST", "FunctionRef", "GlobalValue",
    "JitOptions", "ModuleRef", "ObjectCode", "OptimizedProgram", "ProgramAST", "TargetSpec",
    "TypeRef", "TypedFunction", "TypedProgram",
]
