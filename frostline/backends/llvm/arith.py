"""Numeric operations with Python's semantics, emitted with an IRBuilder.

Floor division and modulo round toward minus infinity, ``/`` is true
division, division by zero raises, shifts by out-of-range counts behave as
on Python integers of the type's width.  Each function takes a ``Emitter``:
the builder, plus a way to raise a Python exception from the current point.
"""

from __future__ import annotations

import ast
import math
from typing import Protocol

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm import pymath


class Emitter(Protocol):
    """What the operations need from the function being lowered."""

    builder: ir.IRBuilder
    fastmath: bool

    def raise_if(self, cond: ir.Value, exc: str, message: str) -> None:
        """Branch to raising ``exc(message)`` when cond is true; continue otherwise."""

    def extern(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        """An external function or intrinsic declared in the module."""

    def helper(self, name: str, ty: t.ScalarType) -> ir.Function:
        """A shared helper function (integer power, gcd) of the module."""


def flags(em: Emitter) -> tuple[str, ...]:
    """Float instruction flags: with fastmath, reassociation, contraction (FMA) and
    reciprocals (``x / 9.0`` as ``x * (1 / 9.0)``) only.

    Not LLVM's full 'fast': nnan/ninf would let it fold away isnan() and inf tests.
    """
    return ("reassoc", "contract", "arcp") if em.fastmath else ()


def const(ty: t.Type, value: object) -> ir.Constant:
    """A constant of a scalar type."""
    llty = lt.scalar(ty)  # type: ignore[arg-type]
    if isinstance(llty, ir.IntType) and isinstance(value, float):
        value = int(value)
    if llty == lt.i1:
        value = int(bool(value))
    elif isinstance(llty, ir.IntType):
        # Two's complement in the type's width: -(2**63) arrives as the literal 2**63.
        value = (int(value) + (1 << (llty.width - 1))) % (1 << llty.width) - (
            1 << (llty.width - 1))
    return ir.Constant(llty, value)


def cast(em: Emitter, val: ir.Value, src: t.Type, dst: t.Type) -> ir.Value:
    """Convert a value with NumPy's unsafe casting (float to int saturates)."""
    b = em.builder
    if src == dst:
        return val
    if isinstance(src, t.TupleType) and isinstance(dst, t.TupleType):
        out = ir.Constant(lt.value(dst), ir.Undefined)
        for i, (s, d) in enumerate(zip(src.items, dst.items, strict=True)):
            out = b.insert_value(out, cast(em, b.extract_value(val, i), s, d), i)
        return out
    if isinstance(src, t.ArrayType) or isinstance(dst, t.ArrayType):
        return val  # layouts differ only in what the code may assume; the struct is the same
    src_c, dst_c = t.concrete(src), t.concrete(dst)
    assert isinstance(src_c, t.ScalarType) and isinstance(dst_c, t.ScalarType), (src, dst)
    if src_c == dst_c:
        return val
    to = lt.scalar(dst_c)
    if dst_c.is_bool:
        return truth(em, val, src_c)
    if src_c.is_bool:
        return b.uitofp(val, to) if dst_c.is_float else b.zext(val, to)
    if src_c.is_int and dst_c.is_int:
        if dst_c.bits > src_c.bits:
            return b.sext(val, to) if src_c.is_signed else b.zext(val, to)
        if dst_c.bits < src_c.bits:
            return b.trunc(val, to)
        return val
    if src_c.is_int and dst_c.is_float:
        return b.sitofp(val, to) if src_c.is_signed else b.uitofp(val, to)
    if src_c.is_float and dst_c.is_float:
        return b.fpext(val, to) if dst_c.bits > src_c.bits else b.fptrunc(val, to)
    suffix = f"i{dst_c.bits}.f{src_c.bits}"
    name = f"llvm.fpto{'s' if dst_c.is_signed else 'u'}i.sat.{suffix}"
    return b.call(em.extern(name, to, [val.type]), [val])


def truth(em: Emitter, val: ir.Value, ty: t.Type) -> ir.Value:
    """Python truthiness of a scalar (nan is true) or tuple (true unless empty)."""
    b = em.builder
    if isinstance(ty, t.TupleType):
        return ir.Constant(lt.i1, int(bool(ty.items)))
    ty = t.concrete(ty)
    assert isinstance(ty, t.ScalarType)
    if ty.is_bool:
        return val
    if ty.is_float:
        return b.fcmp_unordered("!=", val, ir.Constant(val.type, 0.0))
    return b.icmp_unsigned("!=", val, ir.Constant(val.type, 0))


def _signed(ty: t.Type) -> bool:
    return t.concrete(ty).kind == "i"  # type: ignore[union-attr]


def binop(em: Emitter, op: ast.operator, lhs: ir.Value, lty: t.Type, rhs: ir.Value,
          rty: t.Type, result: t.Type) -> ir.Value:
    """``lhs op rhs`` computed in the promoted type ``result``."""
    if isinstance(op, (ast.LShift, ast.RShift)):
        return shift(em, op, cast(em, lhs, lty, result), cast(em, rhs, rty, result), result)
    if isinstance(op, ast.Div):
        lc, rc = t.concrete(lty), t.concrete(rty)
        both_int = lc.kind in "biu" and rc.kind in "biu"  # type: ignore[union-attr]
        if both_int and max(lc.bits, rc.bits) == 64:  # type: ignore[union-attr]
            return _int64_truediv(em, lhs, lc, rhs, rc)  # type: ignore[arg-type]
        work: t.Type = result
        a, c = cast(em, lhs, lty, work), cast(em, rhs, rty, work)
        zero = ir.Constant(a.type, 0.0)
        em.raise_if(em.builder.fcmp_ordered("==", c, zero), "ZeroDivisionError",
                    "division by zero" if both_int else "float division by zero")
        # Integers narrower than 64 bits convert exactly, so one fdiv rounds correctly.
        return em.builder.fdiv(a, c, flags=flags(em))
    a, c = cast(em, lhs, lty, result), cast(em, rhs, rty, result)
    kind = t.concrete(result).kind  # type: ignore[union-attr]
    b = em.builder
    if kind == "f":
        return _float_binop(em, op, a, c)
    if isinstance(op, ast.Add):
        return b.add(a, c)
    if isinstance(op, ast.Sub):
        return b.sub(a, c)
    if isinstance(op, ast.Mult):
        return b.mul(a, c)
    if isinstance(op, ast.BitAnd):
        return b.and_(a, c)
    if isinstance(op, ast.BitOr):
        return b.or_(a, c)
    if isinstance(op, ast.BitXor):
        return b.xor(a, c)
    if isinstance(op, (ast.FloorDiv, ast.Mod)):
        return int_floordiv_mod(em, a, c, _signed(result), isinstance(op, ast.Mod))
    if isinstance(op, ast.Pow):
        em.raise_if(b.icmp_signed("<", c, ir.Constant(c.type, 0)) if _signed(result)
                    else ir.Constant(lt.i1, 0), "ValueError",
                    "Integers to negative integer powers are not allowed.")
        return b.call(em.helper("ipow", t.concrete(result)), [a, c])  # type: ignore[arg-type]
    raise AssertionError(op)


def _int64_truediv(em: Emitter, lhs: ir.Value, lty: t.ScalarType, rhs: ir.Value,
                   rty: t.ScalarType) -> ir.Value:
    """``int / int`` with a 64-bit operand: CPython's correctly rounded quotient."""
    def widen(v: ir.Value, ty: t.ScalarType) -> tuple[ir.Value, bool]:
        if ty.bits == 64:
            return v, ty.is_signed
        return (em.builder.sext(v, lt.i64) if ty.is_signed else em.builder.zext(v, lt.i64)), \
            ty.is_signed
    (a, a_signed), (c, c_signed) = widen(lhs, lty), widen(rhs, rty)
    em.raise_if(em.builder.icmp_unsigned("==", c, ir.Constant(lt.i64, 0)), "ZeroDivisionError",
                "division by zero")
    return pymath.int_truediv(em, a, a_signed, c, c_signed, flags(em))


def int_floordiv_mod(em: Emitter, a: ir.Value, c: ir.Value, signed: bool,
                     want_mod: bool) -> ir.Value:
    """Python's ``a // c`` or ``a % c`` on fixed-width integers."""
    b = em.builder
    zero = ir.Constant(a.type, 0)
    em.raise_if(b.icmp_unsigned("==", c, zero), "ZeroDivisionError",
                "integer modulo by zero" if want_mod else "integer division or modulo by zero")
    if not signed:
        return b.urem(a, c) if want_mod else b.udiv(a, c)
    minus_one = b.icmp_signed("==", c, ir.Constant(a.type, -1))
    safe = b.select(minus_one, ir.Constant(a.type, 1), c)  # INT_MIN / -1 overflows sdiv
    q = b.sdiv(a, safe)
    q = b.select(minus_one, b.sub(zero, a), q)
    r = b.srem(a, safe)
    adjust = b.and_(b.icmp_signed("!=", r, zero),
                    b.icmp_signed("<", b.xor(r, c), zero))
    if want_mod:
        return b.select(adjust, b.add(r, c), r)
    return b.select(adjust, b.sub(q, ir.Constant(a.type, 1)), q)


def _float_binop(em: Emitter, op: ast.operator, a: ir.Value, c: ir.Value) -> ir.Value:
    b = em.builder
    fl = flags(em)
    if isinstance(op, ast.Add):
        return b.fadd(a, c, flags=fl)
    if isinstance(op, ast.Sub):
        return b.fsub(a, c, flags=fl)
    if isinstance(op, ast.Mult):
        return b.fmul(a, c, flags=fl)
    if isinstance(op, ast.FloorDiv):
        em.raise_if(b.fcmp_ordered("==", c, ir.Constant(c.type, 0.0)), "ZeroDivisionError",
                    "float floor division by zero")
        return float_floordiv(em, a, c)
    if isinstance(op, ast.Mod):
        em.raise_if(b.fcmp_ordered("==", c, ir.Constant(c.type, 0.0)), "ZeroDivisionError",
                    "float modulo")
        return float_mod(em, a, c)
    if isinstance(op, ast.Pow):
        return float_pow(em, a, c, python_errors=True)
    raise AssertionError(op)


def _copysign(em: Emitter, mag: ir.Value, sign: ir.Value) -> ir.Value:
    fn = em.extern(f"llvm.copysign.f{_bits(mag.type)}", mag.type, [mag.type, mag.type])
    return em.builder.call(fn, [mag, sign])


def float_mod(em: Emitter, a: ir.Value, c: ir.Value) -> ir.Value:
    """CPython's float ``%``: the result takes the divisor's sign."""
    b = em.builder
    zero = ir.Constant(a.type, 0.0)
    mod = b.frem(a, c)
    nonzero = b.fcmp_unordered("!=", mod, zero)
    differ = b.xor(b.fcmp_ordered("<", c, zero), b.fcmp_ordered("<", mod, zero))
    adjusted = b.select(differ, b.fadd(mod, c), mod)
    return b.select(nonzero, adjusted, _copysign(em, zero, c))


def float_floordiv(em: Emitter, a: ir.Value, c: ir.Value) -> ir.Value:
    """CPython's float ``//`` (float_divmod's quotient)."""
    b = em.builder
    zero = ir.Constant(a.type, 0.0)
    one = ir.Constant(a.type, 1.0)
    mod = b.frem(a, c)
    div = b.fdiv(b.fsub(a, mod), c)
    nonzero = b.fcmp_unordered("!=", mod, zero)
    differ = b.xor(b.fcmp_ordered("<", c, zero), b.fcmp_ordered("<", mod, zero))
    div = b.select(b.and_(nonzero, differ), b.fsub(div, one), div)
    floor_fn = em.extern(f"llvm.floor.f{_bits(a.type)}", a.type, [a.type])
    floordiv = b.call(floor_fn, [div])
    floordiv = b.select(b.fcmp_ordered(">", b.fsub(div, floordiv), ir.Constant(a.type, 0.5)),
                        b.fadd(floordiv, one), floordiv)
    div_nonzero = b.fcmp_unordered("!=", div, zero)
    return b.select(div_nonzero, floordiv, _copysign(em, zero, b.fdiv(a, c)))


def _bits(ty: ir.Type) -> int:
    return 32 if ty == lt.f32 else 64


def float_pow(em: Emitter, a: ir.Value, c: ir.Value, python_errors: bool) -> ir.Value:
    """``a ** c`` on floats; with python_errors, Python's ZeroDivision/Value/OverflowError."""
    b = em.builder
    zero = ir.Constant(a.type, 0.0)
    if python_errors:
        # CPython settles infinite exponents first: 0.0 ** -inf is inf, not an error.
        finite_c = b.fcmp_ordered("<", b.call(_fabs(em, c), [c]),
                                  ir.Constant(a.type, math.inf))
        em.raise_if(b.and_(finite_c, b.and_(b.fcmp_ordered("==", a, zero),
                                            b.fcmp_ordered("<", c, zero))),
                    "ZeroDivisionError", "0.0 cannot be raised to a negative power")
        floor_fn = em.extern(f"llvm.floor.f{_bits(a.type)}", a.type, [a.type])
        fractional = b.fcmp_ordered("!=", b.call(floor_fn, [c]), c)
        finite_a = b.fcmp_ordered("<", b.call(_fabs(em, a), [a]),
                                  ir.Constant(a.type, math.inf))
        em.raise_if(b.and_(b.and_(b.fcmp_ordered("<", a, zero), fractional),
                           b.and_(finite_a, finite_c)),
                    "ValueError", "negative number cannot be raised to a fractional power "
                    "(the result would be complex)")
    if em.fastmath:
        pow_fn = em.extern(f"llvm.pow.f{_bits(a.type)}", a.type, [a.type, a.type])
        result = b.call(pow_fn, [a, c])
    else:
        # The C library's pow, as CPython and NumPy call it: LLVM would turn pow(8.0, x)
        # into exp2(3.0 * x) and x ** 0.5 into sqrt, 1 ulp off CPython on many inputs.
        result = pymath.libm_call(em, "pow", [a, c])
    if python_errors:
        result = pow_exact_ones(em, a, c, result)
        inf = ir.Constant(a.type, math.inf)
        finite_in = b.and_(b.fcmp_ordered("<", b.call(_fabs(em, a), [a]), inf),
                           b.fcmp_ordered("<", b.call(_fabs(em, c), [c]), inf))
        em.raise_if(b.and_(finite_in, b.fcmp_ordered("==", b.call(_fabs(em, result), [result]),
                                                     inf)),
                    "OverflowError", "(34, 'Numerical result out of range')")
    return result


def pow_exact_ones(em: Emitter, a: ir.Value, c: ir.Value, result: ir.Value) -> ir.Value:
    """1.0 for ``x ** 0.0`` and ``1.0 ** y``, which CPython answers before calling pow.

    The C library's pow agrees except for a signalling nan, where it returns nan.
    """
    b = em.builder
    one = ir.Constant(a.type, 1.0)
    exact = b.or_(b.fcmp_ordered("==", a, one), b.fcmp_ordered("==", c, ir.Constant(c.type, 0.0)))
    return b.select(exact, one, result)


def _fabs(em: Emitter, v: ir.Value) -> ir.Function:
    return em.extern(f"llvm.fabs.f{_bits(v.type)}", v.type, [v.type])


def shift(em: Emitter, op: ast.operator, a: ir.Value, c: ir.Value, ty: t.Type,
          python_errors: bool = True) -> ir.Value:
    """``a << c`` / ``a >> c`` as on Python ints, truncated to the type's width; without
    python_errors, a negative count shifts everything out, as in NumPy."""
    b = em.builder
    width = a.type.width
    signed = _signed(ty)
    if signed and python_errors:
        em.raise_if(b.icmp_signed("<", c, ir.Constant(c.type, 0)), "ValueError",
                    "negative shift count")
    big = b.icmp_unsigned(">=", c, ir.Constant(c.type, width))
    safe = b.select(big, ir.Constant(c.type, 0), c)
    if isinstance(op, ast.LShift):
        return b.select(big, ir.Constant(a.type, 0), b.shl(a, safe))
    if signed:
        return b.select(big, b.ashr(a, ir.Constant(a.type, width - 1)), b.ashr(a, safe))
    return b.select(big, ir.Constant(a.type, 0), b.lshr(a, safe))


_PREDICATES = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
               ast.NotEq: "!="}


def compare(em: Emitter, op: ast.cmpop, lhs: ir.Value, lty: t.Type, rhs: ir.Value,
            rty: t.Type) -> ir.Value:
    """A comparison in the promoted type of its operands; nan compares unequal."""
    b = em.builder
    pred = _PREDICATES[type(op)]
    lc, rc = t.concrete(lty), t.concrete(rty)
    if {lc.kind, rc.kind} == {"i", "u"} and t.promote(lc, rc) == t.float64:  # type: ignore
        return _mixed_sign_compare(em, pred, lhs, lc, rhs, rc)  # type: ignore[arg-type]
    work = t.promote(lty, rty)  # type: ignore[arg-type]
    a, c = cast(em, lhs, lty, work), cast(em, rhs, rty, work)
    kind = t.concrete(work).kind  # type: ignore[union-attr]
    if kind == "f":
        if pred == "!=":
            return b.fcmp_unordered(pred, a, c)
        return b.fcmp_ordered(pred, a, c)
    if kind == "i":
        return b.icmp_signed(pred, a, c)
    return b.icmp_unsigned(pred, a, c)


def _mixed_sign_compare(em: Emitter, pred: str, lhs: ir.Value, lty: t.ScalarType,
                        rhs: ir.Value, rty: t.ScalarType) -> ir.Value:
    """int64 against uint64 compared exactly, as NumPy 2 does (not through float64)."""
    b = em.builder
    a, c = cast(em, lhs, lty, t.uint64 if lty.kind == "u" else t.int64), \
        cast(em, rhs, rty, t.uint64 if rty.kind == "u" else t.int64)
    signed_left = lty.kind == "i"
    negative = b.icmp_signed("<", a if signed_left else c, ir.Constant(lt.i64, 0))
    unsigned = b.icmp_unsigned(pred, a, c)
    # A negative signed side is below every unsigned value.
    below = {"<": True, "<=": True, ">": False, ">=": False, "==": False, "!=": True}[pred]
    if not signed_left:
        below = {"<": False, "<=": False, ">": True, ">=": True, "==": False,
                 "!=": True}[pred]
    return b.select(negative, ir.Constant(lt.i1, int(below)), unsigned)


def negate(em: Emitter, val: ir.Value, ty: t.Type) -> ir.Value:
    if t.concrete(ty).kind == "f":  # type: ignore[union-attr]
        return em.builder.fneg(val)
    return em.builder.sub(ir.Constant(val.type, 0), val)


def emit_ipow(module: ir.Module, name: str, ty: ir.IntType) -> ir.Function:
    """``ipow(base, exp)`` by squaring, for exp >= 0, wrapping on overflow."""
    fn = ir.Function(module, ir.FunctionType(ty, [ty, ty]), name=name)
    fn.linkage = "internal"
    base, exp = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    acc = b.phi(ty)
    cur = b.phi(ty)
    e = b.phi(ty)
    acc.add_incoming(ir.Constant(ty, 1), entry)
    cur.add_incoming(base, entry)
    e.add_incoming(exp, entry)
    odd = b.trunc(e, lt.i1)
    acc2 = b.select(odd, b.mul(acc, cur), acc)
    e2 = b.lshr(e, ir.Constant(ty, 1))
    cur2 = b.mul(cur, cur)
    acc.add_incoming(acc2, loop)
    cur.add_incoming(cur2, loop)
    e.add_incoming(e2, loop)
    b.cbranch(b.icmp_unsigned("==", e2, ir.Constant(ty, 0)), done, loop)
    b.position_at_end(done)
    result = b.phi(ty)
    result.add_incoming(acc2, loop)
    b.ret(result)
    return fn


def emit_gcd(module: ir.Module, name: str, ty: ir.IntType) -> ir.Function:
    """Euclid's gcd of |a| and |b|, as ``math.gcd``."""
    fn = ir.Function(module, ir.FunctionType(ty, [ty, ty]), name=name)
    fn.linkage = "internal"
    a0, b0 = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    zero = ir.Constant(ty, 0)

    def absval(v: ir.Value) -> ir.Value:
        return b.select(b.icmp_signed("<", v, zero), b.sub(zero, v), v)

    x0, y0 = absval(a0), absval(b0)
    b.cbranch(b.icmp_unsigned("==", y0, zero), done, loop)
    b.position_at_end(loop)
    x = b.phi(ty)
    y = b.phi(ty)
    x.add_incoming(x0, entry)
    y.add_incoming(y0, entry)
    r = b.urem(x, y)
    x.add_incoming(y, loop)
    y.add_incoming(r, loop)
    b.cbranch(b.icmp_unsigned("==", r, zero), done, loop)
    b.position_at_end(done)
    result = b.phi(ty)
    result.add_incoming(x0, entry)
    result.add_incoming(y, loop)
    b.ret(result)
    return fn
