"""Lowering copies and new shapes: ``a.copy()``, ``np.copy``, ``a.astype``, ``a.ravel()``,
``a.flatten()``, ``a.reshape(...)``.

``ravel`` and ``reshape`` give a view when the array is C-contiguous when it
runs (whatever its static layout), as NumPy does, and a C-contiguous copy
otherwise; ``flatten``, ``copy`` and ``astype`` always copy, in one fused loop.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import Leaf
from frostline.backends.llvm.views import Parts

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer

_RESHAPE = "cannot reshape array of size {n0} into shape {1}"


class ShapeLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def copy_of(self: FunctionLowerer, node: ast.expr, source: ast.expr) -> ir.Value:
        """A new array holding ``source``'s elements converted to ``node``'s type."""
        ty = self.type_of(node)
        assert isinstance(ty, t.ArrayType)
        tree = self.tree(source)
        value, parts = self.new_array(ty, tree.shape, zeroed=False)
        self.emit_store(Leaf(parts, ty), tree)
        return value

    def c_contiguous(self: FunctionLowerer, parts: Parts, itemsize: int) -> ir.Value:
        """Whether an array's elements lie in C order with no gaps (axes of length 1 may
        have any stride), as NumPy's C_CONTIGUOUS flag says."""
        b = self.builder
        one = ir.Constant(lt.i64, 1)
        expected: ir.Value = ir.Constant(lt.i64, itemsize)
        ok: ir.Value = ir.Constant(lt.i1, 1)
        for extent, stride in zip(parts.shape[::-1], parts.strides[::-1], strict=True):
            fits = b.or_(b.icmp_unsigned("==", extent, one),
                         b.icmp_unsigned("==", stride, expected))
            ok = b.and_(ok, fits)
            expected = b.mul(expected, extent)
        empty: ir.Value = ir.Constant(lt.i1, 0)
        for extent in parts.shape:
            empty = b.or_(empty, b.icmp_unsigned("==", extent, ir.Constant(lt.i64, 0)))
        return b.or_(ok, empty)

    def reshaped(self: FunctionLowerer, node: ast.expr, source: ast.expr,
                 dims: list[ir.Value] | None, copy: bool = False) -> ir.Value:
        """``source`` with a new C-order shape (``dims``; None: flattened): a view of it
        when it is C-contiguous (and not ``copy``), else of a C-contiguous copy."""
        b = self.builder
        sty = self.type_of(source)
        ty = self.type_of(node)
        assert isinstance(sty, t.ArrayType) and isinstance(ty, t.ArrayType)
        src = self.parts(self.expr(source), sty)
        size: ir.Value = ir.Constant(lt.i64, 1)
        for d in src.shape:
            size = b.mul(size, d)
        shape = [size] if dims is None else self.resolve_shape(dims, size)
        contiguous = ir.Constant(lt.i1, 0) if copy else self.c_contiguous(
            src, sty.dtype.itemsize)
        view_block = b.block
        copy_block = self.func.append_basic_block("reshape.copy")
        done = self.func.append_basic_block("reshape.done")
        b.cbranch(contiguous, done, copy_block)
        b.position_at_end(copy_block)
        copy_ty = sty.with_layout("C")
        value, parts = self.new_array(copy_ty, src.shape, zeroed=False)
        self.emit_store(Leaf(parts, copy_ty), Leaf(src, sty))
        copied_end = b.block
        b.branch(done)
        b.position_at_end(done)
        data = b.phi(lt.i8p)
        data.add_incoming(src.data, view_block)
        data.add_incoming(parts.data, copied_end)
        owner = b.phi(lt.i8p)
        owner.add_incoming(src.owner, view_block)
        owner.add_incoming(parts.owner, copied_end)
        size_bytes = ir.Constant(lt.i64, ty.dtype.itemsize)
        strides: list[ir.Value] = [size_bytes] * len(shape)
        for k in range(len(shape) - 2, -1, -1):
            strides[k] = b.mul(strides[k + 1], shape[k + 1])
        return self.assemble(ty, Parts(data, shape, strides, owner))

    def resolve_shape(self: FunctionLowerer, dims: list[ir.Value],
                      size: ir.Value) -> list[ir.Value]:
        """A requested shape with its one ``-1`` worked out; NumPy's ValueError when the
        sizes do not agree (or more than one is -1, or one is below -1)."""
        b = self.builder
        minus_one = ir.Constant(lt.i64, -1)
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        unknown: ir.Value = zero
        known: ir.Value = one
        for d in dims:
            is_unknown = b.icmp_signed("==", d, minus_one)
            unknown = b.add(unknown, b.zext(is_unknown, lt.i64))
            known = b.mul(known, b.select(is_unknown, one, d))
            self.raise_if(b.icmp_signed("<", d, minus_one), "ValueError",
                          "negative dimensions not allowed")
        self.raise_if(b.icmp_signed(">", unknown, one), "ValueError",
                      "can only specify one unknown dimension")
        has_unknown = b.icmp_signed("==", unknown, one)
        safe = b.select(b.icmp_signed("==", known, zero), one, known)
        missing = b.sdiv(size, safe)
        bad = b.select(has_unknown,
                       b.or_(b.icmp_signed("==", known, zero),
                             b.icmp_signed("!=", b.mul(missing, safe), size)),
                       b.icmp_signed("!=", known, size))
        self.raise_shapes(bad, "ValueError", _RESHAPE, [[size], dims])
        return [b.select(b.icmp_signed("==", d, minus_one), missing, d) for d in dims]

    def shape_arguments(self: FunctionLowerer, args: list[ast.expr]) -> list[ir.Value]:
        """``reshape(2, 3)`` or ``reshape((2, 3))`` or ``reshape(shape_tuple)``."""
        if len(args) == 1:
            return self.shape_values(self.expr(args[0]), self.type_of(args[0]))
        return [arith.cast(self, self.expr(a), self.type_of(a), t.int64) for a in args]
