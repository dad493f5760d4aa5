"""CPython's own numeric algorithms, emitted in IR so that results equal CPython's bit for bit.

CPython 3.11 does not take ``math.gamma``, ``math.lgamma`` and ``math.hypot`` from the C
library: ``Modules/mathmodule.c`` has its own ``m_tgamma``, ``m_lgamma`` (a Lanczos
approximation) and ``vector_norm``.  ``int / int`` is the correctly rounded quotient of
the exact rational, not the quotient of two rounded doubles.  Each algorithm here is an
internal function of the module, emitted on first use (``fl.gamma``, ``fl.hypot.3``, ...),
with the same operations in the same order as the C code; without fast-math flags LLVM
keeps every rounding step as written.

The C library functions these algorithms call go through ``libm_call``: a plain call with
the ``nobuiltin`` attribute, so that LLVM neither folds it nor rewrites it into another
function (``pow(8.0, x)`` into ``exp2(3.0 * x)``) whose last bit may differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from llvmlite import ir

from frostline.backends.llvm import irtypes as lt

_INF = math.inf
_NAN = math.nan


class Emitter(Protocol):
    """What these emitters need: a builder and the module's external declarations.

    ``arith.Emitter`` (the function being lowered) is one; so is a helper's body.
    """

    builder: ir.IRBuilder

    def extern(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        """An external function or intrinsic declared in the module."""


def libm_call(em: Emitter, name: str, args: list[ir.Value]) -> ir.Value:
    """Call the C library's ``name`` (``namef`` on float32) exactly as C code would.

    ``nobuiltin`` keeps LLVM from treating the call as the known library function: no
    constant folding with another implementation, no rewriting into other functions.  It
    goes on the declaration (valid there, and llvmlite takes no such call-site attribute),
    so every call of the function in the module is plain.
    """
    ty = args[0].type
    fn = em.extern(name + ("f" if ty == lt.f32 else ""), ty, [a.type for a in args])
    fn.attributes.add("nobuiltin")
    return em.builder.call(fn, args)


def _intrinsic(em: Emitter, name: str, args: list[ir.Value]) -> ir.Value:
    ty = args[0].type
    bits = 32 if ty == lt.f32 else 64
    return em.builder.call(em.extern(f"llvm.{name}.f{bits}", ty, [ty] * len(args)), args)


def _f64(value: float) -> ir.Constant:
    return ir.Constant(lt.f64, value)


class _Body:
    """An emitter for the body of a helper function: its own builder, the module's externs."""

    def __init__(self, em: Emitter, fn: ir.Function):
        self._em = em
        self.builder = ir.IRBuilder(fn.append_basic_block("entry"))

    def extern(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        return self._em.extern(name, ret, args)

    def return_if(self, cond: ir.Value, value: Callable[[], ir.Value]) -> None:
        """Return ``value()`` (emitted only on that path) when cond holds; continue otherwise."""
        b = self.builder
        done = b.function.append_basic_block("return")
        rest = b.function.append_basic_block("next")
        b.cbranch(cond, done, rest)
        b.position_at_end(done)
        b.ret(value())
        b.position_at_end(rest)

    def branch(self, cond: ir.Value, then: Callable[[], ir.Value],
               otherwise: Callable[[], ir.Value]) -> ir.Value:
        """``then() if cond else otherwise()``, each side emitted in its own block."""
        return branch(self.builder, cond, then, otherwise)


def _helper(em: Emitter, name: str, ret: ir.Type, args: list[ir.Type],
            emit: Callable[[_Body, list[ir.Argument]], None]) -> ir.Function:
    """The module's internal function ``name``, emitted by ``emit`` the first time."""
    module = em.builder.module
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
    fn.linkage = "internal"
    emit(_Body(em, fn), list(fn.args))
    return fn


def _is_nan(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return b.fcmp_unordered("uno", v, v)


# --- gamma and lgamma: m_tgamma, m_lgamma, m_sinpi and lanczos_sum of mathmodule.c -------

_PI = 3.141592653589793238462643383279502884197
_LOGPI = 1.144729885849400174143427351353058711647
_LANCZOS_G = 6.024680040776729583740234375
_LANCZOS_G_MINUS_HALF = 5.524680040776729583740234375
#: Numerator and denominator of the Lanczos sum as a rational function, constant term first.
_LANCZOS_NUM = (
    23531376880.410759688572007674451636754734846804940,
    42919803642.649098768957899047001988850926355848959,
    35711959237.355668049440185451547166705960488635843,
    17921034426.037209699919755754458931112671403265390,
    6039542586.3520280050642916443072979210699388420708,
    1439720407.3117216736632230727949123939715485786772,
    248874557.86205415651146038641322942321632125127801,
    31426415.585400194380614231628318205362874684987640,
    2876370.6289353724412254090516208496135991145378768,
    186056.26539522349504029498971604569928220784236328,
    8071.6720023658162106380029022722506138218516325024,
    210.82427775157934587250973392071336271166969580291,
    2.5066282746310002701649081771338373386264310793408,
)
_LANCZOS_DEN = (0.0, 39916800.0, 120543840.0, 150917976.0, 105258076.0, 45995730.0,
                13339535.0, 2637558.0, 357423.0, 32670.0, 1925.0, 66.0, 1.0)
#: gamma(1) ... gamma(23), exact: CPython returns these for integer arguments.
_GAMMA_INTEGRAL = tuple(float(math.factorial(k)) for k in range(23))


def _sinpi(em: Emitter) -> ir.Function:
    """``m_sinpi``: sin(pi*x) reduced exactly to a quarter period first, for finite x."""
    def emit(body: _Body, args: list[ir.Argument]) -> None:
        b = body.builder
        x, = args
        y = b.frem(_intrinsic(body, "fabs", [x]), _f64(2.0))  # fmod: exact
        n = b.fptosi(_intrinsic(body, "round", [b.fmul(_f64(2.0), y)]), lt.i32)
        fn = b.function
        merge = fn.append_basic_block("merge")
        quarters = [fn.append_basic_block(f"quarter{k}") for k in range(5)]
        switch = b.switch(n, quarters[4])
        for k in range(4):
            switch.add_case(ir.Constant(lt.i32, k), quarters[k])
        cases = [
            lambda: libm_call(body, "sin", [b.fmul(_f64(_PI), y)]),
            lambda: libm_call(body, "cos", [b.fmul(_f64(_PI), b.fsub(y, _f64(0.5)))]),
            # not -sin(pi*(y-1)): that gives -0.0 instead of 0.0 at y == 1
            lambda: libm_call(body, "sin", [b.fmul(_f64(_PI), b.fsub(_f64(1.0), y))]),
            lambda: b.fneg(libm_call(body, "cos", [b.fmul(_f64(_PI), b.fsub(y, _f64(1.5)))])),
            lambda: libm_call(body, "sin", [b.fmul(_f64(_PI), b.fsub(y, _f64(2.0)))]),
        ]
        values = []
        for block, case in zip(quarters, cases, strict=True):
            b.position_at_end(block)
            values.append((case(), b.block))
            b.branch(merge)
        b.position_at_end(merge)
        r = b.phi(lt.f64)
        for value, block in values:
            r.add_incoming(value, block)
        b.ret(b.fmul(_intrinsic(body, "copysign", [_f64(1.0), x]), r))
    return _helper(em, "fl.sinpi", lt.f64, [lt.f64], emit)


def _lanczos_sum(em: Emitter) -> ir.Function:
    """``lanczos_sum``: Horner in x below 5, in 1/x above (to avoid overflow), for x > 0."""
    def emit(body: _Body, args: list[ir.Argument]) -> None:
        b = body.builder
        x, = args

        def horner(step: Callable[[ir.Value, ir.Value], ir.Value],
                   order: range) -> ir.Value:
            num = den = _f64(0.0)
            for i in order:
                num = b.fadd(step(num, x), _f64(_LANCZOS_NUM[i]))
                den = b.fadd(step(den, x), _f64(_LANCZOS_DEN[i]))
            return b.fdiv(num, den)

        b.ret(body.branch(b.fcmp_ordered("<", x, _f64(5.0)),
                          lambda: horner(b.fmul, range(12, -1, -1)),
                          lambda: horner(b.fdiv, range(13))))
    return _helper(em, "fl.lanczos_sum", lt.f64, [lt.f64], emit)


def gamma(em: Emitter, x: ir.Value) -> ir.Value:
    """CPython's ``m_tgamma(x)``; the caller raises where CPython sets errno.

    Zero gives +-inf and negative integers and -inf give nan (ValueError in CPython);
    an infinite result from a finite nonzero x is an overflow (OverflowError).
    """
    def emit(body: _Body, args: list[ir.Argument]) -> None:
        b = body.builder
        x, = args
        absx = _intrinsic(body, "fabs", [x])
        body.return_if(b.fcmp_unordered("==", absx, _f64(_INF)),
                       lambda: b.select(b.fcmp_unordered(">", x, _f64(0.0)), x, _f64(_NAN)))
        body.return_if(b.fcmp_ordered("==", x, _f64(0.0)),
                       lambda: _intrinsic(body, "copysign", [_f64(_INF), x]))
        integral = b.fcmp_ordered("==", x, _intrinsic(body, "floor", [x]))
        body.return_if(b.and_(integral, b.fcmp_ordered("<", x, _f64(0.0))), lambda: _f64(_NAN))
        body.return_if(b.and_(integral, b.fcmp_ordered("<=", x, _f64(23.0))),
                       lambda: _gamma_integral(em, b, x))
        body.return_if(b.fcmp_ordered("<", absx, _f64(1e-20)), lambda: b.fdiv(_f64(1.0), x))
        negative = b.fcmp_ordered("<", x, _f64(0.0))

        def huge() -> ir.Value:
            # Underflows to +-0.0 below -200, overflows above 200.
            return body.branch(negative,
                               lambda: b.fdiv(_f64(0.0), b.call(_sinpi(em), [x])),
                               lambda: _f64(_INF))

        body.return_if(b.fcmp_ordered(">", absx, _f64(200.0)), huge)
        y = b.fadd(absx, _f64(_LANCZOS_G_MINUS_HALF))
        # The rounding error of y, so that the result can be corrected for it.
        z = b.select(b.fcmp_ordered(">", absx, _f64(_LANCZOS_G_MINUS_HALF)),
                     b.fsub(b.fsub(y, absx), _f64(_LANCZOS_G_MINUS_HALF)),
                     b.fsub(b.fsub(y, _f64(_LANCZOS_G_MINUS_HALF)), absx))
        z = b.fdiv(b.fmul(z, _f64(_LANCZOS_G)), y)
        exp_y = libm_call(body, "exp", [y])
        lsum = b.call(_lanczos_sum(em), [absx])

        def reflected() -> ir.Value:
            s = b.call(_sinpi(em), [absx])
            r = b.fdiv(b.fmul(b.fdiv(b.fdiv(_f64(-_PI), s), absx), exp_y), lsum)
            return b.fsub(r, b.fmul(z, r))

        def direct() -> ir.Value:
            r = b.fdiv(lsum, exp_y)
            return b.fadd(r, b.fmul(z, r))

        r = body.branch(negative, reflected, direct)
        # Above 140, pow(y, absx - 0.5) would overflow: two factors of its square root.
        big = b.fcmp_unordered(">=", absx, _f64(140.0))
        p = body.branch(big,
                        lambda: libm_call(body, "pow", [y, b.fsub(b.fdiv(absx, _f64(2.0)),
                                                                  _f64(0.25))]),
                        lambda: libm_call(body, "pow", [y, b.fsub(absx, _f64(0.5))]))
        once = b.select(negative, b.fdiv(r, p), b.fmul(r, p))
        twice = b.select(negative, b.fdiv(once, p), b.fmul(once, p))
        b.ret(b.select(big, twice, once))
    return em.builder.call(_helper(em, "fl.gamma", lt.f64, [lt.f64], emit), [x])


def _gamma_integral(em: Emitter, b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``gamma_integral[(int)x - 1]`` from a constant table of the module."""
    module = b.module
    name = "fl.gamma_integral"
    if name in module.globals:
        table = module.globals[name]
    else:
        init = ir.Constant(ir.ArrayType(lt.f64, len(_GAMMA_INTEGRAL)),
                           [_f64(v) for v in _GAMMA_INTEGRAL])
        table = ir.GlobalVariable(module, init.type, name=name)
        table.linkage = "internal"
        table.global_constant = True
        table.initializer = init
    index = b.sub(b.fptosi(x, lt.i32), ir.Constant(lt.i32, 1))
    return b.load(b.gep(table, [ir.Constant(lt.i32, 0), index], inbounds=True))


def lgamma(em: Emitter, x: ir.Value) -> ir.Value:
    """CPython's ``m_lgamma(x)``; the caller raises where CPython sets errno.

    Zero and negative integers give inf (ValueError in CPython); an infinite result from
    a finite x is an overflow (OverflowError); +-inf give inf without an error.
    """
    def emit(body: _Body, args: list[ir.Argument]) -> None:
        b = body.builder
        x, = args
        absx = _intrinsic(body, "fabs", [x])
        body.return_if(b.fcmp_unordered("==", absx, _f64(_INF)),
                       lambda: b.select(_is_nan(b, x), x, _f64(_INF)))
        integral = b.fcmp_ordered("==", x, _intrinsic(body, "floor", [x]))
        body.return_if(b.and_(integral, b.fcmp_ordered("<=", x, _f64(2.0))),
                       lambda: b.select(b.fcmp_ordered("<=", x, _f64(0.0)), _f64(_INF),
                                        _f64(0.0)))
        body.return_if(b.fcmp_ordered("<", absx, _f64(1e-20)),
                       lambda: b.fneg(libm_call(body, "log", [absx])))
        lsum = b.call(_lanczos_sum(em), [absx])
        r = b.fsub(libm_call(body, "log", [lsum]), _f64(_LANCZOS_G))
        shifted = b.fsub(b.fadd(absx, _f64(_LANCZOS_G)), _f64(0.5))
        log_shifted = b.fsub(libm_call(body, "log", [shifted]), _f64(1.0))
        r = b.fadd(r, b.fmul(b.fsub(absx, _f64(0.5)), log_shifted))

        def reflected() -> ir.Value:
            s = _intrinsic(body, "fabs", [b.call(_sinpi(em), [absx])])
            t = b.fsub(b.fsub(_f64(_LOGPI), libm_call(body, "log", [s])),
                       libm_call(body, "log", [absx]))
            return b.fsub(t, r)

        b.ret(body.branch(b.fcmp_ordered("<", x, _f64(0.0)), reflected, lambda: r))
    return em.builder.call(_helper(em, "fl.lgamma", lt.f64, [lt.f64], emit), [x])


# --- hypot: vector_norm of mathmodule.c ------------------------------------------------------

_T27 = 134217729.0  # 2**27 + 1: the Veltkamp split into two 26-bit halves


def _leading_zeros(em: Emitter, v: ir.Value) -> ir.Value:
    ctlz = em.extern("llvm.ctlz.i64", lt.i64, [lt.i64, lt.i1])
    return em.builder.call(ctlz, [v, ir.Constant(lt.i1, 0)])


def _frexp_exponent(em: Emitter, x: ir.Value) -> ir.Value:
    """The exponent ``frexp`` gives for a positive finite nonzero x: x = m * 2**e, 0.5 <= m < 1."""
    b = em.builder
    bits = b.bitcast(x, lt.i64)
    biased = b.lshr(bits, ir.Constant(lt.i64, 52))
    top = b.sub(ir.Constant(lt.i64, 63), _leading_zeros(em, bits))
    subnormal = b.icmp_unsigned("==", biased, ir.Constant(lt.i64, 0))
    return b.select(subnormal, b.sub(top, ir.Constant(lt.i64, 1073)),
                    b.sub(biased, ir.Constant(lt.i64, 1022)))


def _power_of_two(b: ir.IRBuilder, k: ir.Value) -> ir.Value:
    """``ldexp(1.0, k)`` for -1074 <= k <= 1023, exact (subnormal below -1022)."""
    normal = b.shl(b.add(k, ir.Constant(lt.i64, 1023)), ir.Constant(lt.i64, 52))
    tiny = b.shl(ir.Constant(lt.i64, 1), b.add(k, ir.Constant(lt.i64, 1074)))
    bits = b.select(b.icmp_signed(">=", k, ir.Constant(lt.i64, -1022)), normal, tiny)
    return b.bitcast(bits, lt.f64)


class _Neumaier:
    """The compensated sums of vector_norm: csum starts at 1.0 so |csum| >= every addend."""

    def __init__(self, b: ir.IRBuilder, accumulators: int):
        self.b = b
        self.csum: ir.Value = _f64(1.0)
        self.frac = [_f64(0.0)] * accumulators

    def add(self, k: int, x: ir.Value) -> None:
        b = self.b
        old = self.csum
        self.csum = b.fadd(old, x)
        self.frac[k] = b.fadd(self.frac[k], b.fadd(b.fsub(old, self.csum), x))

    def total(self) -> ir.Value:
        """``csum - 1.0 + (frac1 + frac2 + ...)``, added left to right as in C."""
        b = self.b
        fracs = self.frac[0]
        for f in self.frac[1:]:
            fracs = b.fadd(fracs, f)
        return b.fadd(b.fsub(self.csum, _f64(1.0)), fracs)


def _split(b: ir.IRBuilder, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    t = b.fmul(x, _f64(_T27))
    hi = b.fsub(t, b.fsub(t, x))
    return hi, b.fsub(x, hi)


def hypot(em: Emitter, args: list[ir.Value]) -> ir.Value:
    """CPython 3.11's ``math.hypot(*args)``: vector_norm of the absolute values."""
    n = len(args)

    def emit(body: _Body, params: list[ir.Argument]) -> None:
        b = body.builder
        vec = [_intrinsic(body, "fabs", [p]) for p in params]
        biggest: ir.Value = _f64(0.0)
        found_nan: ir.Value = ir.Constant(lt.i1, 0)
        for v in vec:
            biggest = b.select(b.fcmp_ordered(">", v, biggest), v, biggest)
            found_nan = b.or_(found_nan, _is_nan(b, v))
        body.return_if(b.fcmp_ordered("==", biggest, _f64(_INF)), lambda: biggest)
        body.return_if(found_nan, lambda: _f64(_NAN))
        if n <= 1:
            b.ret(biggest)
            return
        body.return_if(b.fcmp_ordered("==", biggest, _f64(0.0)), lambda: biggest)
        max_e = _frexp_exponent(body, biggest)
        body.return_if(b.icmp_signed("<", max_e, ir.Constant(lt.i64, -1023)),
                       lambda: _norm_of_tiny(body, vec, biggest))
        scale = _power_of_two(b, b.neg(max_e))
        acc = _Neumaier(b, 3)
        for v in vec:
            hi, lo = _split(b, b.fmul(v, scale))  # the scaling is exact
            acc.add(0, b.fmul(hi, hi))
            acc.add(1, b.fmul(b.fmul(_f64(2.0), hi), lo))
            acc.frac[2] = b.fadd(acc.frac[2], b.fmul(lo, lo))  # too small to move csum
        h = _intrinsic(body, "sqrt", [acc.total()])
        # Differential correction: one Newton step on h*h against the exact sum.
        hi, lo = _split(b, h)
        acc.add(0, b.fmul(b.fneg(hi), hi))
        acc.add(1, b.fmul(b.fmul(_f64(-2.0), hi), lo))
        acc.add(2, b.fmul(b.fneg(lo), lo))
        x = acc.total()
        b.ret(b.fdiv(b.fadd(h, b.fdiv(x, b.fmul(_f64(2.0), h))), scale))
    return em.builder.call(_helper(em, f"fl.hypot.{n}", lt.f64, [lt.f64] * n, emit), args)


def _norm_of_tiny(body: _Body, vec: list[ir.Value], biggest: ir.Value) -> ir.Value:
    """vector_norm's path for a subnormal max below 2**-1024: divide by max, no split."""
    b = body.builder
    acc = _Neumaier(b, 1)
    for v in vec:
        x = b.fdiv(v, biggest)
        acc.add(0, b.fmul(x, x))
    return b.fmul(biggest, _intrinsic(body, "sqrt", [acc.total()]))


# --- int / int: the correctly rounded quotient -----------------------------------------------

_TWO_53 = 2**53
_TWO_54 = 2**54


def int_truediv(em: Emitter, a: ir.Value, a_signed: bool, c: ir.Value, c_signed: bool,
                flags: tuple[str, ...]) -> ir.Value:
    """``a / c`` on 64-bit integers (c nonzero) as CPython rounds it: the exact quotient.

    When both magnitudes are at most 2**53 the operands convert to double exactly and one
    ``fdiv`` rounds correctly; otherwise ``fl.udiv_round`` divides the magnitudes.
    """
    b = em.builder
    zero = ir.Constant(lt.i64, 0)

    def magnitude(v: ir.Value, signed: bool) -> tuple[ir.Value, ir.Value]:
        if not signed:
            return v, ir.Constant(lt.i1, 0)
        negative = b.icmp_signed("<", v, zero)
        return b.select(negative, b.sub(zero, v), v), negative  # |INT64_MIN| is 2**63 unsigned

    na, a_negative = magnitude(a, a_signed)
    nc, c_negative = magnitude(c, c_signed)
    limit = ir.Constant(lt.i64, _TWO_53)
    exact = b.and_(b.icmp_unsigned("<=", na, limit), b.icmp_unsigned("<=", nc, limit))

    def convert(v: ir.Value, signed: bool) -> ir.Value:
        return b.sitofp(v, lt.f64) if signed else b.uitofp(v, lt.f64)

    def fast() -> ir.Value:
        return b.fdiv(convert(a, a_signed), convert(c, c_signed), flags=flags)

    def slow() -> ir.Value:
        q = b.call(_udiv_round(em), [na, nc])
        return b.select(b.xor(a_negative, c_negative), b.fneg(q), q)

    likely = b.call(em.extern("llvm.expect.i1", lt.i1, [lt.i1, lt.i1]),
                    [exact, ir.Constant(lt.i1, 1)])
    return branch(b, likely, fast, slow)


def branch(b: ir.IRBuilder, cond: ir.Value, then: Callable[[], ir.Value],
           otherwise: Callable[[], ir.Value]) -> ir.Value:
    """``then() if cond else otherwise()``, each side emitted in its own block."""
    with b.if_else(cond) as (on_true, on_false):
        with on_true:
            a = then()
            a_block = b.block
        with on_false:
            c = otherwise()
            c_block = b.block
    phi = b.phi(a.type)
    phi.add_incoming(a, a_block)
    phi.add_incoming(c, c_block)
    return phi


def _udiv_round(em: Emitter) -> ir.Function:
    """``fl.udiv_round(a, c)``: a / c of unsigned 64-bit integers, correctly rounded.

    64-bit integer arithmetic only (an i128 division or conversion would need compiler-rt,
    which is not there when the code is loaded).  Shift a up to 64 significant bits, take
    the integer quotient and extend it bit by bit (long division of the remainder) to at
    least 55 significant bits; a nonzero remainder is a sticky bit in the lowest place, so
    the one rounding of the integer-to-double conversion is the correct rounding of a / c.
    The final scaling by a power of two is exact.
    """
    def emit(body: _Body, args: list[ir.Argument]) -> None:
        b = body.builder
        a, c = args
        zero = ir.Constant(lt.i64, 0)
        one = ir.Constant(lt.i64, 1)
        body.return_if(b.icmp_unsigned("==", a, zero), lambda: _f64(0.0))
        shift = _leading_zeros(body, a)
        top = b.shl(a, shift)
        q0, r0 = b.udiv(top, c), b.urem(top, c)
        e0 = b.sub(zero, shift)
        enough = ir.Constant(lt.i64, _TWO_54)
        start = b.block
        loop = b.function.append_basic_block("bits")
        done = b.function.append_basic_block("round")
        b.cbranch(b.icmp_unsigned("<", q0, enough), loop, done)
        b.position_at_end(loop)
        q, r, e = b.phi(lt.i64), b.phi(lt.i64), b.phi(lt.i64)
        gap = b.sub(c, r)  # 2r >= c  <=>  r >= c - r, without overflowing 2r
        bit = b.icmp_unsigned(">=", r, gap)
        r1 = b.select(bit, b.sub(r, gap), b.add(r, r))
        q1 = b.or_(b.shl(q, one), b.zext(bit, lt.i64))
        e1 = b.sub(e, one)
        for phi, first, nxt in ((q, q0, q1), (r, r0, r1), (e, e0, e1)):
            phi.add_incoming(first, start)
            phi.add_incoming(nxt, loop)
        b.cbranch(b.icmp_unsigned("<", q1, enough), loop, done)
        b.position_at_end(done)
        qf, rf, ef = b.phi(lt.i64), b.phi(lt.i64), b.phi(lt.i64)
        for phi, first, last in ((qf, q0, q1), (rf, r0, r1), (ef, e0, e1)):
            phi.add_incoming(first, start)
            phi.add_incoming(last, loop)
        sticky = b.zext(b.icmp_unsigned("!=", rf, zero), lt.i64)
        mantissa = b.uitofp(b.or_(qf, sticky), lt.f64)
        b.ret(b.fmul(mantissa, _power_of_two(b, ef)))
    return _helper(em, "fl.udiv_round", lt.f64, [lt.i64, lt.i64], emit)
