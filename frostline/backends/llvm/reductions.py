"""Lowering reductions (``toolchain.reductions``) over fused element trees, and the other
calls of array code: ``a.transpose()``, ufunc spellings of scalars.

Every reduction runs one loop nest over its operand (``arrayexpr``), so
``np.sum(a * b)`` reads a and b once and allocates nothing.  Sums of floats
may be reassociated (LLVM then adds in vector lanes, as NumPy's pairwise sum
also groups), so they can differ from NumPy's in the last bits; min and max
propagate nan as NumPy does; argmin and argmax give the first position.
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith, ufuncs
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import elem_type, leaves
from frostline.backends.llvm.library import SPECIAL
from frostline.stages.ast import BuiltinRef
from frostline.toolchain import creation, reductions
from frostline.toolchain import ufuncs as ufunc_table
from frostline.toolchain.typing.rules import dotted_name

if TYPE_CHECKING:
    from frostline.backends.llvm.arrayexpr import Elem
    from frostline.backends.llvm.codegen import FunctionLowerer


#: How each join is lowered (``joins``).
JOIN_LOWERING = {
    "numpy.concatenate": lambda fl, node: fl.concatenate(node),
    "numpy.stack": lambda fl, node: fl.stack(node),
    "numpy.flip": lambda fl, node: fl.flip(node),
    "numpy.triu": lambda fl, node: fl.triangle(node, upper=True),
    "numpy.tril": lambda fl, node: fl.triangle(node, upper=False),
}


def extreme_value(ty: t.ScalarType, highest: bool) -> ir.Constant:
    """The value no element passes: -inf/+inf, or the integer type's limit."""
    if ty.is_float:
        return ir.Constant(lt.scalar(ty), math.inf if highest else -math.inf)
    if ty.is_bool:
        return ir.Constant(lt.i1, int(highest))
    bits = ty.bits
    if ty.is_signed:
        value = (1 << (bits - 1)) - 1 if highest else -(1 << (bits - 1))
    else:
        value = (1 << bits) - 1 if highest else 0
    return arith.const(ty, value)


class ReductionLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def array_call(self: FunctionLowerer, node: ast.Call) -> ir.Value:
        """A call in array code that gives a value: a reduction, a transpose, or a ufunc
        spelling (``np.add``) of scalars."""
        ref = self.fn.lookup(dotted_name(node.func) or "")
        if isinstance(ref, BuiltinRef):
            name = ref.name
            if name in creation.CREATIONS:
                return self.create(node, name)
            if name in JOIN_LOWERING:
                return JOIN_LOWERING[name](self, node)
            reduction = reductions.reduction_of(name)
            if reduction is not None:
                return self.reduce(node, reduction, node.args[0], node.args[1:])
            scan = reductions.scan_of(name)
            if scan is not None:
                return self.scan(node, scan, node.args[0], node.args[1:])
            if name == "numpy.transpose":
                return self.transpose(node, node.args[0], node.args[1:])
            if name == "numpy.copy":
                return self.copy_of(node, node.args[0])
            if name == "numpy.ravel":
                return self.reshaped(node, node.args[0], None)
            if name == "numpy.reshape":
                return self.reshaped(node, node.args[0], self.shape_arguments(node.args[1:]))
            ufunc = ufunc_table.ufunc_of(name)
            assert ufunc is not None, name
            types = [self.type_of(a) for a in node.args]
            loop = ufunc_table.loop_types(ufunc, tuple(types))
            assert not isinstance(loop, str)
            return ufuncs.apply(self, ufunc, loop, [self.expr(a) for a in node.args], types)
        assert isinstance(node.func, ast.Attribute)
        attr, base = node.func.attr, node.func.value
        if attr == "transpose":
            return self.transpose(node, base, node.args)
        if attr in ("copy", "astype"):
            return self.copy_of(node, base)
        if attr in ("ravel", "flatten"):
            return self.reshaped(node, base, None, copy=attr == "flatten")
        if attr == "reshape":
            return self.reshaped(node, base, self.shape_arguments(node.args))
        if attr in reductions.SCANS:
            return self.scan(node, reductions.SCANS[attr], base, node.args)
        return self.reduce(node, reductions.REDUCTIONS[attr], base, node.args)

    def reduce(self: FunctionLowerer, node: ast.Call, reduction: reductions.Reduction,
               operand: ast.expr, extra: list[ast.expr]) -> ir.Value:
        """A reduction of ``operand``; ``extra``: the positional arguments after it."""
        b = self.builder
        ddof_node = next((k.value for k in node.keywords if k.arg == "ddof"), None)
        tree = self.tree(operand)
        ddof = None if ddof_node is None else self.expr(ddof_node)
        if isinstance(self.type_of(node), t.ArrayType):  # over axes, or keepdims
            return self.reduce_axes(node, reduction, tree, ddof,
                                    reductions.axis_argument(node.keywords, extra))
        src = t.concrete(elem_type(tree))
        assert isinstance(src, t.ScalarType)
        result = self.type_of(node)
        assert isinstance(result, t.ScalarType)
        size: ir.Value = ir.Constant(lt.i64, 1)
        for d in tree.shape:
            size = b.mul(size, d)
        if reduction.empty:
            self.raise_if(b.icmp_unsigned("==", size, ir.Constant(lt.i64, 0)), "ValueError",
                          reduction.empty)
        name = reduction.name
        if name in ("sum", "prod", "any", "all"):
            return self.fold(tree, name, result, src)
        if name in ("min", "max"):
            return self.extreme(tree, name == "max", src)
        if name in ("argmin", "argmax"):
            return self.arg_extreme(tree, name == "argmax", src)
        # mean, var, std: in float64 for integers, in their own type for floats.
        total = self.fold(tree, "sum", result, src)
        count = b.uitofp(size, lt.scalar(result))
        mean = b.fdiv(total, count)
        if name == "mean":
            return mean
        squares = self.fold(tree, "squares", result, src, mean)
        if ddof is None:
            dof = count
        else:
            ddof_ty = self.type_of(ddof_node)  # type: ignore[arg-type]
            dof = b.fsub(count, arith.cast(self, ddof, ddof_ty, result))
            dof = b.select(b.fcmp_ordered("<", dof, ir.Constant(dof.type, 0.0)),
                           ir.Constant(dof.type, 0.0), dof)
        var = b.fdiv(squares, dof)
        if name == "var":
            return var
        sqrt = self.extern(f"llvm.sqrt.f{result.bits}", var.type, [var.type])
        return b.call(sqrt, [var])

    def fold(self: FunctionLowerer, tree: Elem, kind: str, result: t.ScalarType,
             src: t.ScalarType, mean: ir.Value | None = None) -> ir.Value:
        """A sum (or product, or sum of squared deviations from ``mean``, or any/all) of
        every element, accumulated in ``result``."""
        b = self.builder
        acc_ty = t.bool_ if kind in ("any", "all") else result
        start = {"prod": 1, "all": 1}.get(kind, 0)
        acc = self.alloca(lt.scalar(acc_ty), f"reduce.{kind}")
        b.store(arith.const(acc_ty, float(start) if acc_ty.is_float else start), acc)
        # Reassociating float adds lets LLVM sum in vector lanes, as NumPy's pairwise sum
        # also groups; products and integer sums need no permission.
        reassoc = ("reassoc", "nsz") + arith.flags(self)

        def body(flat: ir.Value) -> None:
            x = self.evaluate(tree)
            current = b.load(acc)
            if kind in ("any", "all"):
                truth = arith.truth(self, x, src)
                b.store((b.or_ if kind == "any" else b.and_)(current, truth), acc)
                return
            x = arith.cast(self, x, src, acc_ty)
            if kind == "squares":
                d = b.fsub(x, mean)
                x = b.fmul(d, d, flags=arith.flags(self))
            if acc_ty.is_float:
                op = b.fmul if kind == "prod" else b.fadd
                b.store(op(current, x, flags=reassoc), acc)
            else:
                b.store((b.mul if kind == "prod" else b.add)(current, x), acc)
        self.nest(tree.shape, leaves(tree), body)
        return b.load(acc)

    def extreme(self: FunctionLowerer, tree: Elem, highest: bool,
                src: t.ScalarType) -> ir.Value:
        """``max``/``min``: nan wins, as in ``np.maximum``."""
        b = self.builder
        acc = self.alloca(lt.scalar(src), "reduce.extreme")
        b.store(extreme_value(src, not highest), acc)
        if src.is_float:  # llvm.maximum/minimum propagate nan (as NumPy does) and vectorise
            llty = lt.scalar(src)
            intrinsic = self.extern(f"llvm.{'maximum' if highest else 'minimum'}.f{src.bits}",
                                    llty, [llty, llty])

            def pick(em: object, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
                return b.call(intrinsic, args)
        else:
            pick = SPECIAL["numpy.maximum" if highest else "numpy.minimum"]

        def body(flat: ir.Value) -> None:
            b.store(pick(self, [b.load(acc), self.evaluate(tree)], src), acc)
        self.nest(tree.shape, leaves(tree), body)
        return b.load(acc)

    def better(self: FunctionLowerer, x: ir.Value, current: ir.Value, highest: bool,
               src: t.ScalarType) -> ir.Value:
        """Whether ``x`` replaces the best so far in argmax/argmin: strictly beyond it (so
        the first position wins), or the first nan."""
        b = self.builder
        op = ">" if highest else "<"
        if src.is_float:
            first_nan = b.and_(b.fcmp_unordered("uno", x, x),
                               b.fcmp_ordered("ord", current, current))
            return b.or_(b.fcmp_ordered(op, x, current), first_nan)
        if src.is_signed:
            return b.icmp_signed(op, x, current)
        return b.icmp_unsigned(op, x, current)

    def arg_extreme(self: FunctionLowerer, tree: Elem, highest: bool,
                    src: t.ScalarType) -> ir.Value:
        """``argmax``/``argmin``: the first position of the extreme, or of the first nan."""
        b = self.builder
        best = self.alloca(lt.scalar(src), "reduce.best")
        where = self.alloca(lt.i64, "reduce.at")
        b.store(extreme_value(src, not highest), best)
        b.store(ir.Constant(lt.i64, 0), where)

        def body(flat: ir.Value) -> None:
            x = self.evaluate(tree)
            current = b.load(best)
            better = self.better(x, current, highest, src)
            b.store(b.select(better, x, current), best)
            b.store(b.select(better, flat, b.load(where)), where)
        self.nest(tree.shape, leaves(tree), body)
        return b.load(where)
