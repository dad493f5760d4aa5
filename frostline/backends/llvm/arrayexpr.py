"""Array expressions as loop nests over element operations, fused, with no temporaries.

An element-wise expression (``typing.arrays``) becomes a tree: leaves are
arrays (views) and scalars, evaluated once, in source order; inner nodes are
ufuncs and NumPy functions of one element of each operand.  Each inner node
broadcasts its operands' shapes and raises NumPy's ValueError when they do not
fit.  A consumer then runs one loop nest over the result's shape and computes
the whole tree per element: a store through a view (``out[1:-1] = ...``) or a
reduction (``backends.llvm.reductions``).  So ``out[:] = a * b + c`` and
``np.sum(a * b)`` touch each element once and allocate nothing.

The innermost loop has two versions: when every operand steps one element at a
time along the last axis (the usual case, checked when it runs) it indexes
elements, so LLVM vectorises it; otherwise it steps by byte strides.

A store whose source overlaps its destination (``a[1:] = a[:-1]``), other than
by being the same view, goes through a temporary buffer, so the result is
NumPy's: as if the right-hand side were computed first.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith, memory, ufuncs
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.boxing import byte_extent
from frostline.backends.llvm.library import SPECIAL
from frostline.backends.llvm.views import Parts
from frostline.stages.ast import BuiltinRef
from frostline.toolchain import ufuncs as ufunc_table
from frostline.toolchain.typing.arrays import element_type, elementwise
from frostline.toolchain.typing.rules import dotted_name

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer

_BROADCAST = "operands could not be broadcast together with shapes {all} "
_INTO = "could not broadcast input array from shape {0} into shape {1}"


class Leaf:
    """An array operand: its parts, and where the nest has put its current element."""

    def __init__(self, parts: Parts, ty: t.ArrayType):
        self.parts = parts
        self.ty = ty
        self.ndim = ty.ndim
        self.shape = parts.shape
        self.address: ir.Value | None = None


class Scalar:
    """A scalar operand, computed once before the loops."""

    ndim = 0
    shape: list[ir.Value] = []

    def __init__(self, value: ir.Value, ty: t.Type):
        self.value = value
        self.ty = ty


class Apply:
    """A function of one element of each child; ``shape`` is the broadcast shape."""

    def __init__(self, children: list[Elem], ty: t.ScalarType,
                 compute: Callable[[list[ir.Value]], ir.Value], shape: list[ir.Value]):
        self.children = children
        self.ty = ty
        self.compute = compute
        self.shape = shape
        self.ndim = len(shape)


Elem = Leaf | Scalar | Apply


def leaves(elem: Elem) -> list[Leaf]:
    if isinstance(elem, Leaf):
        return [elem]
    if isinstance(elem, Apply):
        return [leaf for c in elem.children for leaf in leaves(c)]
    return []


def elem_type(elem: Elem) -> t.Type:
    return elem.ty.dtype if isinstance(elem, Leaf) else elem.ty


class ArrayExpressionLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    # --- trees ------------------------------------------------------------------------

    def tree(self: FunctionLowerer, node: ast.expr) -> Elem:
        """The element tree of an operand of array code."""
        if isinstance(node, ast.Name) and node.id in self.deferred:
            return self.tree(self.deferred.pop(node.id))  # fused from the last statement
        ty = self.type_of(node)
        if not isinstance(ty, t.ArrayType):
            return Scalar(self.expr(node), ty)
        if not elementwise(node, self.typed.expr_type_map, self.fn):
            return Leaf(self.parts(self.expr(node), ty), ty)
        if isinstance(node, ast.BinOp):
            return self.ufunc_tree(node, ufunc_table.BINARY_OPERATORS[type(node.op)],
                                   [node.left, node.right])
        if isinstance(node, ast.UnaryOp):
            return self.ufunc_tree(node, ufunc_table.UNARY_OPERATORS[type(node.op)],
                                   [node.operand])
        if isinstance(node, ast.Compare):
            return self.ufunc_tree(node, ufunc_table.COMPARISONS[type(node.ops[0])],
                                   [node.left, node.comparators[0]])
        assert isinstance(node, ast.Call)
        ref = self.fn.lookup(dotted_name(node.func) or "")
        assert isinstance(ref, BuiltinRef)
        ufunc = ufunc_table.ufunc_of(ref.name)
        if ufunc is not None:
            return self.ufunc_tree(node, ufunc, node.args)
        children = [self.tree(a) for a in node.args]
        out = ty.dtype
        if ref.name == "numpy.where":
            cond, x, y = children

            def compute(v: list[ir.Value]) -> ir.Value:
                return ufuncs.where(self, v[0], elem_type(cond), v[1], elem_type(x), v[2],
                                    elem_type(y), out)
        elif ref.name == "numpy.clip":
            types = [elem_type(c) for c in children]

            def compute(v: list[ir.Value]) -> ir.Value:
                a, lo, hi = (arith.cast(self, x, xt, out) for x, xt in zip(v, types,
                                                                          strict=True))
                low = SPECIAL["numpy.maximum"](self, [a, lo], out)
                return SPECIAL["numpy.minimum"](self, [low, hi], out)
        else:
            types = [elem_type(c) for c in children]

            def compute(v: list[ir.Value]) -> ir.Value:
                return self.library_element(ref.name, v, types, out)
        return Apply(children, out, compute, self.broadcast(children))

    def ufunc_tree(self: FunctionLowerer, node: ast.expr, ufunc: str,
                   operands: list[ast.expr]) -> Apply:
        children = [self.tree(a) for a in operands]
        types = [elem_type(c) for c in children]
        loop = ufunc_table.loop_types(ufunc, tuple(types))
        assert not isinstance(loop, str)

        def compute(v: list[ir.Value]) -> ir.Value:
            return ufuncs.apply(self, ufunc, loop, v, types)
        return Apply(children, loop.output, compute, self.broadcast(children))

    def broadcast(self: FunctionLowerer, children: list[Elem]) -> list[ir.Value]:
        """The broadcast shape of the children; NumPy's ValueError when they do not fit."""
        b = self.builder
        ndim = max(c.ndim for c in children)
        one = ir.Constant(lt.i64, 1)
        shape: list[ir.Value] = []
        bad: ir.Value = ir.Constant(lt.i1, 0)
        for j in range(ndim):
            out: ir.Value = one
            for c in children:
                k = j - (ndim - c.ndim)
                if k < 0:
                    continue
                d = c.shape[k]
                differs = b.and_(b.icmp_unsigned("!=", d, out), b.icmp_unsigned("!=", out, one))
                bad = b.or_(bad, b.and_(b.icmp_unsigned("!=", d, one), differs))
                out = b.select(b.icmp_unsigned("!=", d, one), d, out)
            shape.append(out)
        if len([c for c in children if c.ndim]) > 1:
            self.raise_shapes(bad, "ValueError", _BROADCAST, [c.shape for c in children])
        return shape

    def evaluate(self: FunctionLowerer, elem: Elem) -> ir.Value:
        """The element of a tree at the point the nest has reached."""
        if isinstance(elem, Scalar):
            return elem.value
        if isinstance(elem, Leaf):
            assert elem.address is not None
            value = self.load_element(elem.address, elem.ty.dtype)
            if self.operand_scope is not None:  # the operands do not alias the result
                load = value.operands[0] if elem.ty.dtype.is_bool else value
                load.set_metadata("noalias", self.operand_scope)
            return value
        return elem.compute([self.evaluate(c) for c in elem.children])

    # --- loop nests -------------------------------------------------------------------

    def nest(self: FunctionLowerer, shape: list[ir.Value], arrays: list[Leaf],
             body: Callable[[ir.Value], None]) -> None:
        """Loops over ``shape``, with each array's ``address`` set to its element (arrays
        broadcast, aligned right); ``body(flat)`` gets the C-order flat index."""
        b = self.builder
        nd = len(shape)
        zero = ir.Constant(lt.i64, 0)
        steps: list[list[ir.Value | None]] = []
        for leaf in arrays:
            row: list[ir.Value | None] = [None] * nd
            for k in range(leaf.ndim):
                j = k + nd - leaf.ndim
                if j < 0:
                    continue  # a leading axis of length 1
                extent, stride = leaf.parts.shape[k], leaf.parts.strides[k]
                if isinstance(stride, ir.Constant) and stride.constant == 0:
                    continue  # fixed along this axis (a result a reduction folds into)
                row[j] = b.select(b.icmp_unsigned("==", extent, ir.Constant(lt.i64, 1)),
                                  zero, stride)
            steps.append(row)
        if nd == 0:
            for leaf in arrays:
                leaf.address = self.element_at(leaf, leaf.parts.data)
            body(zero)
            return

        def level(j: int, rows: list[ir.Value], flat: ir.Value) -> None:
            if j == nd - 1:
                self.inner_loop(shape[j], arrays, rows, [s[j] for s in steps], flat, body)
                return

            def step(i: ir.Value) -> None:
                moved = [row if s[j] is None else b.gep(row, [b.mul(i, s[j])])
                         for row, s in zip(rows, steps, strict=True)]
                level(j + 1, moved, b.add(b.mul(flat, shape[j]), i))
            self.count(shape[j], step)

        level(0, [leaf.parts.data for leaf in arrays], zero)

    def inner_loop(self: FunctionLowerer, n: ir.Value, arrays: list[Leaf],
                   rows: list[ir.Value], steps: list[ir.Value | None], flat: ir.Value,
                   body: Callable[[ir.Value], None]) -> None:
        """The last axis: by element when every array steps one element (or none), else
        by byte strides."""
        b = self.builder
        unit: ir.Value = ir.Constant(lt.i1, 1)
        for leaf, s in zip(arrays, steps, strict=True):
            if s is not None:
                size = ir.Constant(lt.i64, leaf.ty.dtype.itemsize)
                unit = b.and_(unit, b.icmp_unsigned("==", s, size))
        start = b.mul(flat, n)
        if isinstance(unit, ir.Constant):
            self.count(n, lambda i: self.inner_step(arrays, rows, steps, i, True,
                                                    b.add(start, i), body))
            return
        fast = self.func.append_basic_block("nest.unit")
        slow = self.func.append_basic_block("nest.strided")
        done = self.func.append_basic_block("nest.done")
        b.cbranch(unit, fast, slow)
        for block, by_element in ((fast, True), (slow, False)):
            b.position_at_end(block)
            self.count(n, lambda i, e=by_element: self.inner_step(arrays, rows, steps, i, e,
                                                                  b.add(start, i), body))
            b.branch(done)
        b.position_at_end(done)

    def inner_step(self: FunctionLowerer, arrays: list[Leaf], rows: list[ir.Value],
                   steps: list[ir.Value | None], i: ir.Value, by_element: bool,
                   flat: ir.Value, body: Callable[[ir.Value], None]) -> None:
        b = self.builder
        for leaf, row, s in zip(arrays, rows, steps, strict=True):
            if s is None:
                leaf.address = self.element_at(leaf, row)
            elif by_element:
                leaf.address = b.gep(self.element_at(leaf, row), [i], inbounds=True)
            else:
                leaf.address = self.element_at(leaf, b.gep(row, [b.mul(i, s)]))
        body(flat)

    def element_at(self: FunctionLowerer, leaf: Leaf, byte_ptr: ir.Value) -> ir.Value:
        return self.builder.bitcast(byte_ptr, lt.memory(leaf.ty.dtype).as_pointer())

    def count(self: FunctionLowerer, n: ir.Value, body: Callable[[ir.Value], None]) -> None:
        """``for i in range(n): body(i)``."""
        b = self.builder
        before = b.block
        head = self.func.append_basic_block("nest.head")
        loop = self.func.append_basic_block("nest.body")
        end = self.func.append_basic_block("nest.end")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(lt.i64)
        i.add_incoming(ir.Constant(lt.i64, 0), before)
        b.cbranch(b.icmp_signed("<", i, n), loop, end)
        b.position_at_end(loop)
        body(i)
        i.add_incoming(b.add(i, ir.Constant(lt.i64, 1), flags=("nsw", "nuw")), b.block)
        b.branch(head)
        b.position_at_end(end)

    # --- stores -----------------------------------------------------------------------

    def store_array(self: FunctionLowerer, dest: ir.Value, dty: t.ArrayType,
                    tree: Elem) -> None:
        """``dest[...] = tree``, broadcast; through a temporary when they overlap."""
        target = Leaf(self.parts(dest, dty), dty)
        self.fits_into(tree, target)
        sources = leaves(tree)
        if not sources:
            self.emit_store(target, tree)
            return
        b = self.builder
        overlap: ir.Value = ir.Constant(lt.i1, 0)
        for leaf in sources:
            overlap = b.or_(overlap, b.and_(self.overlaps(leaf, target),
                                            b.not_(self.same_view(leaf, target))))
        direct = self.func.append_basic_block("store.direct")
        copied = self.func.append_basic_block("store.copied")
        done = self.func.append_basic_block("store.done")
        b.cbranch(overlap, copied, direct)
        b.position_at_end(direct)
        self.emit_store(target, tree)
        b.branch(done)
        b.position_at_end(copied)
        scratch = self.scratch(target)
        self.cleanups.append(lambda: self.free_scratch(scratch))
        self.emit_store(scratch, tree)
        self.cleanups.pop()
        self.emit_store(target, scratch)
        self.free_scratch(scratch)
        b.branch(done)
        b.position_at_end(done)

    def emit_store(self: FunctionLowerer, target: Leaf, tree: Elem) -> None:
        sources = leaves(tree)
        dtype = target.ty.dtype

        def body(flat: ir.Value) -> None:
            value = arith.cast(self, self.evaluate(tree), elem_type(tree), dtype)
            assert target.address is not None
            self.store_element(target.address, value, dtype)
        self.nest(target.shape, [target, *sources], body)

    def fits_into(self: FunctionLowerer, tree: Elem, target: Leaf) -> None:
        """NumPy's ValueError unless ``tree`` broadcasts to the target's shape."""
        if not tree.ndim:
            return
        b = self.builder
        one = ir.Constant(lt.i64, 1)
        bad: ir.Value = ir.Constant(lt.i1, 0)
        for k, d in enumerate(tree.shape):
            j = k + target.ndim - tree.ndim
            fits = b.icmp_unsigned("==", d, one)
            if j >= 0:
                fits = b.or_(fits, b.icmp_unsigned("==", d, target.shape[j]))
            bad = b.or_(bad, b.not_(fits))
        self.raise_shapes(bad, "ValueError", _INTO, [tree.shape, target.shape])

    def extent_bytes(self: FunctionLowerer, leaf: Leaf) -> tuple[ir.Value, ir.Value,
                                                                   ir.Value]:
        return byte_extent(self.builder, leaf.parts.data, leaf.parts.shape,
                           leaf.parts.strides, leaf.ty.dtype.itemsize)

    def overlaps(self: FunctionLowerer, a: Leaf, c: Leaf) -> ir.Value:
        b = self.builder
        alo, ahi, aempty = self.extent_bytes(a)
        clo, chi, cempty = self.extent_bytes(c)
        touch = b.and_(b.icmp_unsigned("<", alo, chi), b.icmp_unsigned("<", clo, ahi))
        return b.and_(touch, b.not_(b.or_(aempty, cempty)))

    def same_view(self: FunctionLowerer, leaf: Leaf, target: Leaf) -> ir.Value:
        """Whether an operand reads exactly the element each store writes (``a[:] += 1``)."""
        b = self.builder
        if leaf.ndim != target.ndim or leaf.ty.dtype.itemsize != target.ty.dtype.itemsize:
            return ir.Constant(lt.i1, 0)
        same = b.icmp_unsigned("==", b.ptrtoint(leaf.parts.data, lt.i64),
                               b.ptrtoint(target.parts.data, lt.i64))
        for k in range(leaf.ndim):
            same = b.and_(same, b.icmp_unsigned("==", leaf.shape[k], target.shape[k]))
            same = b.and_(same, b.icmp_unsigned("==", leaf.parts.strides[k],
                                                target.parts.strides[k]))
        return same

    def scratch(self: FunctionLowerer, like: Leaf) -> Leaf:
        """A C-contiguous buffer of the target's shape and type (``new_block``)."""
        parts = self.new_block(like.ty.dtype, like.shape, zeroed=False)
        return Leaf(parts, like.ty.with_layout("A"))

    def free_scratch(self: FunctionLowerer, leaf: Leaf) -> None:
        self.builder.call(self.mod.runtime.decref(), [leaf.parts.owner])

    def new_block(self: FunctionLowerer, dtype: t.ScalarType, shape: list[ir.Value],
                  zeroed: bool) -> Parts:
        """A new C-contiguous array's memory (``memory``), one reference held by the
        caller; MemoryError when there is none, ValueError for a negative extent."""
        b = self.builder
        size = ir.Constant(lt.i64, dtype.itemsize)
        strides: list[ir.Value] = [size] * len(shape)
        total: ir.Value = size
        negative: ir.Value = ir.Constant(lt.i1, 0)
        overflow: ir.Value = ir.Constant(lt.i1, 0)
        mul = self.extern("llvm.umul.with.overflow.i64",
                          ir.LiteralStructType([lt.i64, lt.i1]), [lt.i64, lt.i64])
        for k in range(len(shape) - 1, -1, -1):
            strides[k] = total
            negative = b.or_(negative, b.icmp_signed("<", shape[k], ir.Constant(lt.i64, 0)))
            product = b.call(mul, [total, shape[k]])
            overflow = b.or_(overflow, b.extract_value(product, 1))
            total = b.extract_value(product, 0)
        self.raise_if(negative, "ValueError", "negative dimensions are not allowed")
        self.raise_if(overflow, "ValueError", "array is too big; `arr.size * "
                      "arr.dtype.itemsize` is larger than the maximum possible size.")
        block = b.call(self.mod.runtime.alloc(), [total, ir.Constant(lt.i1, int(zeroed))])
        self.raise_shapes(b.icmp_unsigned("==", block, ir.Constant(lt.i8p, None)),
                          "MemoryError", "Unable to allocate {bytes0} for an array with shape "
                          f"{{tuple1}} and data type {dtype.numpy_dtype}", [[total], list(shape)])
        data = b.gep(block, [ir.Constant(lt.i64, memory.HEADER)])
        return Parts(data, list(shape), strides, block)

    # --- statements -------------------------------------------------------------------

    def assign_view(self: FunctionLowerer, target: ast.Subscript, value: ast.expr) -> None:
        """``a[1:-1] = value`` (and ``a[...] = value``, ``m[i, :] = value``)."""
        tree = self.tree(value)
        dty = self.type_of(target)
        assert isinstance(dty, t.ArrayType)
        self.store_array(self.view(target), dty, tree)

    def augment_array(self: FunctionLowerer, node: ast.AugAssign) -> None:
        """``a += value``, ``m[i, :] *= value``: the ufunc with the array as its output."""
        dty = self.type_of(node.target)
        assert isinstance(dty, t.ArrayType)
        if isinstance(node.target, ast.Subscript):
            dest = self.view(node.target)
        else:
            dest = self.expr(node.target)
        current = Leaf(self.parts(dest, dty), dty)
        other = self.tree(node.value)
        ufunc = ufunc_table.BINARY_OPERATORS[type(node.op)]
        operands = (dty.dtype, element_type(self.type_of(node.value)))
        loop = ufunc_table.loop_types(ufunc, operands)  # type: ignore[arg-type]
        assert not isinstance(loop, str)
        types = [dty.dtype, elem_type(other)]

        def compute(v: list[ir.Value]) -> ir.Value:
            return ufuncs.apply(self, ufunc, loop, v, types)
        tree = Apply([current, other], loop.output, compute,
                     self.broadcast([current, other]))
        self.store_array(dest, dty, tree)
