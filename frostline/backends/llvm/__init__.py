"""The LLVM CPU backend: TypedProgram -> LLVM IR -> optimised IR -> object code -> Executable.

Each arrow is a step of its own, so a cache can stop the chain anywhere.

The modules behind each step are imported when the step first runs: a process
that only loads cached object code never imports code generation, and one
that only imports frostline does not load LLVM at all (start-up time).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from frostline import stats
from frostline.stages.executable import EntryABI, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram, TargetSpec
from frostline.stages.typed import TypedProgram
from frostline.types import ArrayType

if TYPE_CHECKING:
    from frostline.stages.executable import Executable

__all__ = ["assembly", "emit_object", "host_target", "load", "lower", "optimize", "versions"]


def host_target() -> TargetSpec:
    """This machine: process triple, CPU name and CPU features."""
    from frostline.backends.llvm import hostinfo

    return hostinfo.host_target()


def versions() -> str:
    """The llvmlite and LLVM versions, which belong in every cache key."""
    from frostline.backends.llvm import hostinfo

    return hostinfo.versions()

def lower(typed: TypedProgram, spec: TargetSpec | None = None) -> CompilableProgram:
    """Emit LLVM IR for every instance of the program, plus the CPython entry point and
    the vectorcall function of a bound call."""
    from frostline.backends.llvm import target
    from frostline.backends.llvm.codegen import lower_program
    from frostline.backends.llvm.wrapper import (
        EntryEmitter,
        emit_bound,
        emit_guard,
        emit_vectorcall,
        guardable,
    )

    spec = spec or host_target()
    symbol = f"frostline.entry.{typed.closure.fingerprint[:16]}"
    module, errors, runtime = lower_program(typed, spec.triple, target.data_layout(spec),
                                            f"{symbol}.runtime")
    entry = typed.entry
    entry_ast = typed.closure.program.entry_function
    written = tuple(p in entry.written_params for p in entry_ast.params)
    kernel = module.globals[entry.symbol]
    # Called by the entry and by the bound call: one copy, not one inlined into each
    # (a copy costs O3 and code generation time; a call costs about a nanosecond).
    kernel.attributes.add("noinline")
    release_gil = may_run_long(typed)
    fastcall = EntryEmitter(module, kernel, symbol, entry.arg_types, entry.return_type,
                            written, release_gil, runtime).emit()
    abi = EntryABI(
        function_name=entry_ast.name, symbol=symbol, param_names=entry_ast.params,
        arg_types=entry.arg_types, return_type=entry.return_type,
        written_params=entry.written_params, errors=tuple(errors),
        guarded=guardable(entry.arg_types), qualified_name=typed.closure.program.entry)
    assert abi.runtime_symbol == runtime.symbol
    emit_bound(module, abi.bound_symbol, kernel, entry.arg_types, entry.return_type,
               release_gil, runtime)
    emit_vectorcall(module, fastcall, abi.vectorcall_symbol)
    if abi.guarded:
        dtype_nums = tuple(a.dtype.numpy_dtype.num if isinstance(a, ArrayType) else 0
                           for a in entry.arg_types)
        emit_guard(module, fastcall, abi.guard_symbol, entry.arg_types, dtype_nums)
    return CompilableProgram(str(module), abi, spec, typed.closure.program.options.fastmath)


def may_run_long(typed: TypedProgram) -> bool:
    """Whether the GIL is worth releasing: the program loops or calls functions.

    Releasing and taking the GIL back costs more than a straight-line kernel runs.
    """
    program = typed.closure.program
    return len(program.functions) > 1 or any(
        isinstance(node, (ast.For, ast.While)) for fn in program.functions
        for node in ast.walk(fn.tree))


def optimize(program: CompilableProgram) -> OptimizedProgram:
    """Verify the IR, then run the O3 pipeline for the program's target."""
    from frostline.backends.llvm import target

    module = target.parse_verified(program.llvm_ir)
    target.optimize_module(module, program.target)
    return OptimizedProgram(str(module), program.abi, program.target)


def emit_object(program: OptimizedProgram) -> ObjectCode:
    """Machine code for the optimised program."""
    from frostline.backends.llvm import target

    module = target.parse_verified(program.llvm_ir)
    data = target.emit_object(module, program.target)
    stats.bump("compiled")
    spec = program.target
    return ObjectCode(data, program.abi, spec.triple, spec.cpu, spec.features)


def assembly(program: OptimizedProgram) -> str:
    """The assembly of an optimised program, for reading."""
    from frostline.backends.llvm import target

    return target.emit_assembly(target.parse_verified(program.llvm_ir), program.target)


def load(code: ObjectCode) -> Executable:
    """Link object code into this process: no IR, no optimisation, no code generation."""
    from frostline.backends.llvm import loader

    return loader.load(code)
