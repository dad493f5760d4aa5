"""Lowering the functions that make new arrays (``toolchain.creation``), and array
expressions made into arrays where a stored array is needed.

Every new array is one block (``memory``), held as a temporary of the
statement (``ownership``) until a variable, a return or a caller takes it.
``np.zeros`` asks for zeroed memory (calloc), so a large one costs no more
than NumPy's: the pages are zero until written.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import Leaf, Scalar
from frostline.backends.llvm.views import Parts
from frostline.stages.typed import node_key
from frostline.toolchain import creation
from frostline.toolchain.escape import literal_shape

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class CreationLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def new_array(self: FunctionLowerer, ty: t.ArrayType, shape: list[ir.Value],
                  zeroed: bool) -> tuple[ir.Value, Parts]:
        """A new array of ``ty`` (C, or F when ``ty`` is), a temporary of the statement."""
        order = shape[::-1] if ty.layout == "F" else shape
        parts = self.new_block(ty.dtype, order, zeroed)
        if ty.layout == "F":
            parts = Parts(parts.data, parts.shape[::-1], parts.strides[::-1], parts.owner)
        value = self.assemble(ty, parts)
        return self.temporary(value, ty), parts

    def materialise(self: FunctionLowerer, node: ast.expr) -> ir.Value:
        """An array expression as a new array, where a stored array is needed."""
        return self.copy_of(node, node)

    def create(self: FunctionLowerer, node: ast.Call, name: str) -> ir.Value:
        spec = creation.CREATIONS[name]
        bound = creation.bind(spec, node.args, node.keywords)
        assert not isinstance(bound, str)
        ty = self.type_of(node)
        assert isinstance(ty, t.ArrayType)
        values = {p: (self.expr(v), self.type_of(v)) for p, v in bound.items()
                  if p != "dtype" and not isinstance(self.type_of(v), t.NoneType)}
        if spec.shape == "shape":
            shape = self.shape_values(*values["shape"])
            if node_key(node) in self.on_stack:
                return self.stack_array(ty, spec, values, bound)
        elif spec.shape == "like":
            proto, pty = values["prototype"]
            shape = self.parts(proto, pty).shape
        elif spec.shape == "arange":
            return self.arange(ty, values)
        elif spec.shape == "linspace":
            return self.linspace(ty, values)
        else:
            return self.eye(ty, values)
        array, parts = self.new_array(ty, shape, zeroed=spec.fill == "zero")
        if spec.fill in ("one", "value"):
            fill = (arith.const(ty.dtype, 1), ty.dtype) if spec.fill == "one" else \
                values["fill_value"]
            self.emit_store(Leaf(parts, ty), Scalar(*fill))
        return array

    def stack_array(self: FunctionLowerer, ty: t.ArrayType, spec: creation.Creation,
                    values: dict[str, tuple[ir.Value, t.Type]],
                    bound: dict[str, ast.expr]) -> ir.Value:
        """A small array of a literal shape that never leaves its uses (``escape``): a slot
        of the function's frame, no allocation, no owner."""
        shape = literal_shape(bound["shape"])
        assert shape is not None
        count = int(np.prod(shape, dtype=np.int64))
        slot = self.alloca(ir.ArrayType(lt.memory(ty.dtype), max(count, 1)), "stack.array")
        slot.align = 64
        itemsize = ty.dtype.itemsize
        strides = [itemsize * int(np.prod(shape[k + 1:], dtype=np.int64))
                   for k in range(len(shape))]
        parts = Parts(self.builder.bitcast(slot, lt.i8p),
                      [ir.Constant(lt.i64, d) for d in shape],
                      [ir.Constant(lt.i64, s) for s in strides])
        fill = {"zero": (arith.const(ty.dtype, 0), ty.dtype),
                "one": (arith.const(ty.dtype, 1), ty.dtype)}.get(spec.fill) or \
            values.get("fill_value")
        if fill is not None:
            self.emit_store(Leaf(parts, ty), Scalar(*fill))
        return self.assemble(ty, parts)

    def shape_values(self: FunctionLowerer, value: ir.Value, ty: t.Type) -> list[ir.Value]:
        if isinstance(ty, t.TupleType):
            return [arith.cast(self, self.builder.extract_value(value, k), item, t.int64)
                    for k, item in enumerate(ty.items)]
        return [arith.cast(self, value, ty, t.int64)]

    def arange(self: FunctionLowerer, ty: t.ArrayType,
               values: dict[str, tuple[ir.Value, t.Type]]) -> ir.Value:
        """``np.arange``: start + i * step for as many i as fit before stop."""
        b = self.builder
        given = [values[p] for p in ("start", "stop", "step") if p in values]
        work = t.float64 if any(t.concrete(x).kind == "f" for _, x in given) else t.int64
        if len(given) == 1:
            start, stop, step = (arith.const(work, 0), arith.cast(self, *given[0], work),
                                 arith.const(work, 1))
        else:
            start, stop = (arith.cast(self, v, x, work) for v, x in given[:2])
            step = arith.cast(self, *given[2], work) if len(given) == 3 else \
                arith.const(work, 1)
        zero = arith.const(work, 0)
        if work.is_float:
            self.raise_if(b.fcmp_ordered("==", step, zero), "ZeroDivisionError",
                          "float division by zero")
            ceil = self.extern("llvm.ceil.f64", lt.f64, [lt.f64])
            count = b.call(ceil, [b.fdiv(b.fsub(stop, start), step)])
            count = b.select(b.fcmp_ordered(">", count, zero), count, zero)
            n = b.fptosi(count, lt.i64)
        else:
            self.raise_if(b.icmp_signed("==", step, zero), "ZeroDivisionError",
                          "division by zero")
            span = b.sub(stop, start)
            up = b.icmp_signed(">", step, zero)
            # ceil(span / step) for positive counts, without overflow near the limits
            adjust = b.select(up, b.sub(step, arith.const(work, 1)),
                              b.add(step, arith.const(work, 1)))
            n = b.sdiv(b.add(span, adjust), step)
            n = b.select(b.icmp_signed(">", n, zero), n, zero)
        array, parts = self.new_array(ty, [n], zeroed=False)

        def element(i: ir.Value) -> ir.Value:
            index = b.sitofp(i, lt.f64) if work.is_float else i
            if work.is_float:
                return b.fadd(start, b.fmul(index, step))
            return b.add(start, b.mul(index, step))
        self.fill_1d(ty, parts, n, element, work)
        return array

    def fill_1d(self: FunctionLowerer, ty: t.ArrayType, parts: Parts, n: ir.Value,
                element: Callable[[ir.Value], ir.Value], work: t.ScalarType) -> None:
        """Store ``element(i)`` (of type ``work``) at each position i of a new 1-D array."""
        b = self.builder
        base = b.bitcast(parts.data, lt.memory(ty.dtype).as_pointer())

        def body(i: ir.Value) -> None:
            value = arith.cast(self, element(i), work, ty.dtype)
            self.store_element(b.gep(base, [i]), value, ty.dtype)
        self.count(n, body)

    def linspace(self: FunctionLowerer, ty: t.ArrayType,
                 values: dict[str, tuple[ir.Value, t.Type]]) -> ir.Value:
        """``np.linspace``: i * step + start, and stop itself last (with endpoint)."""
        b = self.builder
        start = arith.cast(self, *values["start"], t.float64)
        stop = arith.cast(self, *values["stop"], t.float64)
        num = arith.cast(self, *values["num"], t.int64) if "num" in values else \
            ir.Constant(lt.i64, 50)
        endpoint = arith.truth(self, *values["endpoint"]) if "endpoint" in values else \
            ir.Constant(lt.i1, 1)
        self.raise_shapes(b.icmp_signed("<", num, ir.Constant(lt.i64, 0)), "ValueError",
                          "Number of samples, {n0}, must be non-negative.", [[num]])
        div = b.select(endpoint, b.sub(num, ir.Constant(lt.i64, 1)), num)
        delta = b.fsub(stop, start)
        step = b.select(b.icmp_signed(">", div, ir.Constant(lt.i64, 0)),
                        b.fdiv(delta, b.sitofp(div, lt.f64)), delta)
        array, parts = self.new_array(ty, [num], zeroed=False)
        last = b.sub(num, ir.Constant(lt.i64, 1))
        with_stop = b.and_(endpoint, b.icmp_signed(">", num, ir.Constant(lt.i64, 1)))

        def element(i: ir.Value) -> ir.Value:
            value = b.fadd(b.fmul(b.sitofp(i, lt.f64), step), start)
            return b.select(b.and_(with_stop, b.icmp_signed("==", i, last)), stop, value)
        self.fill_1d(ty, parts, num, element, t.float64)
        return array

    def eye(self: FunctionLowerer, ty: t.ArrayType,
            values: dict[str, tuple[ir.Value, t.Type]]) -> ir.Value:
        """``np.eye(N, M, k)`` and ``np.identity(n)``: ones on the k-th diagonal."""
        b = self.builder
        rows = arith.cast(self, *(values.get("N") or values["n"]), t.int64)
        cols = arith.cast(self, *values["M"], t.int64) if "M" in values else rows
        k = arith.cast(self, *values["k"], t.int64) if "k" in values else \
            ir.Constant(lt.i64, 0)
        array, parts = self.new_array(ty, [rows, cols], zeroed=True)
        base = b.bitcast(parts.data, lt.memory(ty.dtype).as_pointer())

        def body(i: ir.Value) -> None:
            j = b.add(i, k)
            inside = b.and_(b.icmp_signed(">=", j, ir.Constant(lt.i64, 0)),
                            b.icmp_signed("<", j, cols))
            put = self.func.append_basic_block("eye.put")
            skip = self.func.append_basic_block("eye.skip")
            b.cbranch(inside, put, skip)
            b.position_at_end(put)
            self.store_element(b.gep(base, [b.add(b.mul(i, cols), j)]),
                               arith.const(ty.dtype, 1), ty.dtype)
            b.branch(skip)
            b.position_at_end(skip)
        self.count(rows, body)
        return array
