"""Typing array code: views (slicing, ``.T``), element-wise expressions, reductions.

An array-typed expression is one of two things.  A *view* names existing
memory: a parameter or variable, an index with slices, ``a.T``.  An
*element-wise expression* (``a * b + 1``, ``np.sqrt(a)``, ``np.where(...)``)
is never stored: code generation computes it element by element where it is
consumed, fused into one loop nest with no temporaries.  Its consumers are a
store through a view (``out[1:-1] = ...``, ``a += ...``), a reduction
(``np.sum(a * b)``) and another element-wise expression.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import numpy as np

from frostline import types as t
from frostline.stages.ast import BuiltinRef, FunctionAST, constant_index
from frostline.stages.typed import node_key
from frostline.toolchain import creation, indexing, joins, reductions, ufuncs
from frostline.toolchain.library import LIBRARY, result_type
from frostline.toolchain.typing.rules import (
    UNKNOWN,
    MaybeType,
    Unknown,
    can_cast,
    dotted_name,
)

if TYPE_CHECKING:
    from frostline.toolchain.typing.function import FunctionTyper

#: The methods arrays have in kernels.
METHODS = ("T", "transpose", "copy", "astype", "ravel", "flatten", "reshape",
           *sorted(reductions.REDUCTIONS), *sorted(reductions.SCANS))

def elementwise(node: ast.AST, types: dict, fn: FunctionAST) -> bool:
    """Whether ``node`` is an element-wise array expression (computed where it is used);
    ``types`` maps node keys to types, ``fn`` resolves the names it calls."""
    ty = types.get(node_key(node))
    if not isinstance(ty, t.ArrayType):
        return False
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        return True
    if not isinstance(node, ast.Call):
        return False
    name = dotted_name(node.func)
    ref = fn.lookup(name) if name and name.split(".")[0] not in fn.local_names else None
    return isinstance(ref, BuiltinRef) and (
        ref.name in ELEMENTWISE or ufuncs.ufunc_of(ref.name) is not None
        or ref.name in LIBRARY)


#: NumPy functions of arrays that compute element by element (besides ufuncs and the
#: library's functions).
ELEMENTWISE = ("numpy.where", "numpy.clip")


def element_type(ty: MaybeType) -> MaybeType:
    """The element type of an operand: an array's dtype, or the scalar itself."""
    return ty.dtype if isinstance(ty, t.ArrayType) else ty


class ArrayTyping:
    """The array rules of ``FunctionTyper`` (a mixin)."""

    # --- views ------------------------------------------------------------------------

    def array_subscript(self: FunctionTyper, node: ast.Subscript, base: MaybeType,
                        store: bool) -> MaybeType:
        items = indexing.index_items(node)
        kinds = [self.index_kind(i) for i in items]
        if isinstance(base, Unknown):
            return UNKNOWN
        if not isinstance(base, t.ArrayType):
            self.fail(node.value, f"{base} cannot be indexed")
        by_node = dict(zip(map(id, items), kinds, strict=True))
        plan = indexing.plan(items, base.ndim, lambda i: by_node[id(i)])
        if isinstance(plan, str):
            self.fail(node.slice, plan)
        if indexing.is_element(plan) and len(plan) == base.ndim:
            return base.dtype
        return indexing.view_type(base, plan)

    def index_kind(self: FunctionTyper, index: ast.expr) -> str:
        """Type one index item: 'int', 'slice', 'newaxis', 'ellipsis' or an error."""
        if isinstance(index, ast.Constant) and index.value is Ellipsis:
            return "ellipsis"
        if isinstance(index, ast.Slice):
            for part in (index.lower, index.upper, index.step):
                if part is None:
                    continue
                pt = self.expr(part)
                if not isinstance(pt, (Unknown, t.NoneType)) and not (
                        isinstance(pt, (t.ScalarType, t.WeakType)) and pt.kind in "iu"):
                    self.fail(part, f"slice indices must be integers or None, not {pt}")
            return "slice"
        it = self.expr(index)
        if isinstance(it, t.NoneType):
            return "newaxis"
        if isinstance(it, t.ArrayType):
            self.fail(index, "indexing with an array (integer-array or boolean-mask "
                      "indexing) is not supported yet; index with integers and slices")
        if not isinstance(it, Unknown) and not (
                isinstance(it, (t.ScalarType, t.WeakType)) and it.kind in "iu"):
            self.fail(index, f"array indices must be integers, slices, None or '...', "
                      f"not {it}")
        return "int"

    def transposed(self: FunctionTyper, node: ast.AST, base: t.ArrayType,
                   axes: tuple[int, ...] | None) -> t.ArrayType:
        if axes is not None:
            axes = tuple(a + base.ndim if -base.ndim <= a < 0 else a for a in axes)
        if axes is not None and sorted(axes) != list(range(base.ndim)):
            self.fail(node, f"axes {axes} don't match an array of {base.ndim} dimensions")
        order = tuple(range(base.ndim))[::-1] if axes is None else axes
        layout = "A"
        if order == tuple(range(base.ndim)):
            layout = base.layout
        elif order == tuple(range(base.ndim))[::-1] and base.layout in "CF":
            layout = {"C": "F", "F": "C"}[base.layout]
        if base.ndim <= 1 and layout == "F":
            layout = "C"
        return t.ArrayType(base.dtype, base.ndim, layout)

    def transpose_axes(self: FunctionTyper, node: ast.Call,
                       args: list[ast.expr]) -> tuple[int, ...] | None:
        if not args:
            return None
        if len(args) == 1 and isinstance(args[0], ast.Tuple):
            args = list(args[0].elts)
        axes = [self.literal_int(a) for a in args]
        if any(a is None for a in axes):
            self.fail(node, "transpose() takes axes as integer literals")
        return tuple(axes)  # type: ignore[arg-type]

    # --- element-wise expressions -----------------------------------------------------

    def ufunc_type(self: FunctionTyper, node: ast.AST, ufunc: str,
                   operands: list[MaybeType], nodes: list[ast.expr]) -> MaybeType:
        """The type of ``ufunc`` applied to operands (arrays broadcast, scalars too)."""
        for n, o in zip(nodes, operands, strict=True):
            if isinstance(o, (t.TupleType, t.NoneType)):
                self.fail(n, f"np.{ufunc} takes arrays and scalars, not {o}")
        if any(isinstance(o, Unknown) for o in operands):
            return UNKNOWN
        elements = [element_type(o) for o in operands]
        loop = ufuncs.loop_types(ufunc, tuple(elements))
        if isinstance(loop, str):
            self.fail(node, loop)
        self.literals_fit(node, list(zip(nodes, elements, strict=True)))
        return _broadcast_type(loop.output, operands)

    def array_binop(self: FunctionTyper, node: ast.BinOp, left: MaybeType,
                    right: MaybeType) -> MaybeType:
        if isinstance(node.op, ast.MatMult):
            self.fail(node, "the @ operator (matrix products) is not supported yet")
        return self.ufunc_type(node, ufuncs.BINARY_OPERATORS[type(node.op)], [left, right],
                               [node.left, node.right])

    def array_unary(self: FunctionTyper, node: ast.UnaryOp, operand: MaybeType) -> MaybeType:
        if isinstance(node.op, ast.Not):
            self.fail(node, "the truth value of an array is ambiguous; use np.logical_not "
                      "or ~")
        return self.ufunc_type(node, ufuncs.UNARY_OPERATORS[type(node.op)], [operand],
                               [node.operand])

    def array_compare(self: FunctionTyper, node: ast.Compare,
                      operands: list[MaybeType]) -> MaybeType:
        if len(node.ops) > 1:
            self.fail(node, "chained comparisons of arrays are ambiguous (NumPy raises "
                      "ValueError); combine them with & or np.logical_and")
        op = node.ops[0]
        if type(op) not in ufuncs.COMPARISONS:
            self.fail(node, "'is' and 'in' comparisons are not supported in kernels")
        return self.ufunc_type(node, ufuncs.COMPARISONS[type(op)], operands,
                               [node.left, *node.comparators])

    def array_function(self: FunctionTyper, node: ast.Call, name: str) -> MaybeType:
        """A NumPy function that takes arrays: a ufunc spelling, a reduction, ``np.where``,
        ``np.clip``, ``np.transpose``, or a library function applied element-wise."""
        short = name.replace("numpy.", "np.")
        if name in creation.CREATIONS:
            return self.creation_call(node, name)
        if name in joins.JOINS:
            return self.join_type(node, name)
        reduction = reductions.reduction_of(name) or reductions.scan_of(name)
        if reduction is not None:
            if not node.args:
                self.fail(node, f"{short}() takes the array to reduce")
            return self.reduction(node, reduction, node.args[0], node.args[1:], node.keywords)
        if node.keywords:
            self.fail(node, f"{short}() takes no keyword arguments in kernels")
        ufunc = ufuncs.ufunc_of(name)
        if ufunc is not None:
            arity = ufuncs.UFUNCS[ufunc]
            if len(node.args) != arity:
                self.fail(node, f"{short}() takes {arity} argument{'s' * (arity > 1)} in "
                          f"kernels (out= and where= are not supported)")
            return self.ufunc_type(node, ufunc, [self.expr(a) for a in node.args], node.args)
        if name in ("numpy.copy", "numpy.ravel", "numpy.reshape"):
            if not node.args:
                self.fail(node, f"{short}() takes an array")
            base = self.expr(node.args[0])
            if isinstance(base, Unknown):
                return UNKNOWN
            if not isinstance(base, t.ArrayType):
                self.fail(node.args[0], f"{short}() takes an array, not {base}")
            method = {"numpy.copy": "copy", "numpy.ravel": "ravel",
                      "numpy.reshape": "reshape"}[name]
            if method == "copy":
                return t.ArrayType(base.dtype, base.ndim,
                                   "F" if base.layout == "F" and base.ndim > 1 else "C")
            return self.reshape_type(node, method, base, node.args[1:])
        if name == "numpy.transpose":
            if not node.args:
                self.fail(node, "np.transpose() takes an array")
            base = self.expr(node.args[0])
            if isinstance(base, Unknown):
                return UNKNOWN
            if not isinstance(base, t.ArrayType):
                self.fail(node.args[0], f"np.transpose() takes an array, not {base}")
            return self.transposed(node, base, self.transpose_axes(node, node.args[1:]))
        if name in ("numpy.where", "numpy.clip"):
            if len(node.args) != 3:
                self.fail(node, f"{short}() takes 3 arguments in kernels")
            operands = [self.expr(a) for a in node.args]
            for a, o in zip(node.args, operands, strict=True):
                if isinstance(o, (t.TupleType, t.NoneType)):
                    self.fail(a, f"{short}() takes arrays and scalars, not {o}")
            if any(isinstance(o, Unknown) for o in operands):
                return UNKNOWN
            values = operands[1:] if name == "numpy.where" else operands
            dtype = element_type(values[0])
            for v in values[1:]:
                dtype = t.promote(dtype, element_type(v))  # type: ignore[arg-type]
            if name == "numpy.clip":
                self.literals_fit(node, [(a, element_type(o))
                                         for a, o in zip(node.args, operands, strict=True)])
            return _broadcast_type(t.concrete(dtype), operands)  # type: ignore[arg-type]
        raise AssertionError(name)

    def library_elementwise(self: FunctionTyper, node: ast.Call, name: str,
                            operands: list[MaybeType]) -> MaybeType:
        """A NumPy function of the library (``np.sqrt``, ``np.maximum``) on arrays."""
        short = name.replace("numpy.", "np.").replace("builtins.", "")
        if not (name.startswith("numpy.") or name == "builtins.abs"):
            self.fail(node, f"{short}() takes scalars, not arrays; use the NumPy function "
                      f"(np.{name.split('.')[-1]}) or loop over the array")
        for a, o in zip(node.args, operands, strict=True):
            if isinstance(o, (t.TupleType, t.NoneType)):
                self.fail(a, f"{short}() takes arrays and scalars, not {o}")
        if any(isinstance(o, Unknown) for o in operands):
            return UNKNOWN
        elements = [element_type(o) for o in operands]
        refused = ufuncs.numpy_refuses(name.split(".")[-1], tuple(elements))  # type: ignore
        if refused is not None and name.startswith("numpy."):
            self.fail(node, refused)
        result = result_type(LIBRARY[name], elements)  # type: ignore
        return _broadcast_type(t.concrete(result), operands)  # type: ignore[arg-type]

    def join_type(self: FunctionTyper, node: ast.Call, name: str) -> MaybeType:
        """``np.concatenate``/``np.stack`` of a tuple of arrays, ``np.flip``, ``np.triu``,
        ``np.tril``."""
        short = name.replace("numpy.", "np.") + "()"
        params = joins.JOINS[name]
        if len(node.args) > len(params) or any(k.arg not in params for k in node.keywords):
            self.fail(node, f"{short} takes {', '.join(params)} in kernels")
        if node.args and isinstance(node.args[0], ast.List):
            self.fail(node.args[0], f"{short} takes a tuple of arrays in kernels: write "
                      "(a, b), not [a, b] (kernels have no lists)")
        first = self.expr(node.args[0]) if node.args else None
        if isinstance(first, Unknown):
            return UNKNOWN
        axis_node = joins.argument(node, "axis", 1)
        if name in ("numpy.concatenate", "numpy.stack"):
            if not (isinstance(first, t.TupleType) and first.items and all(
                    isinstance(i, t.ArrayType) for i in first.items)):
                self.fail(node, f"{short} takes a tuple of arrays, not {first}")
            ranks = {i.ndim for i in first.items}  # type: ignore[union-attr]
            if len(ranks) != 1 or 0 in ranks:
                self.fail(node.args[0], f"{short} takes arrays of one rank (not 0-d), not "
                          f"{first}")
            ndim = ranks.pop() + (name == "numpy.stack")
            if axis_node is not None and not (
                    (k := constant_index(axis_node)) is not None and -ndim <= k < ndim):
                self.fail(axis_node, f"{short} takes an integer literal axis in "
                          f"[-{ndim}, {ndim})")
            dtype = first.items[0].dtype  # type: ignore[union-attr]
            for item in first.items[1:]:
                dtype = t.promote_scalars(dtype, item.dtype)  # type: ignore[union-attr]
            return t.ArrayType(dtype, ndim, "C")
        if not isinstance(first, t.ArrayType):
            self.fail(node, f"{short} takes an array, not {first}")
        if name == "numpy.flip":
            axes = reductions.reduced_axes(axis_node, first.ndim)
            if isinstance(axes, str):
                self.fail(axis_node or node, axes)
            return t.ArrayType(first.dtype, first.ndim, "A" if first.ndim > 0 else "C")
        if first.ndim < 2:
            self.fail(node.args[0], f"{short} takes an array of 2 or more dimensions in "
                      "kernels")
        k_node = joins.argument(node, "k", 1)
        if k_node is not None:
            kt = self.expr(k_node)
            if not (isinstance(kt, (t.ScalarType, t.WeakType)) and kt.kind in "iu"):
                self.fail(k_node, f"{short} takes an integer k, not {kt}")
        return t.ArrayType(first.dtype, first.ndim, "C")

    # --- reductions -------------------------------------------------------------------

    def reduction(self: FunctionTyper, node: ast.Call, reduction: reductions.Reduction,
                  operand: ast.expr, extra: list[ast.expr],
                  keywords: list[ast.keyword]) -> MaybeType:
        """A reduction (or a scan) over every element, or over ``axis=`` axes."""
        what = f"{reduction.name}()"
        scan = reduction.name in reductions.SCANS
        if len(extra) > 1 or (extra and reductions.keyword(keywords, "axis") is not None):
            self.fail(extra[-1], f"{what} takes the axis as its one positional argument "
                      "after the array, and the rest as keywords (keepdims=...) in kernels")
        allowed = ("axis",) if scan else ("axis", "keepdims") + (
            ("ddof",) if reduction.ddof else ())
        for kw in keywords:
            if kw.arg not in allowed:
                self.fail(node, f"{what} takes {', '.join(a + '=' for a in allowed)} in "
                          f"kernels, not {kw.arg}=")
            if kw.arg == "ddof":
                dt = self.expr(kw.value)
                if not isinstance(dt, (Unknown, t.ScalarType, t.WeakType)) or \
                        (not isinstance(dt, Unknown) and dt.kind not in "iuf"):
                    self.fail(kw.value, f"ddof must be a number, not {dt}")
        ot = self.expr(operand)
        if isinstance(ot, Unknown):
            return UNKNOWN
        if not isinstance(ot, (t.ArrayType, t.ScalarType, t.WeakType)):
            self.fail(operand, f"{what} takes an array, not {ot}")
        result = reductions.result_type(reduction, t.concrete(element_type(ot)))  # type: ignore
        ndim = ot.ndim if isinstance(ot, t.ArrayType) else 0
        axis_node = reductions.axis_argument(keywords, extra)
        axes = reductions.reduced_axes(axis_node, ndim)
        keep = reductions.keeps_dims(reductions.keyword(keywords, "keepdims"))
        for problem, at in ((axes, axis_node), (keep, node)):
            if isinstance(problem, str):
                self.fail(at, problem)  # type: ignore[arg-type]
        if scan:
            if axes is not None and len(axes) != 1:  # type: ignore[arg-type]
                self.fail(axis_node, f"{what} takes one axis")  # type: ignore[arg-type]
            return t.ArrayType(result, 1 if axes is None else ndim, "C")
        if reduction.result == "index" and axes is not None and len(axes) != 1:  # type: ignore
            self.fail(axis_node, f"{what} takes one axis")  # type: ignore[arg-type]
        if axes is None and not keep:
            return result
        kept = ndim if keep else ndim - (ndim if axes is None else len(axes))  # type: ignore
        return t.ArrayType(result, kept, "C")

    def array_method(self: FunctionTyper, node: ast.Call, base: t.ArrayType) -> MaybeType:
        assert isinstance(node.func, ast.Attribute)
        attr = node.func.attr
        if attr == "transpose":
            if node.keywords:
                self.fail(node, "transpose() takes no keyword arguments")
            return self.transposed(node, base, self.transpose_axes(node, node.args))
        if attr in ("copy", "flatten", "ravel", "reshape"):
            if node.keywords:
                self.fail(node, f"{attr}() takes no keyword arguments in kernels (order= "
                          "is always 'C')")
            if attr == "copy":
                if node.args:
                    self.fail(node, "copy() takes no arguments in kernels")
                return t.ArrayType(base.dtype, base.ndim, "C")
            return self.reshape_type(node, attr, base, node.args)
        if attr == "astype":
            if len(node.args) != 1 or node.keywords:
                self.fail(node, "astype() takes one argument, the dtype, in kernels")
            dtype = self.dtype_argument(node.args[0])
            assert dtype is not None
            return t.ArrayType(dtype, base.ndim,
                               "F" if base.layout == "F" and base.ndim > 1 else "C")
        reduction = reductions.REDUCTIONS.get(attr) or reductions.SCANS.get(attr)
        if reduction is None:
            self.fail(node.func, f"arrays have no method '{attr}' in kernels (they have "
                      f"{', '.join(m for m in METHODS if m != 'T')}, and the attributes "
                      "shape, ndim, size and T)")
        return self.reduction(node, reduction, node.func.value, node.args, node.keywords)

    def reshape_type(self: FunctionTyper, node: ast.Call, method: str, base: t.ArrayType,
                     args: list[ast.expr]) -> t.ArrayType:
        """``ravel``/``flatten`` (1-D) or ``reshape(shape)``: a C-contiguous array."""
        if method != "reshape":
            if args:
                self.fail(node, f"{method}() takes no arguments in kernels")
            return t.ArrayType(base.dtype, 1, "C")
        if not args:
            self.fail(node, "reshape() takes the new shape")
        if len(args) == 1:
            ndim = self.shape_rank(args[0], self.expr(args[0]), "reshape()")
        else:
            for a in args:
                at = self.expr(a)
                if not (isinstance(at, (t.ScalarType, t.WeakType)) and at.kind in "iu"):
                    self.fail(a, f"reshape() takes integers, not {at}")
            ndim = len(args)
        return t.ArrayType(base.dtype, ndim, "C")

    # --- stores -----------------------------------------------------------------------

    def store_through_view(self: FunctionTyper, target: ast.expr, view: t.ArrayType,
                           value: MaybeType, value_node: ast.AST) -> None:
        """``view[...] = value``: a scalar or an array broadcast to the view's shape."""
        if isinstance(value, Unknown):
            return
        if not isinstance(value, (t.ArrayType, t.ScalarType, t.WeakType)):
            self.fail(value_node, f"cannot store a {value} in an array of {view.dtype}")
        if isinstance(value, t.ArrayType) and value.ndim > view.ndim:
            pass  # NumPy allows leading axes of length 1; checked when it runs
        if not can_cast(element_type(value), view.dtype):  # type: ignore[arg-type]
            self.fail(value_node, f"cannot store a {value} in an array of {view.dtype}")
        if isinstance(value_node, ast.expr):
            self.literals_fit(value_node, [(value_node, element_type(value)),
                                           (target, view.dtype)])

    def in_place_type(self: FunctionTyper, node: ast.AugAssign, current: t.ArrayType,
                      value: MaybeType) -> MaybeType:
        """``view op= value``: NumPy's ufunc with the view as its output, which the result
        must cast to under 'same_kind' rules."""
        result = self.ufunc_type(node, ufuncs.BINARY_OPERATORS[type(node.op)],
                                 [current, value], [node.target, node.value])
        if isinstance(result, Unknown):
            return UNKNOWN
        out = element_type(result)
        assert isinstance(out, t.ScalarType)
        if not _same_kind(out, current.dtype):
            ufunc = ufuncs.BINARY_OPERATORS[type(node.op)]
            self.fail(node, f"Cannot cast ufunc '{ufunc}' output from "
                      f"dtype('{out.numpy_dtype}') to dtype('{current.dtype.numpy_dtype}') "
                      "with casting rule 'same_kind'")
        return result



def _broadcast_type(dtype: t.ScalarType, operands: list[MaybeType]) -> t.Type:
    ranks = [o.ndim for o in operands if isinstance(o, t.ArrayType)]
    if not ranks:
        return dtype
    return t.ArrayType(dtype, max(ranks), "C")


def _same_kind(src: t.ScalarType, dst: t.ScalarType) -> bool:
    return bool(np.can_cast(src.numpy_dtype, dst.numpy_dtype, casting="same_kind"))

