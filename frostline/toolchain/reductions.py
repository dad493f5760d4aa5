"""Reductions of the language: ``np.sum``, ``a.max()`` and the rest, as one table.

Each reduction folds every element of its operand (an array, or an array
expression, which is never stored) into one value.  The table says what the
result type is and what an empty operand gives; ``backends.llvm.reductions``
emits them; ``tests/arrays/test_reductions.py`` checks them against NumPy.
"""

from __future__ import annotations

import ast

import attrs

from frostline import types as t
from frostline.stages.ast import constant_index


@attrs.frozen
class Reduction:
    """``result``: 'accumulate' (sum and prod: small integers widen to 64 bits), 'same',
    'mean' (integers give float64), 'index' (int64) or 'bool'.  ``empty``: the error
    message for an empty operand, or '' when it has a value then.  ``ddof``: whether it
    takes ``ddof=`` (var and std)."""

    name: str
    result: str
    empty: str = ""
    ddof: bool = False


_R = Reduction
REDUCTIONS: dict[str, Reduction] = {r.name: r for r in (
    _R("sum", "accumulate"),
    _R("prod", "accumulate"),
    _R("min", "same", "zero-size array to reduction operation minimum which has no identity"),
    _R("max", "same", "zero-size array to reduction operation maximum which has no identity"),
    _R("mean", "mean"),
    _R("var", "mean", ddof=True),
    _R("std", "mean", ddof=True),
    _R("argmin", "index", "attempt to get argmin of an empty sequence"),
    _R("argmax", "index", "attempt to get argmax of an empty sequence"),
    _R("any", "bool"),
    _R("all", "bool"),
)}
#: NumPy's other names for them.
ALIASES = {"amin": "min", "amax": "max", "product": "prod"}


def reduction_of(qualified: str) -> Reduction | None:
    """The reduction a NumPy function name stands for (``numpy.amax``: max), else None."""
    if not qualified.startswith("numpy."):
        return None
    short = qualified[len("numpy."):]
    return REDUCTIONS.get(ALIASES.get(short, short))


def result_type(reduction: Reduction, dtype: t.ScalarType) -> t.ScalarType:
    """The type of the reduction of elements of ``dtype``, as NumPy 2 gives it."""
    if reduction.result == "accumulate":
        if dtype.is_bool or (dtype.is_signed and dtype.bits < 64):
            return t.int64
        if dtype.kind == "u" and dtype.bits < 64:
            return t.uint64
        return dtype
    if reduction.result == "mean":
        return dtype if dtype.is_float else t.float64
    if reduction.result == "index":
        return t.int64
    if reduction.result == "bool":
        return t.bool_
    return dtype


#: Scans: running reductions, one result per element (``np.cumsum``, ``a.cumprod()``).
SCANS: dict[str, Reduction] = {r.name: r for r in (
    Reduction("cumsum", "accumulate"),
    Reduction("cumprod", "accumulate"),
)}


def scan_of(qualified: str) -> Reduction | None:
    if not qualified.startswith("numpy."):
        return None
    return SCANS.get(qualified[len("numpy."):])


def reduced_axes(node: ast.expr | None, ndim: int) -> tuple[int, ...] | None | str:
    """The axes an ``axis=`` argument names, normalised and sorted (None: every axis), or
    NumPy's error message.  Axes are integer literals or tuples of them."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    axes = []
    for item in items:
        k = constant_index(item)
        if k is None:
            return "axis= takes an integer literal or a tuple of them in kernels"
        if not -ndim <= k < ndim:
            return f"axis {k} is out of bounds for array of dimension {ndim}"
        axes.append(k % ndim)
    if len(set(axes)) != len(axes):
        return "duplicate value in 'axis'"
    return tuple(sorted(axes))


def keeps_dims(node: ast.expr | None) -> bool | str:
    """The value of a ``keepdims=`` argument (a bool literal), or an error message."""
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return "keepdims= takes True or False in kernels"


def keyword(keywords: list[ast.keyword], name: str) -> ast.expr | None:
    return next((k.value for k in keywords if k.arg == name), None)


def axis_argument(keywords: list[ast.keyword], extra: list[ast.expr]) -> ast.expr | None:
    """The axis of a reduction: ``axis=``, or the argument after the operand
    (``np.sum(a, 0)``, ``a.sum(0)``)."""
    given = keyword(keywords, "axis")
    return given if given is not None or not extra else extra[0]
