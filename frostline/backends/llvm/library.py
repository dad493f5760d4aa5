"""Calls of builtin, ``math`` and NumPy functions: a table from name to emitter.

Arguments arrive already converted to the work type (float64, float32 or
the promoted integer type); ``math`` functions then apply Python's error
checks, NumPy functions return nan/inf as NumPy does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith, pymath
from frostline.backends.llvm import irtypes as lt
from frostline.toolchain.library import LIBRARY, LibraryFunction

#: Functions that are exact (correctly rounded): LLVM intrinsics, which it may vectorise.
_EXACT = {
    "sqrt": "sqrt", "fabs": "fabs", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
    "rint": "rint", "copysign": "copysign", "absolute": "fabs", "abs": "fabs",
}
#: The C library's name of each function that rounds: called as CPython and NumPy call it.
_LIBM = {
    "exp": "exp", "exp2": "exp2", "log": "log", "log2": "log2", "log10": "log10",
    "sin": "sin", "cos": "cos", "pow": "pow", "power": "pow",
    "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "atan2": "atan2",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh", "acosh": "acosh",
    "atanh": "atanh", "log1p": "log1p", "expm1": "expm1", "erf": "erf", "erfc": "erfc",
    "hypot": "hypot", "fmod": "fmod", "cbrt": "cbrt",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
}
#: Of those, the ones LLVM has intrinsics for: used with fastmath, where the last bit may go.
_FAST_INTRINSICS = frozenset({"exp", "exp2", "log", "log2", "log10", "sin", "cos", "pow"})


def _float_call(em: arith.Emitter, short: str, args: list[ir.Value]) -> ir.Value:
    """``short(*args)`` on float32 or float64 arguments.

    Without fastmath every rounding function is a ``nobuiltin`` call of the C library:
    LLVM would otherwise rewrite some (pow(2.0, x) into exp2(x)) or fold them.
    """
    ty = args[0].type
    bits = 32 if ty == lt.f32 else 64
    name = _EXACT.get(short) or _LIBM[short]
    if short in _EXACT or (em.fastmath and name in _FAST_INTRINSICS):
        fn = em.extern(f"llvm.{name}.f{bits}", ty, [ty] * len(args))
        return em.builder.call(fn, args)
    return pymath.libm_call(em, name, args)


def _is_nan(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return b.fcmp_unordered("uno", v, v)


def _is_inf(em: arith.Emitter, v: ir.Value) -> ir.Value:
    fabs = em.extern(f"llvm.fabs.f{32 if v.type == lt.f32 else 64}", v.type, [v.type])
    return em.builder.fcmp_ordered("==", em.builder.call(fabs, [v]),
                                   ir.Constant(v.type, math.inf))


def _is_finite(em: arith.Emitter, v: ir.Value) -> ir.Value:
    fabs = em.extern(f"llvm.fabs.f{32 if v.type == lt.f32 else 64}", v.type, [v.type])
    return em.builder.fcmp_ordered("<", em.builder.call(fabs, [v]),
                                   ir.Constant(v.type, math.inf))


def python_math_checks(em: arith.Emitter, spec: LibraryFunction, args: list[ir.Value],
                       result: ir.Value) -> None:
    """CPython's math-module errors: nan from non-nan input, inf from finite input."""
    b = em.builder
    if spec.check == "gamma":
        x = args[0]
        floor_fn = em.extern("llvm.floor.f64", lt.f64, [lt.f64])
        # -inf is not an integer: gamma(-inf) is nan (ValueError below), lgamma(-inf) inf.
        nonpos_int = b.and_(b.fcmp_ordered("<=", x, ir.Constant(lt.f64, 0.0)),
                            b.fcmp_ordered("==", b.call(floor_fn, [x]), x))
        em.raise_if(b.and_(nonpos_int, _is_finite(em, x)), "ValueError", "math domain error")
    any_nan = ir.Constant(lt.i1, 0)
    all_finite = ir.Constant(lt.i1, 1)
    for a in args:
        any_nan = b.or_(any_nan, _is_nan(b, a))
        all_finite = b.and_(all_finite, _is_finite(em, a))
    em.raise_if(b.and_(_is_nan(b, result), b.not_(any_nan)), "ValueError", "math domain error")
    overflow = spec.check in ("overflow", "gamma")
    em.raise_if(b.and_(_is_inf(em, result), all_finite),
                "OverflowError" if overflow else "ValueError",
                "math range error" if overflow else "math domain error")


def float_to_int(em: arith.Emitter, v: ir.Value) -> ir.Value:
    """Python's ``int(float)``: nan is ValueError, inf and out of int64 range OverflowError."""
    b = em.builder
    em.raise_if(_is_nan(b, v), "ValueError", "cannot convert float NaN to integer")
    em.raise_if(_is_inf(em, v), "OverflowError", "cannot convert float infinity to integer")
    wide = v if v.type == lt.f64 else b.fpext(v, lt.f64)
    out_of_range = b.or_(b.fcmp_ordered(">=", wide, ir.Constant(lt.f64, 2.0 ** 63)),
                         b.fcmp_ordered("<", wide, ir.Constant(lt.f64, -(2.0 ** 63))))
    em.raise_if(out_of_range, "OverflowError", "int too large to convert to int64")
    return b.fptosi(wide, lt.i64)


Lowering = Callable[[arith.Emitter, list[ir.Value], t.ScalarType], ir.Value]


def _minmax(pick_right: str) -> Lowering:
    """Python's min/max: the first of equal elements wins, nan order as in CPython."""
    def lower(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
        b = em.builder
        acc = args[0]
        for nxt in args[1:]:
            if ty.is_float:
                better = b.fcmp_ordered(pick_right, nxt, acc)
            elif ty.is_signed:
                better = b.icmp_signed(pick_right, nxt, acc)
            else:
                better = b.icmp_unsigned(pick_right, nxt, acc)
            acc = b.select(better, nxt, acc)
        return acc
    return lower


def _np_minmax(kind: str) -> Lowering:
    """np.maximum/minimum (nan wins) and np.fmax/fmin (nan loses), with NumPy's zero ties.

    On ties (0.0 against -0.0) NumPy's scalar loops return the second argument, except
    float64 fmax/fmin, which return the first; when both are nan, fmax/fmin return the
    second on float64 and the first on float32.  (Measured on NumPy 2.4 with AVX-512.)
    """
    def lower(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
        b = em.builder
        x, y = args
        if ty.is_float:
            return b.select(_np_pick_first(b, kind, x, y, ty.bits), x, y)
        less = b.icmp_signed("<", x, y) if ty.is_signed else b.icmp_unsigned("<", x, y)
        return b.select(less, x, y) if kind in ("minimum", "fmin") else b.select(less, y, x)
    return lower


def _np_pick_first(b: ir.IRBuilder, kind: str, x: ir.Value, y: ir.Value, bits: int) -> ir.Value:
    """Whether NumPy's ``kind(x, y)`` returns x (see _np_minmax)."""
    strict = ">" if kind in ("maximum", "fmax") else "<"
    if kind in ("maximum", "minimum"):
        return b.or_(b.fcmp_ordered(strict, x, y), _is_nan(b, x))
    if bits == 64:
        # x unless x is nan; x on ties and against a nan y
        return b.and_(b.fcmp_ordered("ord", x, x), b.fcmp_unordered(strict + "=", x, y))
    return b.or_(b.fcmp_ordered(strict, x, y), _is_nan(b, y))


def _abs(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
    b = em.builder
    x = args[0]
    if ty.is_float:
        return _float_call(em, "fabs", [x])
    if not ty.is_signed or ty.is_bool:
        return x
    zero = ir.Constant(x.type, 0)
    return b.select(b.icmp_signed("<", x, zero), b.sub(zero, x), x)


def _sign(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
    b = em.builder
    x = args[0]
    if ty.is_float:
        zero, one = ir.Constant(x.type, 0.0), ir.Constant(x.type, 1.0)
        pos = b.select(b.fcmp_ordered(">", x, zero), one, zero)
        sign = b.select(b.fcmp_ordered("<", x, zero), ir.Constant(x.type, -1.0), pos)
        return b.select(_is_nan(b, x), x, sign)
    zero = ir.Constant(x.type, 0)
    pos = b.zext(b.icmp_signed(">", x, zero) if ty.is_signed else b.icmp_unsigned(">", x, zero),
                 x.type)
    neg = b.zext(b.icmp_signed("<", x, zero), x.type) if ty.is_signed else zero
    return b.sub(pos, neg)


def _square(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
    x = args[0]
    return em.builder.fmul(x, x, flags=arith.flags(em)) if ty.is_float else em.builder.mul(x, x)


def _np_power(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
    if ty.is_float:
        return arith.float_pow(em, args[0], args[1], python_errors=False)
    b = em.builder
    if ty.is_signed:
        em.raise_if(b.icmp_signed("<", args[1], ir.Constant(args[1].type, 0)), "ValueError",
                    "Integers to negative integer powers are not allowed.")
    return b.call(em.helper("ipow", ty), args)


def _scaled(factor: float, factor32: float | None = None) -> Lowering:
    """``x * factor``; ``factor32`` for float32, where NumPy's constant is computed
    in float32 (its rad2deg multiplies by ``180.0f / (float)pi``, not ``(float)(180 / pi)``)."""
    def lower(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
        single = factor32 is not None and args[0].type == lt.f32
        return em.builder.fmul(args[0], ir.Constant(args[0].type,
                                                    factor32 if single else factor))
    return lower


#: NumPy's float32 degrees-per-radian: 180.0f / (float)pi, rounded in float32.
_DEGREES32 = float(np.float32(180.0) / np.float32(math.pi))


def _classify(test: str) -> Lowering:
    def lower(em: arith.Emitter, args: list[ir.Value], ty: t.ScalarType) -> ir.Value:
        x = args[0]
        if not ty.is_float:
            return ir.Constant(lt.i1, int(test == "isfinite"))
        if test == "isnan":
            return _is_nan(em.builder, x)
        return _is_inf(em, x) if test == "isinf" else _is_finite(em, x)
    return lower


SPECIAL: dict[str, Lowering] = {
    "builtins.min": _minmax("<"),
    "builtins.max": _minmax(">"),
    "builtins.abs": _abs,
    "numpy.abs": _abs,
    "numpy.absolute": _abs,
    "numpy.fabs": _abs,
    "numpy.sign": _sign,
    "numpy.square": _square,
    "numpy.power": _np_power,
    "numpy.minimum": _np_minmax("minimum"),
    "numpy.maximum": _np_minmax("maximum"),
    "numpy.fmin": _np_minmax("fmin"),
    "numpy.fmax": _np_minmax("fmax"),
    "math.degrees": _scaled(180.0 / math.pi),
    "math.radians": _scaled(math.pi / 180.0),
    "numpy.degrees": _scaled(180.0 / math.pi, _DEGREES32),
    "numpy.radians": _scaled(math.pi / 180.0),
    "numpy.rad2deg": _scaled(180.0 / math.pi, _DEGREES32),
    "numpy.deg2rad": _scaled(math.pi / 180.0),
    "math.isnan": _classify("isnan"),
    "math.isinf": _classify("isinf"),
    "math.isfinite": _classify("isfinite"),
    "numpy.isnan": _classify("isnan"),
    "numpy.isinf": _classify("isinf"),
    "numpy.isfinite": _classify("isfinite"),
}


def work_type(name: str, arg_types: list[t.Type], result: t.Type) -> t.ScalarType:
    """The type the arguments are converted to before the call."""
    spec = LIBRARY[name]
    if spec.result in ("same", "ufunc", "rounding"):
        return t.concrete(result)  # type: ignore[return-value]
    if spec.result == "bool" or spec.check == "toint":
        # Classification and rounding keep integers as they are.
        if all(t.concrete(a).kind != "f" for a in arg_types):  # type: ignore[union-attr]
            return t.int64
        return t.concrete(arg_types[0])  # type: ignore[return-value]
    if name == "math.gcd":
        return t.int64
    return t.float64


def lower_call(em: arith.Emitter, name: str, args: list[ir.Value], work: t.ScalarType,
               result: t.Type) -> ir.Value:
    """Emit a library call on arguments already converted to ``work``."""
    spec = LIBRARY[name]
    b = em.builder
    short = name.split(".")[1]
    if name in SPECIAL:
        return SPECIAL[name](em, args, work)
    if spec.result == "rounding" and not work.is_float:
        return args[0]  # np.floor of an integer is that integer
    if name == "math.gcd":
        return b.call(em.helper("gcd", t.int64), args)
    if name in ("math.floor", "math.ceil", "math.trunc", "builtins.round"):
        if not work.is_float:
            return args[0]
        op = {"math.floor": "floor", "math.ceil": "ceil", "math.trunc": "trunc",
              "builtins.round": "rint"}[name]
        return float_to_int(em, _float_call(em, op, args))
    if name == "math.ldexp":
        ldexp = em.extern("ldexp", lt.f64, [lt.f64, lt.i32])
        exp = b.select(b.icmp_signed(">", args[1], ir.Constant(lt.i64, 1 << 20)),
                       ir.Constant(lt.i64, 1 << 20), args[1])
        exp = b.select(b.icmp_signed("<", exp, ir.Constant(lt.i64, -(1 << 20))),
                       ir.Constant(lt.i64, -(1 << 20)), exp)
        x = b.sitofp(args[0], lt.f64) if args[0].type != lt.f64 else args[0]
        value = b.call(ldexp, [x, b.trunc(exp, lt.i32)])
        python_math_checks(em, spec, [x], value)
        return value
    if name == "math.log" and len(args) == 2:
        one = LibraryFunction("math.log", 1, 1, "float", "domain")
        num = _float_call(em, "log", [args[0]])
        python_math_checks(em, one, [args[0]], num)
        den = _float_call(em, "log", [args[1]])
        python_math_checks(em, one, [args[1]], den)
        em.raise_if(b.fcmp_ordered("==", den, ir.Constant(lt.f64, 0.0)), "ZeroDivisionError",
                    "float division by zero")
        return b.fdiv(num, den)
    if name == "math.hypot":
        return pymath.hypot(em, args)  # CPython's vector_norm, not the C library's hypot
    if name in ("math.gamma", "math.lgamma"):
        value = (pymath.gamma if name == "math.gamma" else pymath.lgamma)(em, args[0])
        python_math_checks(em, spec, args, value)
        return value
    if name == "math.pow":
        zero = ir.Constant(lt.f64, 0.0)
        zero_to_negative = b.and_(b.fcmp_ordered("==", args[0], zero),
                                  b.fcmp_ordered("<", args[1], zero))
        em.raise_if(b.and_(zero_to_negative, _is_finite(em, args[1])), "ValueError",
                    "math domain error")
    value = _float_call(em, short, args)
    if name == "math.pow":
        value = arith.pow_exact_ones(em, args[0], args[1], value)
    if spec.check and name.startswith("math."):
        python_math_checks(em, spec, args, value)
    return value
