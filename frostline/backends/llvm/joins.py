"""Lowering joins and re-arrangements: ``np.concatenate``, ``np.stack``, ``np.flip``,
``np.triu`` and ``np.tril``.

A join makes its result array and stores each operand into the view of the
result it fills; ``flip`` is a view (the data pointer moved to the last element
of each flipped axis, its stride negated), as in NumPy; ``triu``/``tril`` copy
with the elements off their triangle zeroed.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import Leaf, elem_type, leaves
from frostline.backends.llvm.views import Parts
from frostline.toolchain import joins

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class JoinLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def join_items(self: FunctionLowerer, seq: ast.expr) -> list[tuple[Parts, t.ArrayType]]:
        tty = self.type_of(seq)
        assert isinstance(tty, t.TupleType)
        value = self.expr(seq)
        items = []
        for k, ity in enumerate(tty.items):
            assert isinstance(ity, t.ArrayType)
            items.append((self.parts(self.builder.extract_value(value, k), ity), ity))
        return items

    def join(self: FunctionLowerer, node: ast.Call) -> tuple[
            t.ArrayType, list[tuple[Parts, t.ArrayType]], int]:
        """A join's result type, its operands taken apart, and its axis."""
        ty = self.type_of(node)
        assert isinstance(ty, t.ArrayType)
        return ty, self.join_items(node.args[0]), joins.axis_of(node, ty.ndim)

    def concatenate(self: FunctionLowerer, node: ast.Call) -> ir.Value:
        b = self.builder
        ty, items, axis = self.join(node)
        first = items[0][0]
        for i, (parts, _) in enumerate(items[1:], 1):
            for dim in range(ty.ndim):
                if dim == axis:
                    continue
                self.raise_shapes(
                    b.icmp_unsigned("!=", parts.shape[dim], first.shape[dim]), "ValueError",
                    "all the input array dimensions except for the concatenation axis must "
                    f"match exactly, but along dimension {dim}, the array at index 0 has size "
                    f"{{n0}} and the array at index {i} has size {{n1}}",
                    [[first.shape[dim]], [parts.shape[dim]]])
        total: ir.Value = ir.Constant(lt.i64, 0)
        for parts, _ in items:
            total = b.add(total, parts.shape[axis])
        shape = list(first.shape)
        shape[axis] = total
        value, out = self.new_array(ty, shape, zeroed=False)
        offset: ir.Value = ir.Constant(lt.i64, 0)
        for parts, ity in items:
            piece_shape = list(shape)
            piece_shape[axis] = parts.shape[axis]
            data = b.gep(out.data, [b.mul(offset, out.strides[axis])])
            piece = Leaf(Parts(data, piece_shape, out.strides, out.owner), ty.with_layout("A"))
            self.emit_store(piece, Leaf(parts, ity))
            offset = b.add(offset, parts.shape[axis])
        return value

    def stack(self: FunctionLowerer, node: ast.Call) -> ir.Value:
        b = self.builder
        ty, items, axis = self.join(node)
        first = items[0][0]
        same: ir.Value = ir.Constant(lt.i1, 1)
        for parts, _ in items[1:]:
            for d, e in zip(parts.shape, first.shape, strict=True):
                same = b.and_(same, b.icmp_unsigned("==", d, e))
        self.raise_if(b.not_(same), "ValueError", "all input arrays must have the same shape")
        shape = list(first.shape)
        shape.insert(axis, ir.Constant(lt.i64, len(items)))
        value, out = self.new_array(ty, shape, zeroed=False)
        strides = out.strides[:axis] + out.strides[axis + 1:]
        item_ty = t.ArrayType(ty.dtype, ty.ndim - 1, "A")
        for i, (parts, ity) in enumerate(items):
            data = b.gep(out.data, [b.mul(ir.Constant(lt.i64, i), out.strides[axis])])
            self.emit_store(Leaf(Parts(data, list(first.shape), strides, out.owner), item_ty),
                            Leaf(parts, ity))
        return value

    def flip(self: FunctionLowerer, node: ast.Call) -> ir.Value:
        b = self.builder
        ty = self.type_of(node)
        aty = self.type_of(node.args[0])
        assert isinstance(ty, t.ArrayType) and isinstance(aty, t.ArrayType)
        src = self.parts(self.expr(node.args[0]), aty)
        data = src.data
        strides = list(src.strides)
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        for k in joins.flip_axes(node, aty.ndim):
            last = b.select(b.icmp_signed(">", src.shape[k], zero),
                            b.sub(src.shape[k], one), zero)
            data = b.gep(data, [b.mul(last, strides[k])])
            strides[k] = b.sub(zero, strides[k])
        return self.assemble(ty, Parts(data, list(src.shape), strides, src.owner))

    def triangle(self: FunctionLowerer, node: ast.Call, upper: bool) -> ir.Value:
        b = self.builder
        ty = self.type_of(node)
        assert isinstance(ty, t.ArrayType)
        tree = self.tree(node.args[0])
        k_node = joins.argument(node, "k", 1)
        k = arith.cast(self, self.expr(k_node), self.type_of(k_node), t.int64) \
            if k_node is not None else ir.Constant(lt.i64, 0)
        value, parts = self.new_array(ty, tree.shape, zeroed=False)
        target = Leaf(parts, ty)
        rows, cols = tree.shape[-2], tree.shape[-1]
        src = t.concrete(elem_type(tree))

        def body(flat: ir.Value) -> None:
            j = b.urem(flat, cols)
            i = b.urem(b.udiv(flat, cols), rows)
            offset = b.sub(j, i)
            keep = b.icmp_signed(">=" if upper else "<=", offset, k)
            x = arith.cast(self, self.evaluate(tree), src, ty.dtype)
            self.store_element(target.address, b.select(keep, x, arith.const(ty.dtype, 0)),
                               ty.dtype)
        self.nest(tree.shape, [target, *leaves(tree)], body)
        return value
