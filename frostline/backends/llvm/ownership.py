"""Who frees an array: references held by variables and by a statement's temporaries.

A function *manages memory* when it can come to hold an array it must free:
it allocates (``np.zeros``, an array expression made into an array), calls a
function that returns arrays, or returns arrays itself.  Other functions only
ever see their arguments' memory (and views of it), which their callers keep
alive, so they do no reference counting at all.

In a managing function every variable holding arrays (or tuples of them) owns
one reference to each: taken when the variable is assigned (the old value's
released), taken for parameters at entry.  A new array made while a
statement runs (an allocation, a callee's result) is a *temporary*: its
reference sits in a slot of its own and is released when the statement ends,
so a temporary that was stored or returned lives on through the reference
the store or return took.  Every way out of the function, the errors' too,
goes through ``leave``, which releases what variables and temporaries hold.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import irtypes as lt
from frostline.stages.typed import TypedFunction, TypedProgram, node_key

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


def holds_arrays(ty: t.Type) -> bool:
    if isinstance(ty, t.ArrayType):
        return True
    return isinstance(ty, t.TupleType) and any(holds_arrays(i) for i in ty.items)


def owners(b: ir.IRBuilder, value: ir.Value, ty: t.Type) -> list[ir.Value]:
    """The owner fields of every array in a value (an array, or a tuple holding some)."""
    if isinstance(ty, t.ArrayType):
        return [b.extract_value(value, lt.OWNER)]
    if isinstance(ty, t.TupleType):
        return [o for k, item in enumerate(ty.items) if holds_arrays(item)
                for o in owners(b, b.extract_value(value, k), item)]
    return []


def manages_memory(fn: ast.FunctionDef, typed: TypedFunction, program: TypedProgram) -> bool:
    """Whether a function can hold arrays it must free (see the module's docstring)."""
    if holds_arrays(typed.return_type):
        return True
    types = typed.expr_type_map
    for node in ast.walk(fn):
        if isinstance(node, (ast.Call, ast.BinOp, ast.UnaryOp, ast.Compare)) and \
                holds_arrays(types.get(node_key(node), t.none)):
            return True
    return False


class OwnershipLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def retain(self: FunctionLowerer, value: ir.Value, ty: t.Type) -> None:
        for owner in owners(self.builder, value, ty):
            self.builder.call(self.mod.runtime.incref(), [owner])

    def release(self: FunctionLowerer, value: ir.Value, ty: t.Type) -> None:
        for owner in owners(self.builder, value, ty):
            self.builder.call(self.mod.runtime.decref(), [owner])

    def temporary(self: FunctionLowerer, value: ir.Value, ty: t.Type) -> ir.Value:
        """Hold the references of a new value (fresh arrays) until the statement ends."""
        for owner in owners(self.builder, value, ty):
            slot = self.alloca(lt.i8p, "temporary")
            self.alloca_builder.store(ir.Constant(lt.i8p, None), slot)
            self.temporaries.append(slot)
            self.pending.append(slot)
            self.builder.store(owner, slot)
        return value

    def end_statement(self: FunctionLowerer) -> None:
        """Release the temporaries of the statement just lowered."""
        if self.terminated():
            self.pending.clear()
            return
        for slot in self.pending:
            self.builder.call(self.mod.runtime.decref(), [self.builder.load(slot)])
            self.builder.store(ir.Constant(lt.i8p, None), slot)
        self.pending.clear()

    def assign_owned(self: FunctionLowerer, slot: ir.Value, value: ir.Value,
                     ty: t.Type) -> None:
        """Store into a variable that owns what it holds: take the new references, then
        release the old (in that order: ``x = x`` keeps x alive)."""
        if not (self.managed and holds_arrays(ty)):
            self.builder.store(value, slot)
            return
        old = self.builder.load(slot)
        self.retain(value, ty)
        self.builder.store(value, slot)
        self.release(old, ty)

    def owned_slots(self: FunctionLowerer) -> list[tuple[ir.Value, t.Type]]:
        return [(self.vars[name], ty) for name, ty in self.types.items()
                if name in self.vars and holds_arrays(ty)]

    def leave(self: FunctionLowerer, status: ir.Value) -> None:
        """Return ``status``, releasing what the function holds: scratch buffers, and in a
        managing function its variables' and temporaries' references."""
        for cleanup in reversed(self.cleanups):
            cleanup()
        if self.managed:
            for slot, ty in self.owned_slots():
                self.release(self.builder.load(slot), ty)
            for temp in self.temporaries:
                self.builder.call(self.mod.runtime.decref(), [self.builder.load(temp)])
        self.builder.ret(status)
