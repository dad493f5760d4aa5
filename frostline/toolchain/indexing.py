"""Basic indexing: what each item of ``a[...]`` does, and the layout of the view it makes.

An index is a tuple of items: integers (take one position, drop the axis),
slices (keep the axis, clipped as Python clips them), ``None``/``np.newaxis``
(a new axis of length 1) and at most one ``...`` (full slices for the axes no
other item names).  Typing and code generation both read the plan made here.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import attrs

from frostline import types as t
from frostline.toolchain.typing.rules import constant_index


@attrs.frozen
class Item:
    """One item of an index: ``kind`` is 'int', 'slice' or 'newaxis'; ``node`` is the
    index expression (None for the full slices an ellipsis stands for); ``axis`` the axis
    of the indexed array it consumes (None for a new axis)."""

    kind: str
    node: ast.expr | None
    axis: int | None


#: What an index expression is: 'int', 'newaxis', 'ellipsis', 'slice', or an error message.
KindOf = Callable[[ast.expr], str]


def index_items(node: ast.Subscript) -> list[ast.expr]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def plan(items: list[ast.expr], ndim: int, kind_of: KindOf) -> list[Item] | str:
    """The items of an index into an array of ``ndim`` axes, or NumPy's error message.

    Axes the index does not reach are kept whole, as if ``...`` ended it."""
    kinds = [kind_of(i) for i in items]
    for k in kinds:
        if k not in ("int", "newaxis", "ellipsis", "slice"):
            return k
    if kinds.count("ellipsis") > 1:
        return "an index can only have a single ellipsis ('...')"
    used = sum(k in ("int", "slice") for k in kinds)
    if used > ndim:
        return (f"too many indices for array: array is {ndim}-dimensional, but {used} "
                f"were indexed")
    out: list[Item] = []
    axis = 0
    for node, kind in zip(items, kinds, strict=True):
        if kind == "ellipsis":
            for _ in range(ndim - used):
                out.append(Item("slice", None, axis))
                axis += 1
        elif kind == "newaxis":
            out.append(Item("newaxis", node, None))
        else:
            out.append(Item(kind, node, axis))
            axis += 1
    while axis < ndim:
        out.append(Item("slice", None, axis))
        axis += 1
    return out


def is_element(items: list[Item]) -> bool:
    """Whether the index takes one element (every item an integer)."""
    return all(i.kind == "int" for i in items)


def _full(node: ast.expr | None) -> bool:
    """A slice known to keep a whole axis in order: ``:`` or ``::1``."""
    if node is None:
        return True
    assert isinstance(node, ast.Slice)
    return node.lower is None and node.upper is None and _unit_step(node)


def _unit_step(node: ast.expr | None) -> bool:
    if node is None:
        return True
    assert isinstance(node, ast.Slice)
    return node.step is None or constant_index(node.step) == 1 or (
        isinstance(node.step, ast.Constant) and node.step.value is None)


def view_type(base: t.ArrayType, items: list[Item]) -> t.ArrayType:
    """The type of the view an index makes: rank, and a layout no stronger than proved.

    A C array stays C when the axes it keeps are its last ones, all of them whole but
    the first, which may be a range with step 1 (``m[2:5]``, ``m[i, :]``, ``t[i, 1:3]``);
    F mirrors it; new axes (length 1) never break contiguity."""
    ndim = sum(i.kind != "int" for i in items)
    kept = [i for i in items if i.kind == "slice"]
    axes = [i.axis for i in kept]
    layout = "A"
    if base.layout in "CF" and kept:
        order = kept if base.layout == "C" else kept[::-1]
        outer, inner = order[0], order[1:]
        if base.layout == "C":
            edge = axes == list(range(base.ndim - len(kept), base.ndim))
        else:
            edge = axes == list(range(len(kept)))
        if edge and _unit_step(outer.node) and all(_full(i.node) for i in inner):
            layout = base.layout
    elif base.layout in "CF":
        layout = "C"  # only new axes (and integers): every axis has length 1
    if ndim <= 1 and layout == "F":
        layout = "C"
    return t.ArrayType(base.dtype, ndim, layout)
