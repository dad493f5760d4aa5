"""Property tests: scalar operators, builtins, casts and math functions vs CPython.

Each operator kernel is compiled once (cached) for a fixed signature; hypothesis
then calls the executable many times.  The reference is the same plain function
run by CPython on Python scalars (or an explicit NumPy expression where the spec
asks for NumPy semantics).  Integer inputs stay where int64 and Python ints
agree, or the expected value is wrapped to int64 explicitly (documented
fixed-width behaviour).
"""

import functools
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import frostline as fl

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
F32_MAX = float(np.finfo(np.float32).max)


def wrap64(value: int) -> int:
    return (value + 2**63) % 2**64 - 2**63


FAST = settings(max_examples=150, deadline=None)
MANY = settings(max_examples=300, deadline=None)

i64 = st.integers(I64_MIN, I64_MAX)
small_or_any_i64 = st.one_of(st.integers(-20, 20), i64)
i53 = st.integers(-(2**53), 2**53)
floats = st.floats(allow_nan=True, allow_infinity=True)
EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 5e-324, -5e-324, 2.2250738585072014e-308,
               1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, math.nan,
               1e16, 2.0**53 + 2, 3.0, -7.0]
edge_floats = st.sampled_from(EDGE_FLOATS)
any_float = st.one_of(edge_floats, floats)


@functools.cache
def exe(fn: Any, sig: str) -> Any:
    return fl.jit(fn).compile(sig)


# ---------------------------------------------------------------------------
# comparison helpers
# ---------------------------------------------------------------------------


def _outcome(fn: Any, *args: Any) -> tuple[Any, BaseException | None]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*args), None
    except Exception as exc:  # any exception is an outcome to compare
        return None, exc


def _kind(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, int | np.integer):
        return "int"
    if isinstance(v, float | np.floating):
        return "float"
    return type(v).__name__


def same_value(expected: Any, got: Any, *, zero_sign: bool = True, rtol: float = 0.0,
               loose_kind: bool = False) -> bool:
    ek, gk = _kind(expected), _kind(got)
    if ek != gk and not (loose_kind and {ek, gk} <= {"int", "float"}):
        return False
    if "float" in (ek, gk):
        e, g = float(expected), float(got)
        if math.isnan(e) or math.isnan(g):
            return math.isnan(e) and math.isnan(g)
        if rtol and math.isfinite(e) and e != 0.0:
            return math.isclose(g, e, rel_tol=rtol, abs_tol=0.0)
        if e != g:
            return False
        return not zero_sign or math.copysign(1.0, e) == math.copysign(1.0, g)
    return int(expected) == int(got)


def check(reference: Any, compiled: Any, *args: Any, **kw: Any) -> None:
    """compiled(*args) must do what reference(*args) does under CPython."""
    expected, exp_exc = _outcome(reference, *args)
    try:
        got, got_exc = compiled(*args), None
    except Exception as exc:  # noqa: BLE001
        got, got_exc = None, exc
    if exp_exc is not None:
        assert got_exc is not None, f"{args}: expected {exp_exc!r}, got {got!r}"
        assert type(got_exc) is type(exp_exc), f"{args}: expected {exp_exc!r}, got {got_exc!r}"
        if str(exp_exc) == "math domain error":
            assert str(got_exc) == "math domain error", f"{args}: message {str(got_exc)!r}"
        return
    assert got_exc is None, f"{args}: expected {expected!r}, frostline raised {got_exc!r}"
    assert same_value(expected, got, **kw), f"{args}: expected {expected!r}, got {got!r}"


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------


def k_add(a, b):
    return a + b


def k_sub(a, b):
    return a - b


def k_mul(a, b):
    return a * b


def k_truediv(a, b):
    return a / b


def k_floordiv(a, b):
    return a // b


def k_mod(a, b):
    return a % b


def k_pow(a, b):
    return a ** b


def k_neg(a):
    return -a


def k_pos(a):
    return +a


def k_invert(a):
    return ~a


def k_not(a):
    return not a


def k_lt(a, b):
    return a < b


def k_le(a, b):
    return a <= b


def k_eq(a, b):
    return a == b


def k_ne(a, b):
    return a != b


def k_gt(a, b):
    return a > b


def k_ge(a, b):
    return a >= b


def k_chain(a, b, c):
    return a < b <= c


def k_chain_ne(a, b, c):
    return a != b == c


def k_and(a, b):
    return a and b


def k_or(a, b):
    return a or b


def k_bitand(a, b):
    return a & b


def k_bitor(a, b):
    return a | b


def k_bitxor(a, b):
    return a ^ b


def k_lshift(a, b):
    return a << b


def k_rshift(a, b):
    return a >> b


def k_abs(a):
    return abs(a)


def k_min2(a, b):
    return min(a, b)


def k_max2(a, b):
    return max(a, b)


def k_min3(a, b, c):
    return min(a, b, c)


def k_max3(a, b, c):
    return max(a, b, c)


def k_int(x):
    return int(x)


def k_float(x):
    return float(x)


def k_bool(x):
    return bool(x)


def k_np_float32(x):
    return np.float32(x)


def k_np_float64(x):
    return np.float64(x)


def k_np_int8(x):
    return np.int8(x)


def k_np_int16(x):
    return np.int16(x)


def k_np_int32(x):
    return np.int32(x)


def k_np_int64(x):
    return np.int64(x)


def k_np_uint8(x):
    return np.uint8(x)


def k_np_uint16(x):
    return np.uint16(x)


def k_np_uint32(x):
    return np.uint32(x)


def k_f32_add(x, y):
    return np.float32(x) + np.float32(y)


def k_f32_mul(x, y):
    return np.float32(x) * np.float32(y)


def k_f32_div(x, y):
    return np.float32(x) / np.float32(y)


def k_f32_literal(x):
    # NEP 50: a Python literal does not widen a float32 operand
    return np.float32(x) * 3.0 + 1


# ---------------------------------------------------------------------------
# integer arithmetic (int64; wrap-around asserted explicitly)
# ---------------------------------------------------------------------------


@MANY
@given(i64, i64)
@example(I64_MAX, 1)
@example(I64_MIN, -1)
def test_int_add_sub_wrap(a: int, b: int) -> None:
    check(lambda x, y: wrap64(x + y), exe(k_add, "int64, int64"), a, b)
    check(lambda x, y: wrap64(x - y), exe(k_sub, "int64, int64"), a, b)


@MANY
@given(i64, i64)
@example(2**32, 2**32)
@example(I64_MIN, -1)
def test_int_mul_wrap(a: int, b: int) -> None:
    check(lambda x, y: wrap64(x * y), exe(k_mul, "int64, int64"), a, b)


@MANY
@given(st.integers(-(2**31), 2**31), st.integers(-(2**31), 2**31))
def test_int_add_sub_mul_in_range(a: int, b: int) -> None:
    check(k_add, exe(k_add, "int64, int64"), a, b)
    check(k_sub, exe(k_sub, "int64, int64"), a, b)
    check(k_mul, exe(k_mul, "int64, int64"), a, b)


@MANY
@given(small_or_any_i64, small_or_any_i64)
@example(7, 0)
@example(-7, 2)
@example(7, -2)
@example(-7, -2)
@example(I64_MIN, 1)
@example(I64_MAX, -1)
def test_int_floordiv_mod(a: int, b: int) -> None:
    assume(not (a == I64_MIN and b == -1))  # 2**63 is out of range (and a CPU trap)
    check(k_floordiv, exe(k_floordiv, "int64, int64"), a, b)
    check(k_mod, exe(k_mod, "int64, int64"), a, b)


@MANY
@given(st.one_of(st.integers(-20, 20), i53), st.one_of(st.integers(-20, 20), i53))
@example(1, 0)
@example(0, 0)
@example(-7, 2)
def test_int_truediv(a: int, b: int) -> None:
    check(k_truediv, exe(k_truediv, "int64, int64"), a, b)


@MANY
@given(st.integers(-12, 12), st.integers(0, 17))
def test_int_pow_in_range(a: int, b: int) -> None:
    check(k_pow, exe(k_pow, "int64, int64"), a, b)


@FAST
@given(st.integers(-1000, 1000), st.integers(0, 200))
def test_int_pow_wraps(a: int, b: int) -> None:
    check(lambda x, y: wrap64(x ** y), exe(k_pow, "int64, int64"), a, b)


@FAST
@given(st.integers(-100, 100), st.integers(-64, -1))
def test_int_pow_negative_exponent_raises_value_error(a: int, b: int) -> None:
    # documented deliberate difference (NumPy's rule): CPython would return a float
    with pytest.raises(ValueError):
        exe(k_pow, "int64, int64")(a, b)


@MANY
@given(i64)
@example(I64_MIN)
@example(0)
def test_int_unary(a: int) -> None:
    check(lambda x: wrap64(-x), exe(k_neg, "int64"), a)
    check(k_pos, exe(k_pos, "int64"), a)
    check(k_invert, exe(k_invert, "int64"), a)
    check(k_not, exe(k_not, "int64"), a)
    check(lambda x: wrap64(abs(x)), exe(k_abs, "int64"), a)


# ---------------------------------------------------------------------------
# float arithmetic (Python semantics, incl. sign of zero, NaN, inf, ZeroDivisionError)
# ---------------------------------------------------------------------------


@MANY
@given(any_float, any_float)
def test_float_add_sub_mul_div(x: float, y: float) -> None:
    check(k_add, exe(k_add, "float64, float64"), x, y)
    check(k_sub, exe(k_sub, "float64, float64"), x, y)
    check(k_mul, exe(k_mul, "float64, float64"), x, y)
    check(k_truediv, exe(k_truediv, "float64, float64"), x, y)


@MANY
@given(any_float, any_float)
@example(-0.0, 5.0)
@example(5.0, -5.0)
@example(-1.0, math.inf)
@example(1.0, -math.inf)
@example(math.inf, 1.0)
@example(7.5, 0.0)
@example(1e300, 1e-300)
def test_float_floordiv_mod(x: float, y: float) -> None:
    check(k_floordiv, exe(k_floordiv, "float64, float64"), x, y)
    check(k_mod, exe(k_mod, "float64, float64"), x, y)


def _float_pow_outcome_is_real(x: float, y: float) -> bool:
    try:
        return not isinstance(x ** y, complex)
    except (ZeroDivisionError, OverflowError):
        return True


@MANY
@given(any_float, st.one_of(st.integers(-5, 5).map(float), any_float))
@example(0.0, -1.0)
@example(-0.0, -3.0)
@example(math.nan, 0.0)
@example(1.0, math.nan)
@example(-1.0, math.inf)
@example(-8.0, 3.0)
def test_float_pow(x: float, y: float) -> None:
    assume(_float_pow_outcome_is_real(x, y))  # CPython returns complex for (-x) ** 0.5
    try:
        x ** y
    except OverflowError:
        assume(False)  # covered by test_float_pow_overflow_raises
    except ZeroDivisionError:
        pass  # 0.0 ** negative: frostline must raise it too
    check(k_pow, exe(k_pow, "float64, float64"), x, y)


def test_float_pow_overflow_raises() -> None:
    # CPython: float ** float that overflows raises OverflowError
    f = exe(k_pow, "float64, float64")
    for x, y in [(10.0, 400.0), (2.0, 1024.0), (-10.0, 401.0)]:
        with pytest.raises(OverflowError):
            x ** y
        with pytest.raises(OverflowError):
            f(x, y)


@MANY
@given(any_float)
def test_float_unary(x: float) -> None:
    check(k_neg, exe(k_neg, "float64"), x)
    check(k_pos, exe(k_pos, "float64"), x)
    check(k_not, exe(k_not, "float64"), x)
    check(k_abs, exe(k_abs, "float64"), x)


# ---------------------------------------------------------------------------
# mixed int64 / float64 arithmetic
# ---------------------------------------------------------------------------


@MANY
@given(st.one_of(st.integers(-10, 10), i53), any_float)
def test_mixed_int_float_arith(n: int, x: float) -> None:
    for k in (k_add, k_sub, k_mul, k_truediv, k_floordiv, k_mod):
        check(k, exe(k, "int64, float64"), n, x)
        check(k, exe(k, "float64, int64"), x, n)


@FAST
@given(st.integers(0, 60), st.floats(-3.0, 3.0))
def test_mixed_pow(n: int, x: float) -> None:
    assume(abs(x) >= 1e-3)
    check(k_pow, exe(k_pow, "float64, int64"), x, n)
    check(k_pow, exe(k_pow, "float64, int64"), x, -n)
    check(k_pow, exe(k_pow, "int64, float64"), n, abs(x))


# ---------------------------------------------------------------------------
# comparisons and boolean operators
# ---------------------------------------------------------------------------

_CMP = (k_lt, k_le, k_eq, k_ne, k_gt, k_ge)


@MANY
@given(small_or_any_i64, small_or_any_i64)
def test_int_comparisons(a: int, b: int) -> None:
    for k in _CMP:
        check(k, exe(k, "int64, int64"), a, b)


@MANY
@given(any_float, any_float)
@example(math.nan, math.nan)
@example(0.0, -0.0)
def test_float_comparisons(x: float, y: float) -> None:
    for k in _CMP:
        check(k, exe(k, "float64, float64"), x, y)


@MANY
@given(st.one_of(st.integers(-10, 10), i53), any_float)
@example(2**53, 2.0**53)
@example(1, 1.0)
def test_mixed_comparisons(n: int, x: float) -> None:
    for k in _CMP:
        check(k, exe(k, "int64, float64"), n, x)
        check(k, exe(k, "float64, int64"), x, n)


@MANY
@given(any_float, any_float, any_float)
def test_chained_comparisons(x: float, y: float, z: float) -> None:
    check(k_chain, exe(k_chain, "float64, float64, float64"), x, y, z)
    check(k_chain_ne, exe(k_chain_ne, "float64, float64, float64"), x, y, z)


@MANY
@given(st.integers(-3, 3), st.integers(-3, 3), st.integers(-3, 3))
def test_chained_comparisons_int(a: int, b: int, c: int) -> None:
    check(k_chain, exe(k_chain, "int64, int64, int64"), a, b, c)
    check(k_chain_ne, exe(k_chain_ne, "int64, int64, int64"), a, b, c)


@MANY
@given(st.one_of(st.integers(-2, 2), i64), st.one_of(st.integers(-2, 2), i64))
def test_and_or_return_operands_int(a: int, b: int) -> None:
    check(k_and, exe(k_and, "int64, int64"), a, b)
    check(k_or, exe(k_or, "int64, int64"), a, b)


@MANY
@given(any_float, any_float)
def test_and_or_return_operands_float(x: float, y: float) -> None:
    check(k_and, exe(k_and, "float64, float64"), x, y)
    check(k_or, exe(k_or, "float64, float64"), x, y)


@FAST
@given(st.booleans(), st.booleans())
def test_and_or_bool(p: bool, q: bool) -> None:
    check(k_and, exe(k_and, "bool_, bool_"), p, q)
    check(k_or, exe(k_or, "bool_, bool_"), p, q)
    check(k_not, exe(k_not, "bool_"), p)
    check(k_bitand, exe(k_bitand, "bool_, bool_"), p, q)
    check(k_bitor, exe(k_bitor, "bool_, bool_"), p, q)
    check(k_bitxor, exe(k_bitxor, "bool_, bool_"), p, q)


# ---------------------------------------------------------------------------
# bitwise operators and shifts
# ---------------------------------------------------------------------------


@MANY
@given(i64, i64)
def test_bitwise(a: int, b: int) -> None:
    check(k_bitand, exe(k_bitand, "int64, int64"), a, b)
    check(k_bitor, exe(k_bitor, "int64, int64"), a, b)
    check(k_bitxor, exe(k_bitxor, "int64, int64"), a, b)


@MANY
@given(st.one_of(st.integers(-300, 300), i64), st.integers(0, 63))
@example(1, 63)
@example(-1, 63)
@example(I64_MIN, 63)
def test_shifts(a: int, n: int) -> None:
    # left shifts that leave the int64 range wrap (documented fixed-width integers)
    check(lambda x, y: wrap64(x << y), exe(k_lshift, "int64, int64"), a, n)
    check(k_rshift, exe(k_rshift, "int64, int64"), a, n)


# ---------------------------------------------------------------------------
# builtins abs / min / max (Python semantics incl. NaN and argument order)
# ---------------------------------------------------------------------------


@MANY
@given(small_or_any_i64, small_or_any_i64, small_or_any_i64)
def test_int_min_max(a: int, b: int, c: int) -> None:
    check(k_min2, exe(k_min2, "int64, int64"), a, b)
    check(k_max2, exe(k_max2, "int64, int64"), a, b)
    check(k_min3, exe(k_min3, "int64, int64, int64"), a, b, c)
    check(k_max3, exe(k_max3, "int64, int64, int64"), a, b, c)


@MANY
@given(any_float, any_float, any_float)
@example(math.nan, 1.0, 2.0)
@example(1.0, math.nan, 0.5)
@example(0.0, -0.0, 0.0)
@example(-0.0, 0.0, -0.0)
def test_float_min_max(x: float, y: float, z: float) -> None:
    check(k_min2, exe(k_min2, "float64, float64"), x, y)
    check(k_max2, exe(k_max2, "float64, float64"), x, y)
    check(k_min3, exe(k_min3, "float64, float64, float64"), x, y, z)
    check(k_max3, exe(k_max3, "float64, float64, float64"), x, y, z)


@FAST
@given(st.integers(-100, 100), st.floats(-100, 100))
def test_mixed_min_max(n: int, x: float) -> None:
    # int and float operands: the result is float64 (documented unification)
    check(k_min2, exe(k_min2, "int64, float64"), n, x, loose_kind=True)
    check(k_max2, exe(k_max2, "int64, float64"), n, x, loose_kind=True)


# ---------------------------------------------------------------------------
# casts
# ---------------------------------------------------------------------------


@MANY
@given(st.one_of(st.floats(-9.2e18, 9.2e18), edge_floats.filter(lambda v: abs(v) < 9e18)))
def test_int_of_float(x: float) -> None:
    check(k_int, exe(k_int, "float64"), x)


@FAST
@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_int_of_nonfinite_raises(x: float) -> None:
    check(k_int, exe(k_int, "float64"), x)


@MANY
@given(i64)
@example(2**53 + 1)
@example(I64_MAX)
def test_float_of_int(n: int) -> None:
    check(k_float, exe(k_float, "int64"), n)
    check(k_bool, exe(k_bool, "int64"), n)
    check(k_int, exe(k_int, "int64"), n)


@MANY
@given(any_float)
def test_float_and_bool_of_float(x: float) -> None:
    check(k_float, exe(k_float, "float64"), x)
    check(k_bool, exe(k_bool, "float64"), x)


@FAST
@given(st.booleans())
def test_casts_of_bool(p: bool) -> None:
    check(k_int, exe(k_int, "bool_"), p)
    check(k_float, exe(k_float, "bool_"), p)
    check(k_bool, exe(k_bool, "bool_"), p)


@MANY
@given(st.one_of(st.floats(-F32_MAX, F32_MAX), st.sampled_from([math.nan, math.inf, -0.0])))
@example(1e-46)
@example(0.1)
@example(3.4028235e38)
def test_np_float32_of_float64(x: float) -> None:
    check(k_np_float32, exe(k_np_float32, "float64"), x)
    check(k_np_float64, exe(k_np_float64, "float64"), x)


@MANY
@given(i64)
def test_np_float_of_int64(n: int) -> None:
    # an int64 value converts to float32 with one rounding (NumPy's C cast)
    check(lambda v: np.float32(np.int64(v)), exe(k_np_float32, "int64"), n)
    check(lambda v: np.float64(np.int64(v)), exe(k_np_float64, "int64"), n)


@MANY
@given(st.floats(-2147483648.0, 2147483647.0))
@example(-0.9)
@example(2147483647.9)
def test_np_int32_of_float(x: float) -> None:
    check(k_np_int32, exe(k_np_int32, "float64"), x)
    check(k_np_int64, exe(k_np_int64, "float64"), x)


@FAST
@given(st.floats(-128.0, 127.0), st.floats(0.0, 255.0))
def test_np_small_ints_of_float(x: float, u: float) -> None:
    check(k_np_int8, exe(k_np_int8, "float64"), x)
    check(k_np_uint8, exe(k_np_uint8, "float64"), u)


@MANY
@given(i64)
def test_np_int_casts_of_int64(n: int) -> None:
    # in range: identity; out of range: NumPy's C-cast wrap-around, asserted explicitly
    ref = np.int64(n)
    for k, sig_cast in ((k_np_int8, np.int8), (k_np_int16, np.int16), (k_np_int32, np.int32),
                        (k_np_uint8, np.uint8), (k_np_uint16, np.uint16),
                        (k_np_uint32, np.uint32), (k_np_int64, np.int64)):
        check(lambda _v, cast=sig_cast: cast(ref), exe(k, "int64"), n)
        info = np.iinfo(sig_cast)
        if info.min <= n <= info.max:
            assert int(exe(k, "int64")(n)) == n


f32_arg = st.one_of(st.floats(-1e30, 1e30),
                    edge_floats.filter(lambda v: not abs(v) > F32_MAX or math.isinf(v)))


@MANY
@given(f32_arg, f32_arg)
def test_float32_arithmetic(x: float, y: float) -> None:
    # float32 operands give float32 results (NumPy semantics), rounded once per operation
    check(k_f32_add, exe(k_f32_add, "float64, float64"), x, y)
    check(k_f32_mul, exe(k_f32_mul, "float64, float64"), x, y)
    if np.float32(y) != 0:
        check(k_f32_div, exe(k_f32_div, "float64, float64"), x, y)
    check(k_f32_literal, exe(k_f32_literal, "float64"), x)


# ---------------------------------------------------------------------------
# math functions (libm-exact, Python's ValueError / OverflowError)
# ---------------------------------------------------------------------------


def m_sqrt(x):
    return math.sqrt(x)


def m_exp(x):
    return math.exp(x)


def m_log(x):
    return math.log(x)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_log1p(x):
    return math.log1p(x)


def m_expm1(x):
    return math.expm1(x)


def m_sin(x):
    return math.sin(x)


def m_cos(x):
    return math.cos(x)


def m_tan(x):
    return math.tan(x)


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan(x):
    return math.atan(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_tanh(x):
    return math.tanh(x)


def m_asinh(x):
    return math.asinh(x)


def m_acosh(x):
    return math.acosh(x)


def m_atanh(x):
    return math.atanh(x)


def m_fabs(x):
    return math.fabs(x)


def m_isnan(x):
    return math.isnan(x)


def m_isinf(x):
    return math.isinf(x)


def m_isfinite(x):
    return math.isfinite(x)


def m_floor(x):
    return math.floor(x)


def m_ceil(x):
    return math.ceil(x)


def m_trunc(x):
    return math.trunc(x)


def m_atan2(y, x):
    return math.atan2(y, x)


def m_hypot(x, y):
    return math.hypot(x, y)


def m_copysign(x, y):
    return math.copysign(x, y)


def m_fmod(x, y):
    return math.fmod(x, y)


def m_pow(x, y):
    return math.pow(x, y)


UNARY_MATH = [m_sqrt, m_exp, m_log, m_log2, m_log10, m_log1p, m_expm1, m_sin, m_cos, m_tan,
              m_asin, m_acos, m_atan, m_sinh, m_cosh, m_tanh, m_asinh, m_acosh, m_atanh, m_fabs,
              m_isnan, m_isinf, m_isfinite]

math_arg = st.one_of(edge_floats, st.floats(-2.0, 2.0), st.floats(-800.0, 800.0), floats)


@pytest.mark.parametrize("fn", UNARY_MATH, ids=lambda f: f.__name__)
@FAST
@given(math_arg)
def test_unary_math(fn: Any, x: float) -> None:
    check(fn, exe(fn, "float64"), x)


@pytest.mark.parametrize("fn", [m_floor, m_ceil, m_trunc], ids=lambda f: f.__name__)
@FAST
@given(st.one_of(st.floats(-9.2e18, 9.2e18), st.sampled_from([math.nan, math.inf, -math.inf,
                                                              -0.0, 0.5, -0.5, 1e16 + 2])))
def test_math_rounding_returns_int(fn: Any, x: float) -> None:
    check(fn, exe(fn, "float64"), x)


@pytest.mark.parametrize("fn", [m_atan2, m_copysign, m_fmod, m_pow], ids=lambda f: f.__name__)
@FAST
@given(math_arg, math_arg)
def test_binary_math(fn: Any, x: float, y: float) -> None:
    check(fn, exe(fn, "float64, float64"), x, y)


@FAST
@given(math_arg, math_arg)
@example(1e308, 1e308)
@example(math.inf, math.nan)
@example(math.nan, -math.inf)
def test_hypot(x: float, y: float) -> None:
    # CPython's hypot is its own algorithm (vector_norm): compiled bit for bit
    check(m_hypot, exe(m_hypot, "float64, float64"), x, y)


def test_math_domain_and_range_edges() -> None:
    cases = [(m_sqrt, -1.0), (m_log, 0.0), (m_log, -0.0), (m_log, -math.inf), (m_log2, -1.0),
             (m_log10, 0.0), (m_log1p, -1.0), (m_asin, 1.5), (m_acos, -1.5), (m_atanh, 1.0),
             (m_acosh, 0.5), (m_sin, math.inf), (m_cos, -math.inf), (m_tan, math.inf),
             (m_exp, 710.0), (m_expm1, 710.0), (m_cosh, 711.0), (m_sinh, -711.0)]
    for fn, x in cases:
        check(fn, exe(fn, "float64"), x)
    for fn, x, y in [(m_fmod, 1.0, 0.0), (m_fmod, math.inf, 1.0), (m_pow, 0.0, -1.0),
                     (m_pow, -2.0, 0.5), (m_pow, 10.0, 400.0), (m_atan2, 0.0, -0.0)]:
        check(fn, exe(fn, "float64, float64"), x, y)


# ---------------------------------------------------------------------------
# NumPy scalar functions (no errors, NaN/inf results)
# ---------------------------------------------------------------------------


def n_sqrt(x):
    return np.sqrt(x)


def n_abs(x):
    return np.abs(x)


def n_exp(x):
    return np.exp(x)


def n_log(x):
    return np.log(x)


def n_floor(x):
    return np.floor(x)


def n_ceil(x):
    return np.ceil(x)


@MANY
@given(any_float)
@example(-1.0)
def test_np_exact_functions(x: float) -> None:
    for fn in (n_sqrt, n_abs, n_floor, n_ceil):
        check(fn, exe(fn, "float64"), x)


@MANY
@given(math_arg)
@example(0.0)
@example(-1.0)
@example(1000.0)
def test_np_transcendental_functions(x: float) -> None:
    # NumPy's own exp/log may differ from libm by ~1 ulp
    for fn in (n_exp, n_log):
        check(fn, exe(fn, "float64"), x, rtol=1e-15)


@MANY
@given(st.one_of(st.integers(-100, 100), i53))
def test_np_functions_on_int(n: int) -> None:
    check(n_abs, exe(n_abs, "int64"), n)
    check(n_sqrt, exe(n_sqrt, "int64"), n)


# ---------------------------------------------------------------------------
# small / unsigned integer and float32 operands: NumPy scalar semantics
# ---------------------------------------------------------------------------

SMALL_INTS = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.uint64]


def k_add_lit(a):
    return a + 1


def k_mul_lit(a):
    return a * 3


def k_sub_lit(a):
    return a - 1


def k_floordiv_lit(a):
    return a // 4


def k_mod_lit(a):
    return a % 5


@pytest.mark.parametrize("dtype", SMALL_INTS, ids=lambda d: d.__name__)
@FAST
@given(data=st.data())
def test_small_int_arith_numpy_semantics(dtype: Any, data: Any) -> None:
    # same-dtype operands stay in the dtype and wrap (NumPy); literals are weak (NEP 50)
    info = np.iinfo(dtype)
    edge = st.sampled_from([info.min, info.max, 0, 1, info.max // 2 + 1] +
                           ([-1, info.min + 1] if info.min < 0 else []))
    ints = st.one_of(edge, st.integers(int(info.min), int(info.max)))
    a, b = dtype(data.draw(ints)), dtype(data.draw(ints))
    name = dtype.__name__
    sig = f"{name}, {name}"
    for k in (k_add, k_sub, k_mul, k_bitand, k_bitor, k_bitxor, k_lt, k_eq, k_ge, k_min2,
              k_max2):
        check(k, exe(k, sig), a, b)
    for k in (k_floordiv, k_mod, k_truediv):
        if b == 0:
            # frostline raises for integer division by zero (NumPy would warn and give 0)
            with pytest.raises(ZeroDivisionError):
                exe(k, sig)(a, b)
        elif k is k_truediv and info.bits == 64:
            # 64-bit ints divide as CPython's ints do, to the correctly rounded quotient
            # (NumPy rounds both operands to float64 first): docs/language.md
            assert exe(k, sig)(a, b) == int(a) / int(b)
        elif not (info.min < 0 and a == info.min and b == -1):
            check(k, exe(k, sig), a, b)
    for k in (k_add_lit, k_mul_lit, k_sub_lit, k_floordiv_lit, k_mod_lit, k_neg, k_invert,
              k_abs):
        check(k, exe(k, name), a)


@MANY
@given(st.one_of(st.floats(width=32), st.sampled_from([0.0, -0.0, math.inf, math.nan])),
       st.one_of(st.floats(width=32), st.sampled_from([0.0, -0.0, -math.inf, 1.0])))
def test_float32_operands_numpy_semantics(x: float, y: float) -> None:
    a, b = np.float32(x), np.float32(y)
    sig = "float32, float32"
    for k in (k_add, k_sub, k_mul, k_lt, k_le, k_eq, k_ne, k_min2, k_max2):
        check(k, exe(k, sig), a, b)
    for k in (k_truediv, k_floordiv, k_mod):
        if b == 0:
            # frostline raises for float division by zero (NumPy would give inf/nan)
            with pytest.raises(ZeroDivisionError):
                exe(k, sig)(a, b)
        else:
            check(k, exe(k, sig), a, b)
    for k in (k_neg, k_abs, k_f32_literal):
        check(k, exe(k, "float32"), a)


@MANY
@given(st.integers(-128, 127), st.integers(-(2**31), 2**31 - 1), st.floats(width=32))
def test_mixed_dtype_promotion(i: int, j: int, x: float) -> None:
    # int8 + int32 -> int32, int8 + float32 -> float32, int32 + float32 -> float64, ...
    a, b, c = np.int8(i), np.int32(j), np.float32(x)
    check(k_add, exe(k_add, "int8, int32"), a, b)
    check(k_mul, exe(k_mul, "int8, int32"), a, b)
    check(k_add, exe(k_add, "int8, float32"), a, c)
    check(k_add, exe(k_add, "int32, float32"), b, c)
    check(k_mul, exe(k_mul, "int32, float32"), b, c)
    check(k_add, exe(k_add, "float32, float64"), c, np.float64(j))
    check(k_add, exe(k_add, "int8, int64"), a, np.int64(j))
    check(k_add, exe(k_add, "uint8, int8"), np.uint8(i & 0xFF), a)


@pytest.mark.parametrize("fn", [m_sqrt, m_exp, m_log, m_sin, m_atan, m_floor, m_ceil, m_trunc,
                                m_fabs, m_isnan],
                         ids=lambda f: f.__name__)
@FAST
@given(st.one_of(st.integers(-1000, 1000), i64))
def test_math_of_int64(fn: Any, n: int) -> None:
    # math functions accept ints (converted to float; floor/ceil/trunc return the int)
    check(fn, exe(fn, "int64"), n)


@MANY
@given(st.one_of(st.floats(width=32), st.sampled_from([-1.0, -0.0, math.inf, math.nan])))
def test_np_functions_on_float32(x: float) -> None:
    a = np.float32(x)
    check(n_sqrt, exe(n_sqrt, "float32"), a)
    check(n_abs, exe(n_abs, "float32"), a)
    check(n_floor, exe(n_floor, "float32"), a)
    check(m_sqrt, exe(m_sqrt, "float32"), a)
