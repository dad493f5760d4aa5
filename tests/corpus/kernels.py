"""Kernel corpus for the differential tests.

Every kernel is a plain Python function (no decorator) at module level (closures
excepted, which are made by module-level factories); frostline reads their
source with ``inspect``.  Each kernel is registered with the argument tuples to
try.  An argument tuple is either a tuple of immutable scalars or a zero-argument
factory returning a *fresh* tuple (kernels mutate their array arguments, and
the same factory is called once for CPython, once for the JIT and once for the
AOT executable, so it must be deterministic).

Writing kernels that agree between CPython+NumPy and a typed compiler needs
some care; the rules followed here:

* Python ``int``/``float`` objects are *weak* under NEP 50 in CPython, but an
  ``int``/``float`` argument or variable is a strong int64/float64 in frostline.
  So kernels never combine a Python-int/float *variable* with an int8/int32/
  float32 array element in a value that is returned or accumulated; where it
  matters the argument is passed as ``np.int64``/``np.float64``.  Literals
  (``a[i] + 1``, ``a[i] * 2.5``) are weak in both.
* NumPy scalars divide by zero without raising, so zero divisors are only used
  with Python scalars (where CPython raises ZeroDivisionError, as frostline must).
* Integer values stay in int64 range unless a case documents the wrap-around.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import frostline as fl

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def wrap_i64(value: int) -> int:
    """Python int -> the int64 two's-complement value frostline computes."""
    return (value + 2**63) % 2**64 - 2**63


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()


@dataclass(frozen=True)
class Case:
    """One kernel invocation to compare between CPython and frostline."""

    fn: Callable[..., Any]
    args_factory: Callable[[], tuple]
    id: str
    # keyword options for fl.jit(...), e.g. {"boundscheck": True}
    options: Mapping[str, Any] = field(default_factory=dict)
    # exception CPython raises for these arguments (sanity check of the corpus itself)
    raises: type[BaseException] | None = None
    # documented deliberate differences: what frostline returns / raises instead
    expected: Any = NOTSET
    expected_raises: type[BaseException] | None = None
    # relative tolerance for float results and float arrays (0 = exact)
    rtol: float = 0.0
    # int and float results may differ in kind (int/float unification to float64)
    loose_kind: bool = False
    # compare str(exception) too (raise/assert with a message, math domain error)
    check_message: bool = False
    note: str = ""


class Err:
    """An argument set for which CPython raises ``exc``."""

    def __init__(self, exc: type[BaseException], argset: Any):
        self.exc = exc
        self.argset = argset


CASES: list[Case] = []


def _const(argset: tuple) -> Callable[[], tuple]:
    assert isinstance(argset, tuple), argset
    assert not any(isinstance(x, np.ndarray) for x in argset), "arrays need a factory"
    return lambda: argset


def register(fn: Callable[..., Any], *argsets: Any, label: str | None = None,
             **kwargs: Any) -> None:
    name = label or fn.__name__
    for k, argset in enumerate(argsets):
        raises = None
        if isinstance(argset, Err):
            raises, argset = argset.exc, argset.argset
        factory = argset if callable(argset) else _const(argset)
        CASES.append(Case(fn, factory, f"{name}-{k}", raises=raises, **kwargs))


# ---------------------------------------------------------------------------
# argument factories
# ---------------------------------------------------------------------------


def normal(n: int, seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def randint(n: int, lo: int, hi: int, seed: int = 0, dtype: Any = np.int64) -> np.ndarray:
    return np.random.default_rng(seed).integers(lo, hi, n).astype(dtype)


def matrix(n: int, m: int, seed: int = 0, order: str = "C") -> np.ndarray:
    return np.asarray(normal(n * m, seed).reshape(n, m), order=order)


NAN = math.nan
INF = math.inf


# ===========================================================================
# Expressions: arithmetic
# ===========================================================================


def int_arith(a, b):
    return a + b, a - b, a * b, a // b, a % b, a / b


register(int_arith, (7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5), (123456789, 1000), (6, 3),
         (-1, 3), (2**40 + 3, -(2**20)))


def float_arith(x, y):
    return x + y, x - y, x * y, x / y, x // y, x % y


register(float_arith, (7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0), (0.1, 0.3),
         (-0.0, 3.0), (1e300, 1e-300), (5.0, INF), (-5.0, INF), (NAN, 2.0), (INF, 3.0),
         (1e-310, 3.0))


def mixed_arith(n, x):
    return n + x, n * x, x - n, n / 4, n // 4.0, n % 2.5, x ** 2, n ** 2, 2 ** n


register(mixed_arith, (3, 0.5), (0, -1.25), (10, 1e10), (7, -3.5), (62, 0.1))


def power_ops(b, e, x):
    return b ** e, x ** e, x ** 0.5, abs(b) ** 0.5, x ** -1, 2.0 ** -e, (-x) ** e, x ** x


register(power_ops, (3, 4, 1.5), (2, 0, 0.25), (-5, 3, 10.0), (10, 18, 2.0), (0, 0, 1e-3),
         (1, 60, 0.999))


def power_by_squaring(base, n):
    result = 1
    while n > 0:
        if n & 1:
            result *= base
        base *= base
        n >>= 1
    return result


register(power_by_squaring, (3, 30), (-2, 61), (7, 0), (1, 1000), (-1, 999), (10, 18))


def unary_ops(a, x):
    return -a, +a, ~a, not a, -x, +x, not x


register(unary_ops, (5, 2.5), (0, 0.0), (-3, -0.0), (0, NAN), (I64_MAX, -INF), (-1, 1e-300))


def true_division(a, b):
    q = a / b
    return q, q * b, 1 / b, -a / b


register(true_division, (1, 3), (-7, 2), (2**52, 3), (0, -5), (10, 10))


def floor_div_mod_table(x, y):
    # every sign combination, for ints and floats, follows Python (toward -inf)
    n = int(x)
    m = int(y)
    return n // m, n % m, -n // m, -n % m, n // -m, n % -m, x // y, x % y, -x // y, -x % y


register(floor_div_mod_table, (7.0, 3.0), (7.5, 2.0), (1.0, 4.0), (9.0, 3.0), (100.0, 7.0),
         (3.0, 3.0))


def divmod_zero(a, b):
    return a // b + a % b


register(divmod_zero, (7, 2), Err(ZeroDivisionError, (7, 0)), Err(ZeroDivisionError, (0, 0)),
         Err(ZeroDivisionError, (7.5, 0.0)), Err(ZeroDivisionError, (1.0, -0.0)))


def true_div_zero(a, b):
    return a / b


register(true_div_zero, (1, 4), Err(ZeroDivisionError, (1, 0)),
         Err(ZeroDivisionError, (1.0, 0.0)), Err(ZeroDivisionError, (NAN, 0.0)))


def mod_zero_float(x, y):
    return x % y


register(mod_zero_float, (5.5, 2.0), Err(ZeroDivisionError, (5.5, 0.0)),
         Err(ZeroDivisionError, (5, 0)))


def zero_pow_negative(x, e):
    return x ** e


register(zero_pow_negative, (2.0, -1.0), (0.0, 2.0), Err(ZeroDivisionError, (0.0, -1.0)),
         Err(ZeroDivisionError, (0.0, -2.5)))


# ===========================================================================
# Expressions: comparisons, boolean operators, conditional expressions
# ===========================================================================


def compare_ints(a, b):
    return a < b, a <= b, a == b, a != b, a > b, a >= b


register(compare_ints, (1, 2), (2, 1), (3, 3), (-5, 5), (I64_MIN, I64_MAX))


def compare_floats(x, y):
    return x < y, x <= y, x == y, x != y, x > y, x >= y


register(compare_floats, (1.5, 2.5), (0.0, -0.0), (NAN, 1.0), (NAN, NAN), (INF, 1e308),
         (-INF, -INF))


def compare_mixed(n, x):
    return n < x, n <= x, n == x, n != x, n > x, n >= x


register(compare_mixed, (1, 1.0), (1, 1.5), (-2, -2.5), (0, NAN), (2**53, 2.0**53), (3, INF))


def chained_compare(a, b, c):
    return a < b < c, a <= b > c, a == b == c, a < b != c, 0 <= a < 10, a < b < c < 100


register(chained_compare, (1, 2, 3), (3, 2, 1), (2, 2, 2), (0, 5, 5), (-1, 0, 1), (9, 50, 99))


def chained_compare_float(x, lo, hi):
    inside = lo <= x < hi
    outside = not (lo <= x <= hi)
    return inside, outside, lo < x > hi


register(chained_compare_float, (0.5, 0.0, 1.0), (1.0, 0.0, 1.0), (NAN, 0.0, 1.0),
         (-INF, -INF, 0.0))


def and_or_values(a, b):
    return (a and b), (a or b), (a and b or 7), (not a and not b)


register(and_or_values, (0, 5), (3, 0), (2, 9), (0, 0), (-1, -2))


def and_or_floats(x, y):
    return (x and y), (x or y), (x or y or 1.5)


register(and_or_floats, (0.0, 2.5), (1.5, 0.0), (NAN, 0.0), (-0.0, 0.0), (0.0, -0.0))


def mixed_and_or(n, x):
    # int and float operands: frostline types the result float64 (documented unification)
    return (n or x), (n and x)


register(mixed_and_or, (0, 2.5), (3, 1.5), (4, 0.0), (0, 0.0), loose_kind=True)


def _bump(counter):
    counter[0] += 1
    return True


def short_circuit_effects(counter, flag):
    if flag or _bump(counter):
        counter[1] += 1
    if flag and _bump(counter):
        counter[2] += 1
    r = flag or _bump(counter)
    s = (not flag) and _bump(counter)
    return r, s


register(short_circuit_effects,
         lambda: (np.zeros(3, dtype=np.int64), True),
         lambda: (np.zeros(3, dtype=np.int64), False))


def ternary(x):
    y = x if x > 0 else -x
    z = 1 if x > 10 else (2 if x > 0 else 3)
    return y, z, (y if z == 2 else 0.0)


register(ternary, (5.0,), (-2.5,), (11.0,), (0.0,), (NAN,))


def truthiness(n, x):
    count = 0
    if n:
        count += 1
    if x:
        count += 10
    if not n:
        count += 100
    while n:
        n -= 1
        count += 1000
    return count, bool(n), bool(x)


register(truthiness, (0, 0.0), (3, 0.5), (0, NAN), (2, -0.0))


# ===========================================================================
# Expressions: bitwise
# ===========================================================================


def bitwise_ops(a, b):
    return a & b, a | b, a ^ b, ~a, a << 3, a >> 2, b >> 1, -a >> 3, (a & 0xFF) << 55


register(bitwise_ops, (12, 10), (-12, 10), (0x7F0F, -1), (0, 0), (I64_MAX >> 3, I64_MIN),
         (-1, 1), (-(2**60), I64_MAX))


def bool_bitwise(x, y):
    p = x > 0
    q = y > 0
    return p & q, p | q, p ^ q


register(bool_bitwise, (1.0, 2.0), (1.0, -2.0), (-1.0, -2.0), (NAN, 1.0))


def popcount(n):
    c = 0
    while n:
        c += n & 1
        n >>= 1
    return c


register(popcount, (0,), (1,), (255,), (2**62 + 12345,), (I64_MAX,))


def xorshift32(seed, n):
    x = seed
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
    return x


register(xorshift32, (2463534242, 10), (1, 1000), (123456789, 0))


def lcg_fill(out, seed):
    # the 64-bit product overflows; frostline wraps, CPython grows a bigint, and the
    # low 32 bits that the mask keeps are the same either way
    x = seed
    for i in range(out.shape[0]):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFF
        out[i] = x
    return x


register(lcg_fill, lambda: (np.zeros(16, dtype=np.int64), 42),
         lambda: (np.zeros(5, dtype=np.int64), 0xFFFFFFFF))


# ===========================================================================
# Builtins
# ===========================================================================


def builtin_abs_min_max(a, b, x, y):
    return (abs(a), abs(x), min(a, b), max(a, b), min(x, y), max(x, y), max(a, b, 0),
            min(x, y, 0.5), abs(-a), max(abs(x), abs(y)))


register(builtin_abs_min_max, (3, -7, -2.5, 1.5), (-3, -3, 0.0, -0.0), (0, 100, NAN, 1.0),
         (5, 5, 1.0, NAN), (-9, 2, -INF, INF))


def mixed_min_max(n, x):
    # int/float mixes are float64 in frostline (documented unification)
    return max(n, x), min(n, x), max(n, x, 0)


register(mixed_min_max, (3, 2.5), (1, 4.5), (-2, -2.0), loose_kind=True)


def builtin_casts(x, n, flag):
    return int(x), float(n), bool(x), bool(n), int(flag), float(flag), int(n), float(x), \
        bool(flag), int(-x)


register(builtin_casts, (3.7, 5, True), (-3.7, 0, False), (-0.5, -2, True),
         (1e15 + 0.5, 2**53 + 1, False), (0.0, 1, True), (-0.0, I64_MIN, False))


def int_cast_errors(x):
    return int(x)


register(int_cast_errors, (2.9,), Err(ValueError, (NAN,)), Err(OverflowError, (INF,)),
         Err(OverflowError, (-INF,)))


# ===========================================================================
# math module
# ===========================================================================


def math_funcs(x):
    return (math.sqrt(x), math.exp(x), math.log(x), math.log10(x), math.log2(x),
            math.sin(x), math.cos(x), math.tan(x), math.asin(x), math.acos(x),
            math.atan(x), math.sinh(x), math.cosh(x), math.tanh(x), math.expm1(x),
            math.log1p(x), math.fabs(-x), math.atan2(x, -1.0), math.copysign(2.0, -x),
            math.fmod(7.5, x), math.pow(x, 3.5))


register(math_funcs, (0.5,), (0.125,), (1e-10,), (0.9999,), (1.0,))


def math_hypot(x, y):
    # CPython's own algorithm (vector_norm), compiled as CPython computes it: exact
    return math.hypot(x, y)


register(math_hypot, (3.0, 4.0), (1e-200, 1e-200), (1.5, -2.25), (0.1, 0.7))


def math_int_results(x):
    # floor/ceil/trunc return int
    return math.floor(x), math.ceil(x), math.trunc(x), math.floor(x) + 1, math.ceil(x) // 2


register(math_int_results, (2.5,), (-2.5,), (3.0,), (-0.0,), (1e15 + 0.5,),
         Err(ValueError, (NAN,)), Err(OverflowError, (INF,)))


def sum_to_ceil(x):
    total = 0
    for i in range(math.ceil(x)):
        total += i
    return total


register(sum_to_ceil, (4.2,), (0.0,), (-3.5,), (10.0,))


def math_constants():
    return math.pi, math.e, math.inf, -math.inf, 2 * math.pi


register(math_constants, ())


def math_tau():
    return math.tau


register(math_tau, ())


def math_nan_constant():
    return math.nan, math.isnan(math.nan), math.nan == math.nan


register(math_nan_constant, ())


def math_predicates(x):
    return math.isnan(x), math.isinf(x), math.isfinite(x)


register(math_predicates, (1.0,), (NAN,), (INF,), (-INF,), (0.0,))


def math_sqrt_domain(x):
    return math.sqrt(x) * 2.0


register(math_sqrt_domain, (4.0,), (0.0,), (-0.0,), (NAN,), Err(ValueError, (-1.0,)),
         Err(ValueError, (-INF,)), check_message=True)


def math_log_domain(x):
    return math.log(x)


register(math_log_domain, (1.0,), (INF,), Err(ValueError, (0.0,)), Err(ValueError, (-2.0,)),
         check_message=True)


def math_trig_domain(x):
    return math.acos(x) + math.asin(x)


register(math_trig_domain, (0.5,), Err(ValueError, (1.5,)), Err(ValueError, (-1.0001,)),
         check_message=True)


def math_exp_overflow(x):
    return math.exp(x)


register(math_exp_overflow, (700.0,), (-1000.0,), (-INF,), Err(OverflowError, (1000.0,)))


def newton_sqrt(x, iters):
    g = x if x > 1.0 else 1.0
    for _ in range(iters):
        g = 0.5 * (g + x / g)
    return g, abs(g - math.sqrt(x))


register(newton_sqrt, (2.0, 6), (1e6, 30), (0.25, 8), (1.0, 3))


# ===========================================================================
# NumPy scalar functions and dtype casts
# ===========================================================================


def np_sqrt_abs(x):
    # np.sqrt never raises: NaN for negative input
    return np.sqrt(x), np.abs(x), np.sqrt(-x), np.floor(x), np.ceil(x)


register(np_sqrt_abs, (2.0,), (-4.0,), (0.0,), (NAN,), (-INF,), (2.5,), (-2.5,))


def np_transcendental(x):
    # NumPy's own SIMD exp/log/sin/... differ from libm by up to ~1 ulp: small rtol
    return np.exp(x), np.log(x), np.sin(x), np.cos(x)


register(np_transcendental, (0.5,), (3.0,), (-1.0,), (0.0,), (100.0,), rtol=1e-15)


def np_int_abs(n):
    return np.abs(n), np.sqrt(n)


register(np_int_abs, (-5,), (0,), (16,), (-16,))


def np_casts(x, n):
    return (np.float32(x), np.float64(n), np.int32(x), np.int64(x), np.int8(n), np.uint8(n),
            np.int16(n), np.float32(n), np.uint16(n), np.float64(x))


register(np_casts, (3.7, 5), (-3.7, 127), (0.1, 0), (1e9 + 0.75, 100), (-2147483000.5, 1))


def np_cast_wrap(a):
    # NumPy C-cast semantics for int64 -> narrower ints (wrap-around)
    return np.int8(a[0]), np.uint8(a[1]), np.int16(a[2]), np.int32(a[3]), np.uint8(a[4])


register(np_cast_wrap,
         lambda: (np.array([200, -1, 70000, 2**40 + 7, 256 + 17], dtype=np.int64),),
         lambda: (np.array([-129, 255, -32769, -(2**31) - 1, 0], dtype=np.int64),))


def float32_arith(a):
    # NEP 50: float32 element with a Python literal stays float32
    x = a[0] * 2.5
    y = a[1] + 1
    z = a[0] / a[1]
    w = np.float32(0.1) + a[2]
    v = np.sqrt(a[2])
    return x, y, z, w, v, x * y


register(float32_arith, lambda: (np.array([0.1, 3.0, 2.0], dtype=np.float32),),
         lambda: (np.array([1e-3, -7.25, 1e30], dtype=np.float32),))


def float32_accumulate(a):
    s = np.float32(0.0)
    for i in range(a.shape[0]):
        s += a[i] * np.float32(0.5)
    return s


register(float32_accumulate, lambda: (normal(1000, 3, np.float32),),
         lambda: (np.full(3000, 0.1, dtype=np.float32),))


def float32_with_float64(a, alpha):
    # alpha is passed as np.float64 so CPython promotes like frostline does
    s = np.float64(0.0)
    for i in range(a.shape[0]):
        s += a[i] * alpha
    return s, a[0] * alpha


register(float32_with_float64, lambda: (normal(100, 4, np.float32), np.float64(0.1)))


def promotion(i8, u8, i32, f32, i64, u64, k):
    # NumPy promotion for typed operands; NEP 50 for literals (documented)
    return (i8[0] + u8[0], i32[0] + f32[0], i8[0] * i32[1], f32[0] + i64[0], u64[0] + k,
            u8[0] + 1, i8[0] - 1, i8[1] + 1, u8[1] - 1, i32[0] * 2.5, f32[0] * 2)


register(promotion, lambda: (
    np.array([100, 127], dtype=np.int8), np.array([200, 0], dtype=np.uint8),
    np.array([2**30, 5], dtype=np.int32), np.array([0.1, 0.5], dtype=np.float32),
    np.array([2**40, 3], dtype=np.int64), np.array([10, 7], dtype=np.uint64),
    np.int64(3)))


def int8_inplace(a):
    for i in range(a.shape[0]):
        a[i] += 100
        a[i] = a[i] * 3


register(int8_inplace, lambda: (randint(20, -128, 128, 5, np.int8),),
         lambda: (randint(20, -128, 128, 6, np.int8)[::3],))


def uint8_ops(a):
    for i in range(a.shape[0]):
        a[i] = a[i] - 1
    return a[0] // 3, a[0] % 7, a[1] + 1


register(uint8_ops, lambda: (np.array([0, 255, 7], dtype=np.uint8),))


# ===========================================================================
# Statements
# ===========================================================================


def swap(a, b):
    a, b = b, a
    return a, b


register(swap, (1, 2), (-5, 7))


def rotate3(x, y, z):
    x, y, z = y, z, x
    x, y = y, x
    return x, y, z


register(rotate3, (1.0, 2.0, 3.0), (NAN, 0.0, -1.0))


def shape_unpack(m):
    n, k = m.shape
    return n * 100 + k


register(shape_unpack, lambda: (matrix(3, 4),), lambda: (matrix(3, 4).T,),
         lambda: (matrix(6, 5)[::2, 1:],), lambda: (np.zeros((0, 7)),))


def _divmod_py(a, b):
    return a // b, a % b


def tuple_from_call(a, b):
    q, r = _divmod_py(a, b)
    return q * 1000 + r


register(tuple_from_call, (17, 5), (-17, 5), (17, -5))


def aug_assign_int(n):
    x = n
    x += 3
    x -= 1
    x *= 5
    x //= 2
    x %= 1000
    x **= 2
    x <<= 2
    x >>= 1
    x &= 0xFFFF
    x |= 0x10
    x ^= 0x3
    return x


register(aug_assign_int, (0,), (7,), (-13,), (123456,))


def aug_assign_float(x):
    y = x
    y += 1.5
    y -= 0.25
    y *= 3.0
    y /= 7.0
    y //= 0.5
    y %= 10.0
    y **= 2
    return y


register(aug_assign_float, (0.0,), (2.75,), (-13.5,), (1e10,))


def aug_assign_array(a, m):
    a[0] += 1.0
    a[1] -= 2.0
    a[2] *= 3.0
    a[3] /= 4.0
    a[-1] **= 2
    m[1, 2] += 10
    m[0, 0] //= 2
    m[-1, -1] %= 3
    m[1, 0] <<= 2
    m[0, 1] -= m[1, 1]


register(aug_assign_array,
         lambda: (normal(6), randint(12, -50, 50).reshape(3, 4)),
         lambda: (normal(12)[::2], np.asfortranarray(randint(12, -50, 50, 1).reshape(3, 4))))


def aug_assign_loop_accumulate(a, out):
    for i in range(a.shape[0]):
        out[i % out.shape[0]] += a[i]
        out[0] -= 0.5


register(aug_assign_loop_accumulate, lambda: (normal(50), np.zeros(4)))


def annotated_assign(a):
    # `total: float = 0` starts as int 0 in CPython; the annotation does not convert.
    # In frostline total is float64 throughout (documented unification).
    total: float = 0
    count: int = 0
    for i in range(a.shape[0]):
        total += a[i]
        count += 1
    scale: float = 2.0
    return total * scale, count


register(annotated_assign, lambda: (normal(10),), lambda: (np.zeros(0),), loose_kind=True)


def int_float_unification(n):
    # x holds an int and then a float: float64 throughout in frostline (documented)
    x = 0
    for _ in range(n):
        x = x + 0.5
    y = 1 if n > 2 else 2.5
    return x, y


register(int_float_unification, (0,), (1,), (5,), loose_kind=True)


def classify(x):
    if x < 0:
        return -1
    elif x == 0:
        return 0
    elif x < 10:
        return 1
    else:
        return 2


register(classify, (-3.5,), (0.0,), (5.0,), (10.0,), (NAN,), (-7,), (0,), (9,), (100,))


def range_forms(n):
    s1 = 0
    for i in range(n):
        s1 += i
    s2 = 0
    for i in range(2, n):
        s2 += i
    s3 = 0
    for i in range(1, n, 3):
        s3 += i
    s4 = 0
    for i in range(n, 0, -1):
        s4 = s4 * 3 + i
    s5 = 0
    for i in range(n, -n, -3):
        s5 += i * i
    s6 = 0
    for i in range(5, 2):
        s6 += i
    s7 = 0
    for i in range(-2, -10, -2):
        s7 = s7 * 10 + i
    return s1, s2, s3, s4, s5, s6, s7


register(range_forms, (0,), (1,), (7,), (20,), (-3,))


def range_dynamic(start, stop, step):
    total = 0
    count = 0
    for i in range(start, stop, step):
        total += i
        count += 1
    return total, count


register(range_dynamic, (0, 10, 1), (10, 0, -1), (10, 0, -3), (-5, 5, 2), (5, -5, -2),
         (0, 10, 20), (0, 10, -1), (3, 3, 1), (-10, -20, -7), (0, 10**6, 7),
         Err(ValueError, (0, 10, 0)))


def range_count_last(start, stop, step):
    count = 0
    last = 0
    for i in range(start, stop, step):
        count += 1
        last = i
    return count, last


# ranges ending near the int64 limits: the loop counter must not overflow
register(range_count_last, (0, 10, 3), (I64_MAX - 10, I64_MAX, 3), (I64_MIN + 10, I64_MIN, -4),
         (I64_MAX - 2, I64_MAX, 2**62), (I64_MIN, I64_MIN + 5, 2**62), (5, -5, -1))


def for_else_search(a, target):
    for i in range(a.shape[0]):
        if a[i] == target:
            break
    else:
        return -1
    return i


register(for_else_search, lambda: (np.arange(10.0), 3.0), lambda: (np.arange(10.0), 11.0),
         lambda: (np.arange(10.0)[::-1], 0.0))


def while_else(n):
    i = 0
    while i < n:
        if i * i > 50:
            break
        i += 1
    else:
        i = -i
    return i


register(while_else, (0,), (5,), (8,), (100,))


def break_continue(a):
    s = 0.0
    skipped = 0
    for i in range(a.shape[0]):
        if a[i] < 0:
            skipped += 1
            continue
        if a[i] > 100:
            break
        s += a[i]
    return s, skipped


register(break_continue, lambda: (np.array([1.0, -2.0, 3.5, -1.0, 150.0, 4.0]),),
         lambda: (normal(40, 7),))


def nested_break(m, t):
    found_i = -1
    found_j = -1
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j] > t:
                found_i = i
                found_j = j
                break
        if found_i >= 0:
            break
    return found_i, found_j


register(nested_break, lambda: (matrix(5, 6, 2), 1.0), lambda: (matrix(5, 6, 2), 100.0),
         lambda: (matrix(6, 5, 2).T, 0.5))


def return_anywhere(a, mode):
    if mode == 0:
        return 0.0
    for i in range(a.shape[0]):
        while a[i] > 10.0:
            if mode == 1:
                return a[i]
            a[i] -= 10.0
        if a[i] < 0:
            return -a[i]
    return a[0]


register(return_anywhere,
         lambda: (np.array([25.0, 3.0, -4.0]), 0),
         lambda: (np.array([25.0, 3.0, -4.0]), 1),
         lambda: (np.array([25.0, 3.0, -4.0]), 2),
         lambda: (np.array([25.0, 3.0, 4.0]), 2))


def pass_statement(n):
    for _ in range(n):
        pass
    if n > 3:
        pass
    else:
        n = n + 1
    while False:
        pass
    return n


register(pass_statement, (0,), (5,))


def fill_returns_none(a, v):
    for i in range(a.shape[0]):
        a[i] = v


register(fill_returns_none, lambda: (np.zeros(5), 2.5), lambda: (np.zeros(10)[::3], -1.0),
         lambda: (np.zeros(4, dtype=np.int64), 7))


def bare_return(a, n):
    if n <= 0:
        return
    a[0] = n
    return


register(bare_return, lambda: (np.zeros(2), 0), lambda: (np.zeros(2), 3))


def raise_on_negative(x):
    if x < 0:
        raise ValueError("negative input")
    return x * 2.0


register(raise_on_negative, (1.5,), Err(ValueError, (-1.5,)), check_message=True)


def assert_positive(x):
    assert x > 0, "x must be positive"
    return math.sqrt(x)


register(assert_positive, (4.0,), Err(AssertionError, (-4.0,)), Err(AssertionError, (NAN,)),
         check_message=True)


def assert_nonzero(n):
    assert n != 0
    return 100 // n


register(assert_nonzero, (7,), (-3,), Err(AssertionError, (0,)), check_message=True)


def loop_var_after_loop(n):
    for i in range(n):  # noqa: B007
        pass
    return i


register(loop_var_after_loop, (1,), (10,), Err(UnboundLocalError, (0,)))


def unbound_branch(flag, x):
    if flag:
        y = x * 2
    return y


register(unbound_branch, (True, 3), Err(UnboundLocalError, (False, 3)))


def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


register(collatz_steps, (1,), (27,), (97,), (871,))


def digit_sum(n):
    n = abs(n)
    s = 0
    while n > 0:
        s += n % 10
        n //= 10
    return s


register(digit_sum, (0,), (12345,), (-987654321,), (I64_MAX,))


def is_prime_trial(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


register(is_prime_trial, (1,), (2,), (9,), (97,), (7919,), (1000003,), (1000001,))


# ===========================================================================
# Arrays
# ===========================================================================


def prefix_sum(a):
    for i in range(1, a.shape[0]):
        a[i] += a[i - 1]


register(prefix_sum, lambda: (normal(100),), lambda: (randint(50, -1000, 1000),),
         lambda: (normal(40, 1)[::2],), lambda: (normal(30, 2)[::-1],),
         lambda: (normal(64, 3, np.float32),), lambda: (np.zeros(0),),
         lambda: (randint(10, 0, 100, 4, np.int32),))


def histogram(data, counts, lo, hi):
    nbins = counts.shape[0]
    width = (hi - lo) / nbins
    for i in range(data.shape[0]):
        x = data[i]
        if x < lo or x >= hi:
            continue
        k = int((x - lo) / width)
        if k >= nbins:
            k = nbins - 1
        counts[k] += 1


register(histogram, lambda: (normal(1000, 11), np.zeros(10, dtype=np.int64), -2.0, 2.0),
         lambda: (normal(1000, 12)[::3], np.zeros(7, dtype=np.int64), -1.0, 3.0))


def matvec(m, x, y):
    n, k = m.shape
    for i in range(n):
        acc = 0.0
        for j in range(k):
            acc += m[i, j] * x[j]
        y[i] = acc


register(matvec, lambda: (matrix(4, 5), normal(5, 1), np.zeros(4)),
         lambda: (matrix(4, 5, order="F"), normal(5, 1), np.zeros(4)),
         lambda: (matrix(5, 4).T, normal(5, 1), np.zeros(4)),
         lambda: (matrix(8, 10)[::2, ::2], normal(10, 1)[::2], np.zeros(8)[1::2]))


def matmul(a, b, c):
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            c[i, j] = acc


register(matmul, lambda: (matrix(3, 4), matrix(4, 2, 1), np.zeros((3, 2))),
         lambda: (matrix(3, 4, order="F"), matrix(2, 4, 1).T, np.zeros((3, 2), order="F")))


def transpose_copy(src, dst):
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[j, i] = src[i, j]


register(transpose_copy, lambda: (matrix(3, 5), np.zeros((5, 3))),
         lambda: (randint(12, 0, 9).reshape(3, 4), np.zeros((4, 3), dtype=np.int64)))


def stencil_1d(src, dst):
    n = src.shape[0]
    dst[0] = src[0]
    dst[n - 1] = src[n - 1]
    for i in range(1, n - 1):
        dst[i] = 0.25 * src[i - 1] + 0.5 * src[i] + 0.25 * src[i + 1]


register(stencil_1d, lambda: (normal(20), np.zeros(20)),
         lambda: (normal(40)[::2], np.zeros(20)[::-1]))


def laplacian_2d(u, out):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]


register(laplacian_2d, lambda: (matrix(6, 7), np.zeros((6, 7))),
         lambda: (matrix(7, 6).T, np.zeros((6, 7), order="F")))


def jacobi_steps(u, tmp, steps):
    n = u.shape[0]
    for _ in range(steps):
        tmp[0] = u[0]
        tmp[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            tmp[i] = 0.5 * (u[i - 1] + u[i + 1])
        u, tmp = tmp, u
    return u[n // 2]


register(jacobi_steps, lambda: (normal(16), np.zeros(16), 5),
         lambda: (normal(16), np.zeros(16), 4))


def convolve_valid(x, k, out):
    n = x.shape[0]
    m = k.shape[0]
    for i in range(n - m + 1):
        acc = 0.0
        for j in range(m):
            acc += x[i + j] * k[m - 1 - j]
        out[i] = acc


register(convolve_valid, lambda: (normal(30), np.array([0.25, 0.5, 0.25]), np.zeros(28)))


def argmax(a):
    best = 0
    for i in range(1, a.shape[0]):
        if a[i] > a[best]:
            best = i
    return best


register(argmax, lambda: (normal(100, 9),), lambda: (np.array([1.0, 5.0, 5.0, 2.0]),),
         lambda: (np.array([NAN, 1.0, 2.0]),), lambda: (randint(33, -9, 9, 3),),
         lambda: (normal(100, 9)[::-3],))


def argmin_value(a):
    best = 0
    value = a[0]
    for i in range(a.shape[0]):
        if a[i] < value:
            best, value = i, a[i]
    return best, value


register(argmin_value, lambda: (normal(50, 10),), lambda: (randint(20, 0, 5, 2),))


def dot(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


register(dot, lambda: (normal(100, 1), normal(100, 2)),
         lambda: (normal(100, 1)[::5], normal(20, 2)[::-1]))


def axpy(alpha, x, y):
    for i in range(x.shape[0]):
        y[i] += alpha * x[i]


register(axpy, lambda: (2.5, normal(10, 1), normal(10, 2)),
         lambda: (np.float64(-0.5), normal(10, 1, np.float32), normal(10, 2, np.float32)))


def norm2(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return math.sqrt(s)


register(norm2, lambda: (normal(64),), lambda: (np.zeros(3),))


def cumulative_max(a):
    for i in range(1, a.shape[0]):
        a[i] = max(a[i], a[i - 1])


register(cumulative_max, lambda: (normal(30, 4),), lambda: (randint(30, -5, 5, 4),))


def clip_inplace(a, lo, hi):
    n_clipped = 0
    for i in range(a.shape[0]):
        v = min(max(a[i], lo), hi)
        if v != a[i]:
            n_clipped += 1
        a[i] = v
    return n_clipped


register(clip_inplace, lambda: (normal(50, 5), -0.5, 0.5),
         lambda: (np.asfortranarray(matrix(5, 6))[:, 2], -1.0, 1.0))


def welford(a):
    mean = 0.0
    m2 = 0.0
    for i in range(a.shape[0]):
        delta = a[i] - mean
        mean += delta / (i + 1)
        m2 += delta * (a[i] - mean)
    return mean, m2 / (a.shape[0] - 1)


register(welford, lambda: (normal(200, 8),), lambda: (np.arange(10.0),))


def count_in_range(a, lo, hi):
    c = 0
    for i in range(a.shape[0]):
        if lo <= a[i] < hi:
            c += 1
    return c


register(count_in_range, lambda: (normal(500, 13), -1.0, 1.0),
         lambda: (randint(100, 0, 10, 1), 3, 7))


def reverse_inplace(a):
    i = 0
    j = a.shape[0] - 1
    while i < j:
        a[i], a[j] = a[j], a[i]
        i += 1
        j -= 1


register(reverse_inplace, lambda: (np.arange(9.0),), lambda: (randint(10, 0, 100),),
         lambda: (np.arange(20.0)[::3],))


def insertion_sort(a):
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = key


register(insertion_sort, lambda: (normal(40, 14),), lambda: (randint(25, -5, 5, 3),),
         lambda: (normal(40, 15)[::-2],))


def binary_search(a, x):
    lo = 0
    hi = a.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


register(binary_search, lambda: (np.arange(0.0, 100.0, 3.0), 50.0),
         lambda: (np.arange(0.0, 100.0, 3.0), -1.0), lambda: (np.arange(0.0, 100.0, 3.0), 1e9),
         lambda: (np.arange(20), 7))


def sieve_count(is_prime):
    n = is_prime.shape[0]
    for i in range(n):
        is_prime[i] = i >= 2
    i = 2
    while i * i < n:
        if is_prime[i]:
            for j in range(i * i, n, i):
                is_prime[j] = False
        i += 1
    count = 0
    for i in range(n):
        if is_prime[i]:
            count += 1
    return count


register(sieve_count, lambda: (np.zeros(100, dtype=np.bool_),),
         lambda: (np.zeros(1000, dtype=np.bool_),), lambda: (np.zeros(2, dtype=np.bool_),))


def sieve_uint8(flags):
    n = flags.shape[0]
    for i in range(n):
        flags[i] = 1
    flags[0] = 0
    flags[1] = 0
    for i in range(2, n):
        if flags[i] == 1:
            for j in range(2 * i, n, i):
                flags[j] = 0
    return n


register(sieve_uint8, lambda: (np.zeros(60, dtype=np.uint8),))


def bool_mask(mask, a):
    count = 0
    for i in range(a.shape[0]):
        mask[i] = a[i] > 0
        if mask[i]:
            count += 1
    return count, mask[0], not mask[1]


register(bool_mask, lambda: (np.zeros(20, dtype=np.bool_), normal(20, 6)))


def array_attrs(a):
    return a.ndim, a.size, len(a), a.shape[0]


register(array_attrs, lambda: (np.zeros(7),), lambda: (np.zeros((3, 4)),),
         lambda: (np.zeros((2, 3, 4), dtype=np.int32),), lambda: (np.zeros((5, 6))[::2, ::3],),
         lambda: (np.zeros((3, 4)).T,), lambda: (np.zeros((0, 3)),))


def shape_3d(t):
    n0, n1, n2 = t.shape
    return n0 * 10000 + n1 * 100 + n2, t.shape[1], t.shape[2], t.size


register(shape_3d, lambda: (np.zeros((2, 3, 4)),),
         lambda: (np.zeros((2, 3, 4)).transpose(2, 0, 1),))


def shape_tuple(t):
    return t.shape


register(shape_tuple, lambda: (np.zeros((2, 3, 4)),),
         lambda: (np.zeros((2, 3, 4)).transpose(2, 0, 1),))


def negative_indexing(a, m):
    first = a[-a.shape[0]]
    last = a[-1]
    a[-2] = 99.0
    corner = m[-1, -1]
    m[-1, 0] = -1
    return first, last, corner, m[-2, -1], a[-2]


register(negative_indexing, lambda: (normal(5), randint(12, 0, 50).reshape(3, 4)),
         lambda: (normal(10)[::-2], randint(12, 0, 50).reshape(4, 3).T))


def row_view(m, i):
    row = m[i]
    s = 0.0
    for j in range(len(row)):
        s += row[j]
        row[j] = j * 1.0
    last = m[-1]
    last[0] = -5.0
    return s, m[i][1], row.shape[0], m[i, 2]


register(row_view, lambda: (matrix(4, 3), 1), lambda: (matrix(4, 3, order="F"), 2),
         lambda: (matrix(3, 4).T, 0))


def sum_3d(t):
    s = 0.0
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            for k in range(t.shape[2]):
                s += t[i, j, k] * (i + 2 * j + 3 * k)
    return s


register(sum_3d, lambda: (normal(60).reshape(3, 4, 5),),
         lambda: (normal(60).reshape(3, 4, 5).transpose(2, 0, 1),),
         lambda: (np.asfortranarray(normal(60).reshape(3, 4, 5)),),
         lambda: (normal(120).reshape(6, 4, 5)[::2, :, ::-1],))


def fill_4d(q):
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            for k in range(q.shape[2]):
                for m in range(q.shape[3]):
                    q[i, j, k, m] = i * 1000 + j * 100 + k * 10 + m


register(fill_4d, lambda: (np.zeros((2, 3, 2, 4), dtype=np.int64),),
         lambda: (np.zeros((2, 3, 2, 4), order="F"),),
         lambda: (np.zeros((4, 3, 4, 4))[::2, :, 1::2, ::-1],))


def fill_index_2d(m):
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            m[i, j] = i * 10 + j


register(fill_index_2d, lambda: (np.zeros((3, 4)),), lambda: (np.zeros((3, 4), order="F"),),
         lambda: (np.zeros((4, 3)).T,), lambda: (np.zeros((7, 9))[1::2, ::3],),
         lambda: (np.zeros((3, 4), dtype=np.int32),))


def mandelbrot_grid(out, x0, x1, y0, y1, max_iter):
    n, m = out.shape
    for i in range(n):
        cy = y0 + (y1 - y0) * i / (n - 1)
        for j in range(m):
            cx = x0 + (x1 - x0) * j / (m - 1)
            zx = 0.0
            zy = 0.0
            k = 0
            while k < max_iter and zx * zx + zy * zy <= 4.0:
                zx, zy = zx * zx - zy * zy + cx, 2.0 * zx * zy + cy
                k += 1
            out[i, j] = k


register(mandelbrot_grid,
         lambda: (np.zeros((12, 16), dtype=np.int64), -2.0, 1.0, -1.2, 1.2, 50))


def trapezoid_gauss(a, b, n):
    h = (b - a) / n
    s = 0.5 * (_gauss(a) + _gauss(b))
    for i in range(1, n):
        s += _gauss(a + i * h)
    return s * h


def _gauss(x):
    return math.exp(-x * x)


register(trapezoid_gauss, (-3.0, 3.0, 100), (0.0, 1.0, 7))


# ===========================================================================
# Calls: plain Python helpers, recursion, keyword arguments, fl.jit functions
# ===========================================================================


def _cubic(x):
    return x * x * x - 2.0 * x - 5.0


def bisection(lo, hi, tol):
    flo = _cubic(lo)
    it = 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        fm = _cubic(mid)
        if (fm < 0) == (flo < 0):
            lo = mid
            flo = fm
        else:
            hi = mid
        it += 1
    return 0.5 * (lo + hi), it


register(bisection, (2.0, 3.0, 1e-12), (0.0, 5.0, 1e-6))


def gcd_loop(a, b):
    while b:
        a, b = b, a % b
    return abs(a)


register(gcd_loop, (48, 18), (17, 5), (0, 9), (-48, 18), (2**40, 2**35 * 3))


def gcd_rec(a, b):
    if b == 0:
        return abs(a)
    return gcd_rec(b, a % b)


register(gcd_rec, (48, 18), (1071, 462), (5, 0), (-12, 8))


def fib_rec(n):
    if n < 2:
        return n
    return fib_rec(n - 1) + fib_rec(n - 2)


register(fib_rec, (0,), (1,), (10,), (20,))


def fib_iter(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


register(fib_iter, (0,), (50,), (92,))


def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)


def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)


register(is_even, (0,), (7,), (10,))
register(is_odd, (0,), (7,), (10,))


def _factorial(n, acc=1):
    if n <= 1:
        return acc
    return _factorial(n - 1, acc * n)


def factorial_defaults(n):
    return _factorial(n), _factorial(n, 2), _factorial(n, acc=3), _factorial(acc=4, n=n)


register(factorial_defaults, (0,), (5,), (15,))


def _poly(x, a=1.0, b=0.0, c=0.0):
    return a + x * (b + x * c)


def keyword_calls(x):
    return (_poly(x), _poly(x, 2.0), _poly(x, c=3.0), _poly(x, b=-1.0, a=0.5),
            _poly(c=1.0, x=x), _poly(x, 1.0, 2.0, 3.0))


register(keyword_calls, (0.5,), (-2.0,))


def _clamp(v, lo=0, hi=255):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def quantize(a, out):
    for i in range(a.shape[0]):
        out[i] = _clamp(int(a[i] * 100.0), hi=200)


register(quantize, lambda: (normal(30, 3), np.zeros(30, dtype=np.int64)))


def _norm2(x, y):
    return math.sqrt(x * x + y * y)


def _scaled(x, factor=2.0):
    return x * factor


def _twice_via_py(x):
    return _cubic(x) * 2.0


jit_norm2 = fl.jit(_norm2)
jit_scaled = fl.jit(_scaled)
jit_twice_via_py = fl.jit(_twice_via_py)

register(_norm2, (3.0, 4.0), (-1.5, 2.0))


def call_jit_helper(a):
    s = 0.0
    for i in range(a.shape[0] - 1):
        s += jit_norm2(a[i], a[i + 1])
    return s + jit_twice_via_py(a[0])


register(call_jit_helper, lambda: (normal(20, 2),))


def call_jit_defaults(x):
    return jit_scaled(x), jit_scaled(x, 3.0), jit_scaled(x, factor=0.5)


register(call_jit_defaults, (1.5,), (-4.0,))


# ===========================================================================
# Module globals and closures (frozen at compile time)
# ===========================================================================

SCALE = 2.5
OFFSET = -1
COEFFS = np.array([1.0, -3.0, 0.5, 2.0])
SHAPE = (3, 4)
MIXED = (2, 0.5)
LOOKUP = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)


def use_globals(x):
    return x * SCALE + OFFSET, SHAPE[0] * SHAPE[1], MIXED[0] + MIXED[1], LOOKUP[1, 2]


register(use_globals, (2.0,), (-1.0,))


def horner_global(x):
    acc = 0.0
    for i in range(COEFFS.shape[0] - 1, -1, -1):
        acc = acc * x + COEFFS[i]
    return acc


register(horner_global, (0.0,), (1.5,), (-2.0,))


def lookup_global(out):
    rows, cols = LOOKUP.shape
    total = 0
    for i in range(rows):
        for j in range(cols):
            out[i * cols + j] = LOOKUP[i, j] * 2
            total += LOOKUP[i, j]
    return total, len(COEFFS)


register(lookup_global, lambda: (np.zeros(6, dtype=np.int64),))


def _make_affine(scale, shift):
    def affine_closure(a):
        for i in range(a.shape[0]):
            a[i] = a[i] * scale + shift

    return affine_closure


affine_closure = _make_affine(3.0, -1.0)
register(affine_closure, lambda: (normal(8),), lambda: (normal(16)[::2],))


def _make_weighted(weights, bounds):
    def weighted_clip_closure(a):
        lo, hi = bounds
        s = 0.0
        for i in range(weights.shape[0]):
            v = a[i] * weights[i]
            s += min(max(v, lo), hi)
        return s

    return weighted_clip_closure


weighted_clip_closure = _make_weighted(np.array([0.5, 2.0, -1.0, 4.0]), (-1.0, 1.5))
register(weighted_clip_closure, lambda: (np.array([1.0, 1.0, 1.0, 1.0]),),
         lambda: (normal(4, 3),))


def _make_counter_kernel(limit):
    def count_below_closure(a):
        c = 0
        for i in range(a.shape[0]):
            if a[i] < limit:
                c += 1
        return c

    return count_below_closure


count_below_closure = _make_counter_kernel(3)
register(count_below_closure, lambda: (randint(20, 0, 6),))


# ===========================================================================
# Options: boundscheck and fastmath
# ===========================================================================


def checked_get(a, i):
    return a[i]


register(checked_get, lambda: (np.arange(5.0), 2), lambda: (np.arange(5.0), -1),
         lambda: (np.arange(5.0), -5), Err(IndexError, lambda: (np.arange(5.0), 5)),
         Err(IndexError, lambda: (np.arange(5.0), -6)),
         Err(IndexError, lambda: (np.arange(5.0), 100)),
         Err(IndexError, lambda: (np.arange(10.0)[::2], 5)),
         options={"boundscheck": True})


def checked_set_2d(m, i, j, v):
    m[i, j] = v


register(checked_set_2d, lambda: (np.zeros((3, 4)), 2, 3, 1.0),
         lambda: (np.zeros((3, 4)), 0, -4, 1.0),
         Err(IndexError, lambda: (np.zeros((3, 4)), 3, 0, 1.0)),
         Err(IndexError, lambda: (np.zeros((3, 4)), 0, 4, 1.0)),
         Err(IndexError, lambda: (np.zeros((3, 4)), -4, 0, 1.0)),
         Err(IndexError, lambda: (np.zeros((4, 3)).T, 0, 4, 1.0)),
         options={"boundscheck": True})


def checked_overrun(a, n):
    # writes a[0..n-1]: the elements before the bad index are written before the raise
    for i in range(n):
        a[i] = i * 1.5
    return n


register(checked_overrun, lambda: (np.zeros(5), 5), Err(IndexError, lambda: (np.zeros(5), 8)),
         options={"boundscheck": True})


def checked_row(m, i):
    row = m[i]
    return row[0] + row[-1]


register(checked_row, lambda: (matrix(3, 4), 2), Err(IndexError, lambda: (matrix(3, 4), 3)),
         Err(IndexError, lambda: (matrix(3, 4), -4)), options={"boundscheck": True})


def fastmath_sum_squares(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


register(fastmath_sum_squares, lambda: (normal(1000, 21),), options={"fastmath": True},
         rtol=1e-12, label="fastmath_sum_squares")


def nocache_kernel(x, n):
    acc = x
    for _ in range(n):
        acc = acc * 0.5 + 1.0
    return acc


register(nocache_kernel, (10.0, 20), options={"cache": False, "fastmath": False,
                                             "boundscheck": False})


# ===========================================================================
# Evaluation order, loop semantics, aliasing
# ===========================================================================


def _record(log, v):
    k = log[0] + 1
    log[0] = k
    log[k] = v
    return v


def _sub2(a, b):
    return a - b


def evaluation_order(log, a):
    x = _sub2(_record(log, 1), _record(log, 2))  # arguments left to right
    y = _record(log, 3) - _record(log, 4) * _record(log, 5)  # operands left to right
    a[_record(log, 6)] = _record(log, 7)  # plain assignment: value before target index
    a[_record(log, 0)] += _record(log, 8)  # augmented: target index before value
    z = _record(log, 9) < _record(log, 1) < _record(log, 10)  # third operand not evaluated
    w = _record(log, 0) or _record(log, 11)
    t = _record(log, 12) if _record(log, 13) > 0 else _record(log, 14)
    return x, y, z, w, t


register(evaluation_order,
         lambda: (np.zeros(20, dtype=np.int64), np.zeros(10, dtype=np.int64)))


def chain_middle_once(log, v):
    # the middle operand of a chain is evaluated once
    return 0 < _record(log, v) < 10, log[0]


register(chain_middle_once, lambda: (np.zeros(4, dtype=np.int64), 5),
         lambda: (np.zeros(4, dtype=np.int64), -5))


def unpack_target_order(a):
    i = 0
    i, a[i] = 2, 5  # i is bound first, then a[2] = 5
    j = 1
    a[j], j = 7, 3  # a[1] = 7, then j = 3
    return i, j


register(unpack_target_order, lambda: (np.zeros(4, dtype=np.int64),))


def loop_var_reassigned(n):
    total = 0
    for i in range(n):
        total += i
        i = 100  # does not change the iteration
    return total, i


register(loop_var_reassigned, (1,), (5,))


def range_evaluated_once(n):
    count = 0
    for _ in range(n):
        n -= 1
        count += 1
    return count, n


register(range_evaluated_once, (0,), (6,))


def stop_changed_in_loop(a):
    stop = a.shape[0]
    for i in range(stop):
        stop = 0
        a[i] = i
    return stop


register(stop_changed_in_loop, lambda: (np.zeros(5),))


def big_range_break(start):
    count = 0
    for i in range(start, I64_MAX):
        if i - start > 5:
            break
        count += 1
    return count


register(big_range_break, (0,), (I64_MIN,), (I64_MAX - 3,))


register(range_count_last, (I64_MAX, I64_MIN, -(2**62)), (I64_MIN, I64_MAX, 2**62),
         (I64_MAX - 3, I64_MAX, 1), (I64_MIN + 3, I64_MIN, -1), (I64_MIN, I64_MAX, I64_MAX),
         label="range_count_last_extremes")


def while_continue_else(n):
    i = 0
    odd = 0
    while i < n:
        i += 1
        if i % 2 == 0:
            continue
        odd += i
    else:
        odd = -odd
    return odd, i


register(while_continue_else, (0,), (7,))


def for_continue_else(a):
    total = 0.0
    for i in range(a.shape[0]):
        if a[i] < 0:
            continue
        total += a[i]
    else:
        total *= 2.0
    return total


register(for_continue_else, lambda: (np.array([1.0, -1.0, 2.0, -3.0]),))


def _same(a):
    return a, a


register(stencil_1d, lambda: _same(normal(20, 31)), label="stencil_1d_aliased")
register(axpy, lambda: (lambda b: (2.0, b[:-1], b[1:]))(normal(16, 32)),
         lambda: (lambda b: (2.0, b[1:], b[:-1]))(normal(16, 33)),
         lambda: (lambda b: (-0.5, b[::2], b[1::2]))(normal(16, 34)),
         label="axpy_overlapping")
register(matvec, lambda: (matrix(4, 4, 35), *_same(normal(4, 36))), label="matvec_aliased")
register(matvec, lambda: (matrix(4, 5, 37)[::-1, ::-1], normal(5, 1), np.zeros(4)),
         label="matvec_reversed")


def copy_shift(src, dst):
    for i in range(src.shape[0]):
        dst[i] = src[i] + 1.0


register(copy_shift, lambda: (lambda b: (b[:-2], b[2:]))(np.arange(12.0)),
         lambda: (lambda b: (b[2:], b[:-2]))(np.arange(12.0)),
         lambda: (lambda m: (m[0], m[:, 0]))(np.arange(16.0).reshape(4, 4)))


# ===========================================================================
# More dtypes: NumPy promotion and wrap-around of small and unsigned ints
# ===========================================================================


def uint64_ops(u):
    return (u[0] - 1, u[1] // 3, u[1] % 10, u[1] > u[2], u[2] > u[1], float(u[1]),
            u[1] / u[2], u[2] * 2, u[2] >> 1, u[1] == u[1], u[0] < 1)


register(uint64_ops, lambda: (np.array([0, 2**64 - 1, 2**63 + 5], dtype=np.uint64),))


def int32_wrap(a):
    # NumPy int32 arithmetic wraps at 32 bits
    return (a[0] * a[1], a[0] + a[0], -a[2], a[0] // a[3], a[0] % a[3], a[0] / a[3],
            abs(a[2]), a[2] - 1)


register(int32_wrap, lambda: (np.array([2**30, 4, -(2**31), -7], dtype=np.int32),))


def int8_divmod(a):
    return (a[0] // 2, a[0] % 3, a[1] % -3, a[1] // -3, a[0] ** 2, abs(a[2]), a[0] / a[1],
            a[0] / 3, a[2] // a[0], -a[2])


register(int8_divmod, lambda: (np.array([-7, 7, -128], dtype=np.int8),))


def uint8_bits(a):
    return ~a[0], a[1] << 1, -a[2], a[0] ^ 0xFF, a[1] >> 3, a[0] & a[1], a[0] | 0x80


register(uint8_bits, lambda: (np.array([5, 200, 1], dtype=np.uint8),))


def promotion_table(f32, i8, i16, u16, i32, u32, u8, b):
    return (f32[0] + i8[0], f32[0] + i16[0], f32[0] + u16[0], f32[0] + i32[0],
            i8[0] + u16[0], u32[0] + i32[0], u8[0] + i8[0], b[0] + i8[1], b[0] + f32[0],
            i8[0] + i16[0], u16[0] + i16[0], i16[0] * i16[0], u8[0] * u8[0], i8[0] * 1.5,
            f32[0] * i8[0])


register(promotion_table, lambda: (
    np.array([0.1], dtype=np.float32), np.array([100, 127], dtype=np.int8),
    np.array([32700], dtype=np.int16), np.array([60000], dtype=np.uint16),
    np.array([2**30], dtype=np.int32), np.array([4000000000], dtype=np.uint32),
    np.array([200], dtype=np.uint8), np.array([True])))


def mixed_sign_compare(u, i):
    # NumPy compares uint64 with int64 exactly (no rounding through float64)
    return u[0] == i[0], u[0] > i[0], u[1] > i[1], u[1] < i[1], u[0] != i[0]


register(mixed_sign_compare, lambda: (np.array([2**63, 5], dtype=np.uint64),
                                      np.array([2**63 - 1, -1], dtype=np.int64)))


def float32_divmod(a):
    return a[0] // a[1], a[0] % a[1], a[2] % a[1], a[2] // a[1], a[0] % 2, a[2] // 0.5


register(float32_divmod, lambda: (np.array([-7.5, 2.0, 7.3], dtype=np.float32),),
         lambda: (np.array([7.3, -2.1, -0.0], dtype=np.float32),),
         lambda: (np.array([1e-3, 3.3, -1e6], dtype=np.float32),))


def float32_literal_compare(a):
    # NEP 50: the literal is weak, so the comparison happens in float32
    return a[0] == 0.1, a[0] < 0.1, a[0] > 0.1, a[1] != 0.2, a[1] >= 1e-50


register(float32_literal_compare, lambda: (np.array([0.1, 0.2], dtype=np.float32),))


def store_casts(src_f, src_i, dst_i, dst_f32, dst_b, dst_u8, dst_f32b):
    for k in range(src_f.shape[0]):
        dst_i[k] = src_f[k]  # float -> int truncates toward zero
        dst_f32[k] = src_f[k]  # rounds to float32
        dst_b[k] = src_f[k]  # nonzero -> True
    for k in range(src_i.shape[0]):
        dst_u8[k] = src_i[k] % 256
        dst_f32b[k] = src_i[k]  # int64 -> float32 rounding


register(store_casts, lambda: (
    np.array([2.7, -2.7, 0.0, 0.1, -0.0, 1e10]), np.array([1, 2**40 + 1, 255, 2**62 + 2**38]),
    np.zeros(6, dtype=np.int64), np.zeros(6, dtype=np.float32), np.zeros(6, dtype=np.bool_),
    np.zeros(4, dtype=np.uint8), np.zeros(4, dtype=np.float32)))


def bool_store_nan(dst, x):
    dst[0] = x
    dst[1] = x * 0.0
    return dst[0]


register(bool_store_nan, lambda: (np.zeros(2, dtype=np.bool_), NAN),
         lambda: (np.zeros(2, dtype=np.bool_), 0.0))


def math_mixed_inputs(a, n):
    return (math.sqrt(a[0]), math.floor(a[1]), math.sqrt(n), math.floor(n), math.exp(a[0]),
            math.isnan(a[2]), math.ceil(n), abs(a[1]))


register(math_mixed_inputs, lambda: (np.array([2.0, -1.5, NAN], dtype=np.float32), 10))


def bool_arith(flag, n):
    return flag + 1, flag * 2.5, n + flag, int(flag) * 3, n * flag, flag == 1


register(bool_arith, (True, 5), (False, -2))


def shape_negative_index(m):
    return m.shape[-1], m.shape[-2], len(m[0])


register(shape_negative_index, lambda: (np.zeros((3, 5)),), lambda: (np.zeros((2, 3, 4)),))


def shape_runtime_index(m, k):
    # a.shape[k] with k not a literal
    return m.shape[k], m.shape[m.ndim - 1]


register(shape_runtime_index, lambda: (np.zeros((3, 5, 7)), 0),
         lambda: (np.zeros((3, 5, 7)), 2), lambda: (np.zeros((3, 5, 7)), -1))


def constant_folding():
    return (-2 ** 2, 2 ** 3 ** 2, 7 // -2, -7 % 3, 7.5 // -2, 1 / 3, 10 ** 18, (1 << 62) // 3,
            not 0, 3 < 2 < 1, -(3 - 6), ~5, 0.1 + 0.2, 2 ** 0.5, -7 // 2.0)


register(constant_folding, ())


def literal_forms(x):
    return (x + 1e-320, x * 1.7976931348623157e308, 0x7F + 0o17 + 0b101, 1_000_000 + x,
            x == -0.0, 5e-324 / 2, -0.0 * x, 1e308 * 10.0)


register(literal_forms, (1.0,), (-0.0,), (0.0,))


def many_args(a, b, c, d, e, f, g, h, i, j, k, m):
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j + \
        11 * k + 12 * m


register(many_args, (1, 2.0, 3, 4.0, 5, 6.0, 7, 8.0, 9, 10.0, 11, 12.0),
         (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))


def _minmax_rec(a, lo, hi):
    if hi - lo == 1:
        return a[lo], a[lo]
    mid = (lo + hi) // 2
    mn1, mx1 = _minmax_rec(a, lo, mid)
    mn2, mx2 = _minmax_rec(a, mid, hi)
    return min(mn1, mn2), max(mx1, mx2)


def minmax_recursive(a):
    return _minmax_rec(a, 0, a.shape[0])


register(minmax_recursive, lambda: (normal(37, 40),), lambda: (randint(10, -50, 50, 2),),
         lambda: (normal(40, 41)[::-3],))


def _sum_even(a, i):
    if i >= a.shape[0]:
        return 0.0
    return a[i] + _sum_odd(a, i + 1)


def _sum_odd(a, i):
    if i >= a.shape[0]:
        return 0.0
    return -a[i] + _sum_even(a, i + 1)


def alternating_sum_mutual(a):
    return _sum_even(a, 0)


register(alternating_sum_mutual, lambda: (normal(25, 42),), lambda: (np.zeros(0),))


def fastmath_nan_skip(a):
    # fastmath allows reassociation only: NaN / inf tests must keep working
    s = 0.0
    nans = 0
    infs = 0
    for i in range(a.shape[0]):
        if math.isnan(a[i]):
            nans += 1
            continue
        if math.isinf(a[i]) or a[i] != a[i]:
            infs += 1
            continue
        s += a[i]
    return s, nans, infs, math.isnan(s), s * 0.0


register(fastmath_nan_skip,
         lambda: (np.where(np.arange(300) % 7 == 0, NAN, normal(300, 43)),),
         lambda: (np.array([1.0, INF, NAN, -INF, 2.0]),),
         options={"fastmath": True}, rtol=1e-12)


def fastmath_int_sum(a):
    s = 0
    for i in range(a.shape[0]):
        s += a[i] * 3
    return s


register(fastmath_int_sum, lambda: (randint(500, -1000, 1000, 44),), options={"fastmath": True})


register(checked_get, lambda: (np.arange(5.0)[::-1], -1), lambda: (np.arange(5.0)[::-1], 4),
         Err(IndexError, lambda: (np.arange(5.0)[::-1], 5)),
         Err(IndexError, lambda: (np.arange(5.0)[::-1], -6)),
         Err(IndexError, lambda: (np.zeros(0), 0)),
         Err(IndexError, lambda: (np.zeros(0), -1)),
         options={"boundscheck": True}, label="checked_get_views")


def numpy_scalar_args(i8, u8, i16, u32, f32):
    # NumPy scalars as arguments keep their dtype
    return i8 + 1, u8 - 1, i16 * 2, u32 + 1, f32 * 3.0, i8 + u8, f32 + i16


register(numpy_scalar_args, (np.int8(127), np.uint8(0), np.int16(-3), np.uint32(2**32 - 1),
                             np.float32(0.1)))


def uint64_scalar_arg(u, v):
    return u + v, u > v, u // v, u - v


register(uint64_scalar_arg, (np.uint64(2**63 + 1), np.uint64(3)),
         (np.uint64(2), np.uint64(2**64 - 1)))


def while_true_break(n):
    i = 0
    total = 0
    while True:
        i += 1
        if i % 3 == 0:
            continue
        total += i
        if i >= n:
            break
    return total, i


register(while_true_break, (1,), (10,))


def complex_conditions(a, b, c):
    r = 0
    if not (a and b) or c:
        r += 1
    if a > 0 and (b < 0 or c == 0) and not a == b:
        r += 10
    if (a or b) and (b or c) and not (a and b and c):
        r += 100
    return r


register(complex_conditions, (0, 0, 0), (1, -1, 0), (1, 2, 3), (0, 5, 1), (2, 2, 0))


def chained_assignment(n):
    x = y = n * 2
    a = b = c = 0.5
    x += 1
    return x, y, a + b + c


register(chained_assignment, (3,), (-1,))


F32_GLOBAL = np.float32(0.1)
I8_GLOBAL = np.int8(100)
FLAG_GLOBAL = True


def numpy_scalar_globals(a):
    # np.float32 / np.int8 globals keep their dtype; a bool global is a bool
    x = a[0] * F32_GLOBAL
    y = I8_GLOBAL + 100
    z = 1 if FLAG_GLOBAL else 2
    return x, y, z, F32_GLOBAL == 0.1


register(numpy_scalar_globals, lambda: (np.array([3.0], dtype=np.float32),),
         lambda: (np.array([3.0]),))


def float32_pow_int(a):
    return a[0] ** 2, a[1] ** 3, int(a[0]), int(a[1]), float(a[0]), bool(a[2])


register(float32_pow_int, lambda: (np.array([1.1, -2.7, NAN], dtype=np.float32),))


def mixed_return_types(x):
    # int in one return, float in another: float64 in frostline (documented unification)
    if x > 0:
        return 1
    return 0.5


register(mixed_return_types, (1.0,), (-1.0,), loose_kind=True)


def _checked_sqrt(x):
    if x < 0:
        raise ValueError("negative")
    return math.sqrt(x)


jit_checked_sqrt = fl.jit(_checked_sqrt)


def call_raising_jit(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += jit_checked_sqrt(a[i])
        a[i] = s
    return s


register(call_raising_jit, lambda: (np.array([1.0, 4.0, 9.0]),),
         Err(ValueError, lambda: (np.array([1.0, -4.0, 9.0]),)), check_message=True)


def _fill_value(a, v):
    for i in range(a.shape[0]):
        a[i] = v


def _row_sum(row):
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j]
    return s


def _double(v):
    return v * 2


def helpers_with_views(m, out):
    for i in range(m.shape[0]):
        out[i] = _row_sum(m[i])
    _fill_value(m[0], -1.0)  # helper without a return value, on a row view
    return _double(3), _double(1.5), _double(m.shape[1]), _double(out[0])


register(helpers_with_views, lambda: (matrix(3, 4, 50), np.zeros(3)),
         lambda: (matrix(4, 3, 51).T, np.zeros(6)[::2]))


def _make_tuple_closure(params):
    def tuple_closure(x):
        return params[0] * x + params[-1], params[1]

    return tuple_closure


tuple_closure = _make_tuple_closure((2, 0.5, -3))
register(tuple_closure, (1.5,), (-2.0,))


# ===========================================================================
# Documented deliberate differences (compiled behaviour asserted explicitly)
# ===========================================================================


def int_add(a, b):
    return a + b


register(int_add, (2, 3), (-(2**62), -(2**62)))
# fixed-width int64: overflow wraps
CASES.append(Case(int_add, _const((I64_MAX, 1)), "int_add-wrap", expected=I64_MIN,
                  note="int64 overflow wraps"))


def int_mul(a, b):
    return a * b


register(int_mul, (3, -4), (2**31, 2**31))
CASES.append(Case(int_mul, _const((2**62, 4)), "int_mul-wrap0", expected=0,
                  note="int64 overflow wraps"))
CASES.append(Case(int_mul, _const((3037000500, 3037000500)), "int_mul-wrap1",
                  expected=wrap_i64(3037000500 * 3037000500), note="int64 overflow wraps"))
CASES.append(Case(fib_iter, _const((100,)), "fib_iter-wrap", expected=wrap_i64(
    354224848179261915075), note="int64 overflow wraps"))


def int_pow(b, e):
    return b ** e


register(int_pow, (2, 10), (-3, 5), (7, 0), (0, 0))
# NumPy's rule: integer ** negative integer raises ValueError (CPython returns a float)
CASES.append(Case(int_pow, _const((2, -1)), "int_pow-negexp", expected_raises=ValueError,
                  note="int ** negative int raises ValueError"))
CASES.append(Case(int_pow, _const((-3, -2)), "int_pow-negexp2", expected_raises=ValueError,
                  note="int ** negative int raises ValueError"))
CASES.append(Case(int_pow, _const((3, 41)), "int_pow-wrap", expected=wrap_i64(3**41),
                  note="int64 overflow wraps"))


# Int literals outside a narrow element type compare exactly (NumPy 2), not wrapped
def narrow_literal_compare(a):
    return a[0] < 300, a[0] > -1, 300 > a[0], -1 < a[0] < 300, a[0] == 256


register(narrow_literal_compare, lambda: (np.array([250], dtype=np.uint8),),
         lambda: (np.array([100], dtype=np.int8),),
         lambda: (np.array([-5], dtype=np.int16),))


# Parameters take the type of what is assigned to them, as Python variables do
def param_widened(n):
    n = n / 2
    return n


def param_scaled(x, k):
    for _ in range(k):
        x = x * 0.5
    return x


register(param_widened, (3,), (-7,))
register(param_scaled, (1, 3), (5, 2))


def int64_min_literal(x):
    return x > -9223372036854775808, -9223372036854775808 + x


register(int64_min_literal, (5,), (1,))


# NumPy 2: np.floor/ceil/trunc keep integer (and bool) types
def np_rounding_ints(n, m, f):
    return np.floor(n), np.ceil(m), np.trunc(n), np.floor(f), np.ceil(f)


register(np_rounding_ints, (np.int64(3), np.int8(-4), -2.5), (np.int64(-7), np.int8(9), 2.5))
