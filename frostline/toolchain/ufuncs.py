"""The element operations of array expressions: NumPy's ufuncs, and NumPy as their type oracle.

An operator with an array operand (``a + 1``, ``a < b``, ``~m``) is the ufunc
NumPy would call (``np.add``, ``np.less``, ``np.invert``), and so are its
spellings (``np.add(a, b)``).  Its loop (the dtypes the operands are converted
to, and the result dtype) is whatever ``ufunc.resolve_dtypes`` says, so array
code promotes exactly as NumPy 2 does (NEP 50: a Python scalar takes the
array's type).  The element operation itself follows NumPy's error rules: a
zero divisor gives inf, nan or 0, never an exception.

Typing and code generation both call ``loop_types``; the table of what each
ufunc does element-wise is ``backends.llvm.ufuncs``.
"""

from __future__ import annotations

import ast
import functools

import attrs
import numpy as np

from frostline import types as t

#: The ufunc of each operator applied to arrays.
BINARY_OPERATORS: dict[type, str] = {
    ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide",
    ast.FloorDiv: "floor_divide", ast.Mod: "remainder", ast.Pow: "power",
    ast.LShift: "left_shift", ast.RShift: "right_shift", ast.BitAnd: "bitwise_and",
    ast.BitOr: "bitwise_or", ast.BitXor: "bitwise_xor",
}
COMPARISONS: dict[type, str] = {
    ast.Lt: "less", ast.LtE: "less_equal", ast.Gt: "greater", ast.GtE: "greater_equal",
    ast.Eq: "equal", ast.NotEq: "not_equal",
}
UNARY_OPERATORS: dict[type, str] = {
    ast.USub: "negative", ast.UAdd: "positive", ast.Invert: "invert",
}

#: NumPy names of those ufuncs (``np.divide`` is ``np.true_divide``), with their arity.
UFUNCS: dict[str, int] = {
    **{name: 2 for name in BINARY_OPERATORS.values()},
    **{name: 2 for name in COMPARISONS.values()},
    **{name: 1 for name in UNARY_OPERATORS.values()},
    "logical_and": 2, "logical_or": 2, "logical_xor": 2, "logical_not": 1,
}
ALIASES: dict[str, str] = {
    "divide": "true_divide", "mod": "remainder", "bitwise_not": "invert",
    "bitwise_invert": "invert", "bitwise_left_shift": "left_shift",
    "bitwise_right_shift": "right_shift", "pow": "power",
}


def ufunc_of(qualified: str) -> str | None:
    """The ufunc a NumPy function name stands for (``numpy.divide``: ``true_divide``)."""
    if not qualified.startswith("numpy."):
        return None
    short = qualified[len("numpy."):]
    short = ALIASES.get(short, short)
    return short if short in UFUNCS else None


@attrs.frozen
class Loop:
    """A ufunc loop: the types its operands are converted to, and its result type."""

    inputs: tuple[t.ScalarType, ...]
    output: t.ScalarType


def _operand(ty: t.Type) -> object:
    if isinstance(ty, t.WeakType):
        return float if ty.kind == "f" else int
    assert isinstance(ty, t.ScalarType)
    return ty.numpy_dtype


@functools.cache
def numpy_refuses(function: str, operands: tuple[t.Type, ...]) -> str | None:
    """NumPy's TypeError message when its ufunc ``function`` has no loop for operands of
    these element types (``np.sign`` of bools), else None."""
    func = getattr(np, function, None)
    if not isinstance(func, np.ufunc):
        return None
    try:
        func.resolve_dtypes(tuple(_operand(o) for o in operands) + (None,) * func.nout)
    except TypeError as exc:
        return str(exc)
    return None


@functools.cache
def loop_types(ufunc: str, operands: tuple[t.Type, ...]) -> Loop | str:
    """The loop NumPy picks for ``ufunc`` on operands of these element types (weak
    types for Python scalars), or NumPy's error message when it has none."""
    func = getattr(np, ufunc)
    if ufunc.startswith("logical_"):
        return Loop(tuple(t.bool_ for _ in operands), t.bool_)
    try:
        dtypes = func.resolve_dtypes(tuple(_operand(o) for o in operands) + (None,))
    except TypeError as exc:
        return str(exc)
    types = [t.scalar_from_dtype(d) for d in dtypes]
    if any(x is None for x in types):
        return f"np.{ufunc} of {', '.join(map(str, operands))} computes in " \
               f"{dtypes[-1]}, which kernels do not have"
    return Loop(tuple(types[:-1]), types[-1])  # type: ignore[arg-type]
