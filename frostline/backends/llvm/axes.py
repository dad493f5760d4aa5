"""Reductions over axes (``np.sum(a, axis=1)``, ``keepdims=True``) and scans (``np.cumsum``).

A reduction over axes makes its result array, fills it with the reduction's
start value, then runs one loop nest over the operand (a fused tree,
``arrayexpr``) in which the result is one more operand: a view of it with
stride 0 along the reduced axes, so each element of the operand meets the
element of the result it folds into.  ``mean`` divides afterwards, ``var`` and
``std`` take a second pass with the means as such a view; ``argmin`` and
``argmax`` keep the best values in a scratch array beside the positions.
A scan runs the nest in C order and reads the element before along its axis.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import Elem, Leaf, Scalar, elem_type, leaves
from frostline.backends.llvm.library import SPECIAL
from frostline.backends.llvm.views import Parts
from frostline.toolchain import reductions

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


def _product(b: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    out: ir.Value = ir.Constant(lt.i64, 1)
    for v in values:
        out = b.mul(out, v)
    return out


class AxisLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def combine(self: FunctionLowerer, kind: str, acc: ir.Value, x: ir.Value,
                ty: t.ScalarType) -> ir.Value:
        """One step of a fold: the accumulator (of ``ty``) and an element (already ``ty``)."""
        b = self.builder
        # Reassociation lets a sum along contiguous axes add in vector lanes (as NumPy's
        # pairwise sum also groups); scans keep their order.
        fl = ("reassoc", "nsz") + arith.flags(self) if kind in ("sum", "prod") else ()
        if kind in ("sum", "cumsum"):
            return b.fadd(acc, x, flags=fl) if ty.is_float else b.add(acc, x)
        if kind in ("prod", "cumprod"):
            return b.fmul(acc, x, flags=fl) if ty.is_float else b.mul(acc, x)
        if kind == "any":
            return b.or_(acc, x)
        if kind == "all":
            return b.and_(acc, x)
        return SPECIAL["numpy.maximum" if kind == "max" else "numpy.minimum"](self, [acc, x], ty)

    def start_value(self: FunctionLowerer, kind: str, ty: t.ScalarType) -> ir.Value:
        from frostline.backends.llvm.reductions import extreme_value
        if kind in ("max", "min"):
            return extreme_value(ty, kind == "min")
        one = kind in ("prod", "cumprod", "all")
        return arith.const(ty, float(one) if ty.is_float else int(one))

    def folded_view(self: FunctionLowerer, parts: Parts, ty: t.ArrayType, shape: list[ir.Value],
                    axes: tuple[int, ...], keep: bool) -> Leaf:
        """A result array seen with the operand's shape: stride 0 along the reduced axes."""
        strides: list[ir.Value] = []
        kept = iter(range(len(parts.strides)))
        for k in range(len(shape)):
            if k in axes:
                strides.append(ir.Constant(lt.i64, 0))
                if keep:
                    next(kept)
            else:
                strides.append(parts.strides[next(kept)])
        return Leaf(Parts(parts.data, list(shape), strides, parts.owner),
                    t.ArrayType(ty.dtype, len(shape), "A"))

    def reduce_axes(self: FunctionLowerer, node: ast.Call, reduction: reductions.Reduction,
                    tree: Elem, ddof: ir.Value | None, axis: ast.expr | None) -> ir.Value:
        b = self.builder
        rty = self.type_of(node)
        assert isinstance(rty, t.ArrayType)
        shape = tree.shape
        nd = len(shape)
        named = reductions.reduced_axes(axis, nd)
        axes = tuple(range(nd)) if named is None else named
        keep = reductions.keeps_dims(reductions.keyword(node.keywords, "keepdims")) is True
        assert isinstance(axes, tuple)
        out_shape = [ir.Constant(lt.i64, 1) if k in axes else shape[k] for k in range(nd)] \
            if keep else [shape[k] for k in range(nd) if k not in axes]
        count = _product(b, [shape[k] for k in axes])
        if reduction.empty:
            self.raise_if(b.icmp_unsigned("==", count, ir.Constant(lt.i64, 0)), "ValueError",
                          reduction.empty)
        value, parts = self.new_array(rty, out_shape, zeroed=False)
        src = t.concrete(elem_type(tree))
        assert isinstance(src, t.ScalarType)
        name = reduction.name
        if name in ("argmin", "argmax"):
            if named is None:  # every axis, keepdims: the flat index
                index = self.arg_extreme(tree, name == "argmax", src)
                self.emit_store(Leaf(parts, rty), Scalar(index, t.int64))
            else:
                self.arg_along(tree, rty, parts, shape, axes[0], keep, name == "argmax", src)
            return value
        kind = {"mean": "sum", "var": "sum", "std": "sum"}.get(name, name)
        work = t.bool_ if kind in ("any", "all") else rty.dtype
        self.fold_into(tree, Leaf(parts, rty), self.folded_view(parts, rty, shape, axes, keep),
                       kind, work, src)
        if name in ("mean", "var", "std"):
            target = Leaf(parts, rty)
            n = b.uitofp(count, lt.scalar(rty.dtype))
            self.emit_store(target, self.scaled(target, n))
        if name in ("var", "std"):
            means = self.scratch(Leaf(parts, rty))
            self.cleanups.append(lambda: self.free_scratch(means))
            self.emit_store(means, Leaf(parts, rty))
            mean_view = self.folded_view(means.parts, rty, shape, axes, keep)

            def square(x: ir.Value) -> ir.Value:
                d = b.fsub(x, self.load_element(mean_view.address, rty.dtype))
                return b.fmul(d, d)
            self.fold_into(tree, Leaf(parts, rty), self.folded_view(parts, rty, shape, axes,
                                                                     keep),
                           "sum", rty.dtype, src, square, [mean_view])
            self.cleanups.pop()
            self.free_scratch(means)
            dof = b.uitofp(count, lt.scalar(rty.dtype))
            if ddof is not None:
                dof = b.fsub(dof, arith.cast(self, ddof, self.type_of(
                    reductions.keyword(node.keywords, "ddof")), rty.dtype))  # type: ignore
                zero = ir.Constant(dof.type, 0.0)
                dof = b.select(b.fcmp_ordered("<", dof, zero), zero, dof)
            target = Leaf(parts, rty)
            self.emit_store(target, self.scaled(target, dof, sqrt=name == "std"))
        return value

    def scaled(self: FunctionLowerer, target: Leaf, divisor: ir.Value,
               sqrt: bool = False) -> Elem:
        """The tree of ``target / divisor`` (and its square root)."""
        from frostline.backends.llvm.arrayexpr import Apply
        b = self.builder
        ty = target.ty.dtype
        fn = self.extern(f"llvm.sqrt.f{ty.bits}", lt.scalar(ty), [lt.scalar(ty)])

        def compute(v: list[ir.Value]) -> ir.Value:
            q = b.fdiv(v[0], v[1])
            return b.call(fn, [q]) if sqrt else q
        return Apply([target, Scalar(divisor, ty)], ty, compute, target.shape)

    def fold_into(self: FunctionLowerer, tree: Elem, out: Leaf, view: Leaf, kind: str,
                  work: t.ScalarType, src: t.ScalarType,
                  transform: Callable[[ir.Value], ir.Value] | None = None,
                  extra: list[Leaf] | None = None) -> None:
        """Fill ``out`` with the start value, then fold every element into ``view``."""
        self.emit_store(out, Scalar(self.start_value(kind, work), work))

        scope = self.result_scope()

        def body(flat: ir.Value) -> None:
            self.operand_scope = scope
            x = self.evaluate(tree)
            self.operand_scope = None
            x = arith.truth(self, x, src) if work.is_bool else arith.cast(self, x, src, work)
            if transform is not None:
                x = transform(x)
            assert view.address is not None
            current = self.load_element(view.address, work)
            (current.operands[0] if work.is_bool else current).set_metadata("alias.scope",
                                                                             scope)
            self.store_element(view.address, self.combine(kind, current, x, work), work)
            self.builder.block.instructions[-1].set_metadata("alias.scope", scope)
        self.nest(tree.shape, [view, *(extra or []), *leaves(tree)], body)

    def result_scope(self: FunctionLowerer) -> ir.Value:
        """Alias-scope metadata for a new result array: what the operands' loads do not
        alias, so LLVM keeps an element being folded into in a register."""
        module = self.mod.module
        domain = module.add_metadata([ir.MetaDataString(module, "frostline.results")])
        scope = module.add_metadata([ir.MetaDataString(module, "frostline.result"), domain])
        return module.add_metadata([scope])

    def arg_along(self: FunctionLowerer, tree: Elem, rty: t.ArrayType, parts: Parts,
                  shape: list[ir.Value], axis: int, keep: bool, highest: bool,
                  src: t.ScalarType) -> None:
        """``argmax``/``argmin`` along one axis: positions in ``parts``, best values in a
        scratch array of the same shape."""
        b = self.builder
        positions = Leaf(parts, rty)
        best = self.scratch(Leaf(parts, t.ArrayType(src, rty.ndim, "C")))
        self.cleanups.append(lambda: self.free_scratch(best))
        self.emit_store(best, Scalar(self.start_value("max" if highest else "min", src), src))
        self.emit_store(positions, Scalar(ir.Constant(lt.i64, 0), t.int64))
        best_view = self.folded_view(best.parts, best.ty, shape, (axis,), keep)
        at_view = self.folded_view(parts, rty, shape, (axis,), keep)
        inner = _product(b, shape[axis + 1:])

        def body(flat: ir.Value) -> None:
            x = self.evaluate(tree)
            current = self.load_element(best_view.address, src)
            better = self.better(x, current, highest, src)
            index = b.urem(b.udiv(flat, inner), shape[axis])
            self.store_element(best_view.address, b.select(better, x, current), src)
            old = self.load_element(at_view.address, t.int64)
            self.store_element(at_view.address, b.select(better, index, old), t.int64)
        self.nest(shape, [best_view, at_view, *leaves(tree)], body)
        self.cleanups.pop()
        self.free_scratch(best)

    def scan(self: FunctionLowerer, node: ast.Call, reduction: reductions.Reduction,
             operand: ast.expr, extra: list[ast.expr]) -> ir.Value:
        """``np.cumsum``/``np.cumprod``: flattened (C order), or along one axis."""
        b = self.builder
        rty = self.type_of(node)
        assert isinstance(rty, t.ArrayType)
        tree = self.tree(operand)
        shape = tree.shape
        src = t.concrete(elem_type(tree))
        assert isinstance(src, t.ScalarType)
        axes = reductions.reduced_axes(reductions.axis_argument(node.keywords, extra),
                                       len(shape))
        total = _product(b, shape)
        out_shape = [total] if axes is None else list(shape)
        value, parts = self.new_array(rty, out_shape, zeroed=False)
        base = b.bitcast(parts.data, lt.memory(rty.dtype).as_pointer())
        kind, work = reduction.name, rty.dtype
        inner = None if axes is None else _product(b, shape[axes[0] + 1:])  # type: ignore
        running = self.alloca(lt.scalar(work), "scan.acc")
        b.store(self.start_value(kind, work), running)

        def body(flat: ir.Value) -> None:
            x = arith.cast(self, self.evaluate(tree), src, work)
            if inner is None:
                previous = b.load(running)
            else:
                along = b.urem(b.udiv(flat, inner), shape[axes[0]])  # type: ignore[index]
                first = b.icmp_unsigned("==", along, ir.Constant(lt.i64, 0))
                before = b.gep(base, [b.select(first, flat, b.sub(flat, inner))])
                previous = b.select(first, self.start_value(kind, work),
                                    self.load_element(before, work))
            result = self.combine(kind, previous, x, work)
            b.store(result, running)
            self.store_element(b.gep(base, [flat]), result, work)
        self.nest(shape, leaves(tree), body)
        return value
