"""NumPy's ufuncs element by element, with NumPy's error rules: a table from name to emitter.

Operands arrive converted to the loop's input types (``toolchain.ufuncs``
picks the loop).  Integer division and remainder by zero give 0, float ones
inf or nan, shifts past the width give 0 (or -1): no exception, as in NumPy.
The one error NumPy raises from inside a loop is kept: an integer to a
negative integer power.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.toolchain.ufuncs import Loop

Element = Callable[[arith.Emitter, list[ir.Value], Loop], ir.Value]


def _kind(loop: Loop) -> str:
    return loop.inputs[0].kind


def _arith(int_op: str, float_op: str, bool_op: str | None = None) -> Element:
    def lower(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
        kind = _kind(loop)
        if kind == "f":
            return getattr(em.builder, float_op)(*args, flags=arith.flags(em))
        name = bool_op if kind == "b" and bool_op else int_op
        return getattr(em.builder, name)(*args)
    return lower


def _bitwise(op: str) -> Element:
    def lower(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
        return getattr(em.builder, op)(*args)
    return lower


def _divide(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    return em.builder.fdiv(*args, flags=arith.flags(em))


def _int_by_nonzero(want_mod: bool) -> Callable[[arith.Emitter, ir.Value, ir.Value, bool],
                                                ir.Value]:
    def lower(em: arith.Emitter, a: ir.Value, c: ir.Value, signed: bool) -> ir.Value:
        b = em.builder
        zero = ir.Constant(a.type, 0)
        is_zero = b.icmp_unsigned("==", c, zero)
        safe = b.select(is_zero, ir.Constant(a.type, 1), c)
        result = arith.int_floordiv_mod(em, a, safe, signed, want_mod)
        return b.select(is_zero, zero, result)
    return lower


def _floor_divide(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    a, c = args
    b = em.builder
    if _kind(loop) == "f":
        zero = b.fcmp_ordered("==", c, ir.Constant(c.type, 0.0))
        return b.select(zero, b.fdiv(a, c), arith.float_floordiv(em, a, c))
    return _int_by_nonzero(False)(em, a, c, _kind(loop) == "i")


def _remainder(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    a, c = args
    if _kind(loop) == "f":
        return arith.float_mod(em, a, c)  # nan for a zero divisor, as NumPy's fmod gives
    return _int_by_nonzero(True)(em, a, c, _kind(loop) == "i")


def _power(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    a, c = args
    if _kind(loop) == "f":
        return arith.float_pow(em, a, c, python_errors=False)
    b = em.builder
    ty = loop.inputs[0]
    if ty.is_signed:
        em.raise_if(b.icmp_signed("<", c, ir.Constant(c.type, 0)), "ValueError",
                    "Integers to negative integer powers are not allowed.")
    return b.call(em.helper("ipow", ty), [a, c])


def _shift(op: type) -> Element:
    def lower(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
        return arith.shift(em, op(), args[0], args[1], loop.inputs[0], python_errors=False)
    return lower


def _compare(op: type) -> Element:
    def lower(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
        return arith.compare(em, op(), args[0], loop.inputs[0], args[1], loop.inputs[1])
    return lower


def _negative(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    return arith.negate(em, args[0], loop.inputs[0])


def _positive(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    return args[0]


def _invert(em: arith.Emitter, args: list[ir.Value], loop: Loop) -> ir.Value:
    return em.builder.not_(args[0])


ELEMENTS: dict[str, Element] = {
    "add": _arith("add", "fadd", "or_"),
    "subtract": _arith("sub", "fsub"),
    "multiply": _arith("mul", "fmul", "and_"),
    "true_divide": _divide,
    "floor_divide": _floor_divide,
    "remainder": _remainder,
    "power": _power,
    "left_shift": _shift(ast.LShift),
    "right_shift": _shift(ast.RShift),
    "bitwise_and": _bitwise("and_"),
    "bitwise_or": _bitwise("or_"),
    "bitwise_xor": _bitwise("xor"),
    "less": _compare(ast.Lt),
    "less_equal": _compare(ast.LtE),
    "greater": _compare(ast.Gt),
    "greater_equal": _compare(ast.GtE),
    "equal": _compare(ast.Eq),
    "not_equal": _compare(ast.NotEq),
    "negative": _negative,
    "positive": _positive,
    "invert": _invert,
    "logical_and": _bitwise("and_"),
    "logical_or": _bitwise("or_"),
    "logical_xor": _bitwise("xor"),
    "logical_not": _invert,
}


def apply(em: arith.Emitter, ufunc: str, loop: Loop, args: list[ir.Value],
          arg_types: list[t.Type]) -> ir.Value:
    """``ufunc`` on one element of each operand (of the given types), in its loop's types;
    the result has the loop's output type."""
    converted = [arith.cast(em, v, at, want)
                 for v, at, want in zip(args, arg_types, loop.inputs, strict=True)]
    return ELEMENTS[ufunc](em, converted, loop)


def where(em: arith.Emitter, cond: ir.Value, cty: t.Type, x: ir.Value, xty: t.Type,
          y: ir.Value, yty: t.Type, out: t.ScalarType) -> ir.Value:
    """``np.where`` of one element."""
    return em.builder.select(arith.truth(em, cond, cty), arith.cast(em, x, xty, out),
                             arith.cast(em, y, yty, out))

