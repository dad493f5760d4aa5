"""Lowering views: basic indexing with slices, new axes and ``...``; ``a.T`` and transpose.

A view is a new array struct over the same memory: a data pointer moved to
its first element, and a shape and byte strides per axis.  Slices clip as
Python clips them (``indexing`` says what each index item does).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.stages.typed import node_key
from frostline.toolchain import indexing
from frostline.toolchain.typing.rules import constant_index

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class Parts:
    """An array taken apart: a byte pointer to its first element, its extents, its byte
    strides and its owner (as IR values)."""

    def __init__(self, data: ir.Value, shape: list[ir.Value], strides: list[ir.Value],
                 owner: ir.Value | None = None):
        self.data = data
        self.shape = shape
        self.strides = strides
        self.owner = ir.Constant(lt.i8p, None) if owner is None else owner


class ViewLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def parts(self: FunctionLowerer, arr: ir.Value, aty: t.ArrayType) -> Parts:
        b = self.builder
        return Parts(b.bitcast(b.extract_value(arr, 0), lt.i8p),
                     [b.extract_value(arr, [1, k]) for k in range(aty.ndim)],
                     self.strides(arr, aty), b.extract_value(arr, lt.OWNER))

    def assemble(self: FunctionLowerer, vty: t.ArrayType, parts: Parts) -> ir.Value:
        b = self.builder
        out = ir.Constant(lt.array(vty), ir.Undefined)
        out = b.insert_value(out, b.bitcast(parts.data, lt.memory(vty.dtype).as_pointer()), 0)
        for k in range(vty.ndim):
            out = b.insert_value(out, parts.shape[k], [1, k])
            out = b.insert_value(out, parts.strides[k], [2, k])
        return b.insert_value(out, parts.owner, lt.OWNER)

    def index_kind(self: FunctionLowerer, index: ast.expr) -> str:
        if isinstance(index, ast.Constant) and index.value is Ellipsis:
            return "ellipsis"
        if isinstance(index, ast.Slice):
            return "slice"
        if isinstance(self.type_of(index), t.NoneType):
            return "newaxis"
        return "int"

    def view(self: FunctionLowerer, node: ast.Subscript) -> ir.Value:
        """``a[i, 1:-1, None, ...]``: the view an index makes, sharing a's memory."""
        aty = self.type_of(node.value)
        assert isinstance(aty, t.ArrayType)
        arr = self.expr(node.value)
        src = self.parts(arr, aty)
        plan = indexing.plan(indexing.index_items(node), aty.ndim, self.index_kind)
        assert not isinstance(plan, str)
        b = self.builder
        offset = ir.Constant(lt.i64, 0)
        shape: list[ir.Value] = []
        strides: list[ir.Value] = []
        for item in plan:
            if item.kind == "newaxis":
                self.expr(item.node)  # type: ignore[arg-type]
                shape.append(ir.Constant(lt.i64, 1))
                strides.append(ir.Constant(lt.i64, 0))
                continue
            axis = item.axis
            assert axis is not None
            extent, stride = src.shape[axis], src.strides[axis]
            if item.kind == "int":
                index = self.checked_index(item.node, extent, axis)  # type: ignore[arg-type]
                offset = b.add(offset, b.mul(index, stride))
                continue
            start, length, step = self.slice_bounds(item.node, extent)
            offset = b.add(offset, b.mul(start, stride))
            shape.append(length)
            strides.append(stride if step is None else b.mul(stride, step))
        data = b.gep(src.data, [offset])
        return self.assemble(self.type_of(node), Parts(data, shape, strides,  # type: ignore
                                                       src.owner))

    def checked_index(self: FunctionLowerer, node: ast.expr, extent: ir.Value,
                      axis: int) -> ir.Value:
        """An integer index wrapped from the end, and with boundscheck checked."""
        b = self.builder
        ity = t.concrete(self.type_of(node))
        idx = arith.cast(self, self.expr(node), ity, t.int64)
        known = constant_index(node)
        if ity.kind == "i" and not ((known is not None and known >= 0)  # type: ignore
                                    or node_key(node) in self.nonnegative):
            idx = b.select(b.icmp_signed("<", idx, ir.Constant(lt.i64, 0)),
                           b.add(idx, extent), idx)
        if self.boundscheck:
            self.raise_if(b.icmp_unsigned(">=", idx, extent), "IndexError",
                          f"index out of bounds for axis {axis}")
        return idx

    def slice_bounds(self: FunctionLowerer, node: ast.Slice | None, extent: ir.Value
                     ) -> tuple[ir.Value, ir.Value, ir.Value | None]:
        """``(start, length, step)`` of a slice of an axis, clipped as Python clips it;
        step is None for a step of 1."""
        b = self.builder
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        if node is None:
            return zero, extent, None

        def bound(part: ast.expr | None) -> ir.Value | None:
            if part is None or isinstance(self.type_of(part), t.NoneType):
                if part is not None:
                    self.expr(part)
                return None
            return arith.cast(self, self.expr(part), self.type_of(part), t.int64)

        lower, upper = bound(node.lower), bound(node.upper)
        known = constant_index(node.step) if node.step is not None else 1
        if node.step is not None and isinstance(self.type_of(node.step), t.NoneType):
            self.expr(node.step)
            known = 1
        step = None if known == 1 else (ir.Constant(lt.i64, known) if known is not None
                                        else bound(node.step))
        if known == 0:
            self.leave(self.status("ValueError", "slice step cannot be zero"))
            self.continue_in_dead_block()
            return zero, zero, one
        if known is None:
            self.raise_if(b.icmp_signed("==", step, zero), "ValueError",
                          "slice step cannot be zero")

        def clip(value: ir.Value | None, default: ir.Value, lo: ir.Value,
                 hi: ir.Value) -> ir.Value:
            if value is None:
                return default
            value = b.select(b.icmp_signed("<", value, zero), b.add(value, extent), value)
            value = b.select(b.icmp_signed("<", value, lo), lo, value)
            return b.select(b.icmp_signed(">", value, hi), hi, value)

        def forward() -> tuple[ir.Value, ir.Value]:
            start = clip(lower, zero, zero, extent)
            stop = clip(upper, extent, zero, extent)
            span = b.sub(stop, start)
            # (span - 1) // step + 1 for span > 0, unsigned: no step overflows it.
            count = span if step is None else b.add(b.udiv(b.sub(span, one), step), one)
            return start, b.select(b.icmp_signed(">", span, zero), count, zero)

        def backward() -> tuple[ir.Value, ir.Value]:
            minus_one = ir.Constant(lt.i64, -1)
            last = b.sub(extent, one)
            start = clip(lower, last, minus_one, last)
            stop = clip(upper, minus_one, minus_one, last)
            span = b.sub(start, stop)
            neg = b.sub(zero, step)  # 2**63 for the smallest step, read unsigned
            count = b.add(b.udiv(b.sub(span, one), neg), one)
            return start, b.select(b.icmp_signed(">", span, zero), count, zero)

        if known is not None:
            start, length = forward() if known > 0 else backward()
            return start, length, step
        (fs, fl), (bs, bl) = forward(), backward()
        up = b.icmp_signed(">", step, zero)
        return b.select(up, fs, bs), b.select(up, fl, bl), step

    def transpose(self: FunctionLowerer, node: ast.expr, base: ast.expr,
                  axes: list[ast.expr]) -> ir.Value:
        """``a.T`` / ``a.transpose(axes)``: the axes of a's view reordered."""
        aty = self.type_of(base)
        assert isinstance(aty, t.ArrayType)
        src = self.parts(self.expr(base), aty)
        if len(axes) == 1 and isinstance(axes[0], ast.Tuple):
            axes = list(axes[0].elts)
        order = [constant_index(a) for a in axes] or list(range(aty.ndim))[::-1]
        order = [k % aty.ndim for k in order]  # type: ignore[operator]
        vty = self.type_of(node)
        return self.assemble(vty, Parts(src.data, [src.shape[k] for k in order],  # type: ignore
                                        [src.strides[k] for k in order], src.owner))
