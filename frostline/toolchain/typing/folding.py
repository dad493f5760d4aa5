"""Constant expressions: operators on literals, evaluated exactly, as CPython does.

``x * 10**19`` multiplies by the exact integer 10**19 in CPython; compiled as
int64 arithmetic it would wrap.  So an expression made only of number
literals (and module globals holding Python numbers, which are weak like
literals) and the arithmetic, bitwise and unary operators is evaluated here,
with Python's own arithmetic, and its value becomes one constant in the code.
Its type is still given by the ordinary rules; an integer value that does not
fit int64 is a CompileError, as a lone literal of that size is.

What Python would raise for (a zero divisor, a negative shift count, an int to
a negative int power, a float power that overflows or goes complex) is not
folded: the operation stays in the code and raises at run time, as documented.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from frostline.stages.ast import Constant, FunctionAST
from frostline.toolchain.typing.rules import dotted_name

#: Folded integers larger than this many bits are not computed: they cannot fit int64,
#: and ``10 ** 10 ** 10`` must not take the compiler's memory.
_MAX_BITS = 4096

_BINARY: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
_UNARY: dict[type, Callable[[object], object]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}


class TooLarge(Exception):
    """An integer constant expression whose value is far outside int64."""


def is_number(value: object) -> bool:
    return type(value) in (int, float, bool)


def fold(fn: FunctionAST, node: ast.expr) -> tuple[object] | None:
    """``(value,)`` of a constant expression, or None when ``node`` is not one (or Python
    would raise evaluating it).  ``TooLarge`` for an integer beyond ``_MAX_BITS``."""
    if isinstance(node, ast.Constant):
        return (node.value,) if is_number(node.value) else None
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted_name(node)
        if name is None or name.split(".")[0] in fn.local_names:
            return None
        ref = fn.lookup(name)
        return (ref.value,) if isinstance(ref, Constant) and is_number(ref.value) else None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = fold(fn, node.operand)
        if operand is None:
            return None
        return _checked(lambda: _UNARY[type(node.op)](operand[0]))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = fold(fn, node.left)
        right = fold(fn, node.right) if left is not None else None
        if left is None or right is None:
            return None
        a, b = left[0], right[0]
        if isinstance(node.op, ast.Pow) and type(a) in (int, bool) and type(b) in (int, bool) \
                and b < 0:  # type: ignore[operator]
            return None  # a ValueError in kernels (their ints have one type)
        if _too_large(node.op, a, b):
            raise TooLarge
        return _checked(lambda: _BINARY[type(node.op)](a, b))
    return None


def _too_large(op: ast.operator, a: object, b: object) -> bool:
    """Whether an integer power or left shift would exceed ``_MAX_BITS``."""
    if type(a) not in (int, bool) or type(b) not in (int, bool) or abs(a) <= 1:  # type: ignore
        return False
    if isinstance(op, ast.Pow):
        return b * a.bit_length() > _MAX_BITS  # type: ignore[union-attr,operator]
    if isinstance(op, ast.LShift):
        return b + a.bit_length() > _MAX_BITS  # type: ignore[union-attr,operator]
    return False


def _checked(compute: Callable[[], object]) -> tuple[object] | None:
    try:
        value = compute()
    except (ArithmeticError, ValueError, TypeError):
        return None  # raised at run time (or a type error in typing), as in Python
    if not is_number(value):
        return None  # (-8.0) ** 0.5 is complex in Python: a ValueError in kernels
    if type(value) is int and value.bit_length() > _MAX_BITS:
        raise TooLarge
    return (value,)
