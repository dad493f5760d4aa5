"""Lowering array and tuple access: attributes, element addresses, row views, tuple items."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.stages.ast import Constant, GlobalValue
from frostline.toolchain.typing.rules import constant_index, dotted_name

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class ArrayLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def expr_Attribute(self: FunctionLowerer, node: ast.Attribute) -> ir.Value:
        if self.frozen_global(node) is not None:
            return self.global_value(node)
        if node.attr == "T":
            return self.transpose(node, node.value, [])
        base = self.expr(node.value)
        bty = self.type_of(node.value)
        assert isinstance(bty, t.ArrayType)
        b = self.builder
        if node.attr == "shape":
            return self.shape_tuple(base, bty)
        if node.attr == "ndim":
            return ir.Constant(lt.i64, bty.ndim)
        size = ir.Constant(lt.i64, 1)
        for k in range(bty.ndim):
            size = b.mul(size, b.extract_value(base, [1, k]))
        return size

    def shape_tuple(self: FunctionLowerer, arr: ir.Value, ty: t.ArrayType) -> ir.Value:
        out = ir.Constant(ir.LiteralStructType([lt.i64] * ty.ndim), ir.Undefined)
        for k in range(ty.ndim):
            out = self.builder.insert_value(out, self.builder.extract_value(arr, [1, k]), k)
        return out

    def expr_Subscript(self: FunctionLowerer, node: ast.Subscript) -> ir.Value:
        bty = self.type_of(node.value)
        if isinstance(bty, t.TupleType):
            k = constant_index(node.slice)
            frozen = self.constant_tuple(node.value)
            if k is not None:
                k %= len(bty.items)
                if frozen is not None:  # the item itself: no copy of the whole tuple
                    return self.constant(frozen[k], bty.items[k])
                return self.builder.extract_value(self.expr(node.value), k)
            return self.tuple_item(node, bty, frozen)
        ty = self.type_of(node)
        if isinstance(ty, t.ArrayType):
            return self.view(node)
        ptr = self.element_pointer(node)
        return self.load_element(ptr, ty)  # type: ignore[arg-type]

    def frozen_global(self: FunctionLowerer, node: ast.expr) -> GlobalValue | None:
        """What a name or module attribute that is not a local refers to, else None."""
        name = dotted_name(node)
        if name is None or name.split(".")[0] in self.fn.local_names:
            return None
        return self.fn.lookup(name)

    def constant_tuple(self: FunctionLowerer, node: ast.expr) -> tuple[object, ...] | None:
        """The value of a global (or module attribute) that is a frozen tuple, else None."""
        value = self.frozen_global(node)
        if isinstance(value, Constant) and isinstance(value.value, tuple):
            return value.value
        return None

    def tuple_table(self: FunctionLowerer, value: tuple[object, ...],
                    ty: t.TupleType) -> ir.Value:
        """A frozen tuple of one item type as a constant array in memory (once per module),
        so indexing it at run time costs the same for 10 items or 10,000."""
        item = ty.items[0]
        if isinstance(item, t.ScalarType):
            key = f"tuple of {item.name}: {value!r}"
            gv = self.mod.constant_data(
                key, lambda: np.array(value, dtype=item.numpy_dtype).tobytes())
            return gv.bitcast(lt.memory(item).as_pointer())
        gv = self.mod.constant_global(  # nested tuples: an array of their structs
            f"tuple of {item}: {value!r}",
            lambda: ir.Constant(ir.ArrayType(lt.value(item), len(value)),
                                [self.constant(v, item) for v in value]))
        return gv.bitcast(lt.value(item).as_pointer())

    def tuple_item(self: FunctionLowerer, node: ast.Subscript, ty: t.TupleType,
                   frozen: tuple[object, ...] | None) -> ir.Value:
        """``tup[i]`` with a runtime index, for tuples whose items share one type."""
        b = self.builder
        item = lt.value(ty.items[0])
        if frozen is not None:
            slots = self.tuple_table(frozen, ty)
        else:
            # One store of the whole struct: its items share one type, so it is laid out
            # as an array of them (a store per item makes LLVM's work quadratic).
            value = self.expr(node.value)
            whole = self.alloca(value.type, "tuple.items")
            b.store(value, whole)
            slots = b.bitcast(whole, item.as_pointer())
        ity = self.type_of(node.slice)
        index = arith.cast(self, self.expr(node.slice), ity, t.int64)
        size = ir.Constant(lt.i64, len(ty.items))
        if t.concrete(ity).kind == "i":  # type: ignore[union-attr]
            index = b.select(b.icmp_signed("<", index, ir.Constant(lt.i64, 0)),
                             b.add(index, size), index)
        self.raise_if(b.icmp_unsigned(">=", index, size), "IndexError",
                      "tuple index out of range")
        ptr = b.gep(slots, [index])
        scalar = ty.items[0]
        if frozen is not None and isinstance(scalar, t.ScalarType):
            return self.load_element(ptr, scalar)  # bools are bytes in the table
        return b.load(ptr)

    def load_element(self: FunctionLowerer, ptr: ir.Value, ty: t.ScalarType) -> ir.Value:
        value = self.builder.load(ptr)
        if ty.is_bool:
            return self.builder.icmp_unsigned("!=", value, ir.Constant(lt.i8, 0))
        return value

    def store_element(self: FunctionLowerer, ptr: ir.Value, value: ir.Value,
                      ty: t.ScalarType) -> None:
        if ty.is_bool:
            value = self.builder.zext(value, lt.i8)
        self.builder.store(value, ptr)

    def indices(self: FunctionLowerer,
                node: ast.Subscript) -> tuple[ir.Value, t.ArrayType, list[ir.Value]]:
        """The array and its wrapped (and, with boundscheck, checked) int64 indices."""
        arr = self.expr(node.value)
        aty = self.type_of(node.value)
        assert isinstance(aty, t.ArrayType)
        exprs = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        result = [self.checked_index(index, self.builder.extract_value(arr, [1, k]), k)
                  for k, index in enumerate(exprs)]
        return arr, aty, result

    def strides(self: FunctionLowerer, arr: ir.Value, aty: t.ArrayType) -> list[ir.Value]:
        """Byte strides: derived from the shape for C and F layouts, so LLVM sees them."""
        b = self.builder
        itemsize = ir.Constant(lt.i64, aty.dtype.itemsize)
        n = aty.ndim
        if aty.layout == "A" or n == 0:
            return [b.extract_value(arr, [2, k]) for k in range(n)]
        strides: list[ir.Value] = [itemsize] * n
        order = range(n - 2, -1, -1) if aty.layout == "C" else range(1, n)
        for k in order:
            prev = k + 1 if aty.layout == "C" else k - 1
            strides[k] = b.mul(strides[prev], b.extract_value(arr, [1, prev]), flags=("nsw",))
        return strides

    def address(self: FunctionLowerer, arr: ir.Value, aty: t.ArrayType,
                idx: list[ir.Value]) -> ir.Value:
        b = self.builder
        data = b.extract_value(arr, 0)
        if aty.layout in "CF" and len(idx) == aty.ndim:
            # Linear element index, so the vectoriser sees unit strides.
            dims = list(range(aty.ndim)) if aty.layout == "C" else list(
                range(aty.ndim - 1, -1, -1))
            linear = idx[dims[0]]
            for k in dims[1:]:
                linear = b.add(b.mul(linear, b.extract_value(arr, [1, k]), flags=("nsw",)),
                               idx[k], flags=("nsw",))
            return b.gep(data, [linear], inbounds=True)
        strides = self.strides(arr, aty)
        offset = ir.Constant(lt.i64, 0)
        for k, i in enumerate(idx):
            offset = b.add(offset, b.mul(i, strides[k], flags=("nsw",)), flags=("nsw",))
        raw = b.gep(b.bitcast(data, lt.i8p), [offset], inbounds=True)
        return b.bitcast(raw, data.type)

    def element_pointer(self: FunctionLowerer, node: ast.Subscript) -> ir.Value:
        arr, aty, idx = self.indices(node)
        return self.address(arr, aty, idx)
