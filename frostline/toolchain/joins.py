"""Joins and re-arrangements of arrays: ``np.concatenate``, ``np.stack``, ``np.flip``,
``np.triu``, ``np.tril``: their arguments, typed in ``typing.arrays`` and lowered in
``backends.llvm.joins``."""

from __future__ import annotations

import ast

from frostline.stages.ast import constant_index
from frostline.toolchain.reductions import reduced_axes

#: Each function's parameters, in NumPy's order.
JOINS: dict[str, tuple[str, ...]] = {
    "numpy.concatenate": ("arrays", "axis"),
    "numpy.stack": ("arrays", "axis"),
    "numpy.flip": ("m", "axis"),
    "numpy.triu": ("m", "k"),
    "numpy.tril": ("m", "k"),
}


def argument(node: ast.Call, name: str, position: int) -> ast.expr | None:
    if len(node.args) > position:
        return node.args[position]
    return next((k.value for k in node.keywords if k.arg == name), None)


def axis_of(node: ast.Call, ndim: int) -> int:
    """The (normalised) axis of a join whose result has ``ndim`` axes; 0 by default."""
    given = argument(node, "axis", 1)
    k = 0 if given is None else constant_index(given)
    assert k is not None
    return k % ndim


def flip_axes(node: ast.Call, ndim: int) -> tuple[int, ...]:
    axes = reduced_axes(argument(node, "axis", 1), ndim)
    assert not isinstance(axes, str)
    return tuple(range(ndim)) if axes is None else axes
