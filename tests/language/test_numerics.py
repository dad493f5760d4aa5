"""Numerics that equal CPython's (and NumPy's) bit for bit, found by differential fuzzing.

``math.gamma``, ``math.lgamma`` and ``math.hypot`` are CPython's own algorithms, not the C
library's; ``**``, ``math.pow`` and ``np.power`` are the C library's ``pow``, which LLVM
must not rewrite; ``np.maximum`` and friends keep NumPy's zero ties; ``int / int`` is the
correctly rounded quotient.  Each kernel compiles once; hypothesis and fixed grids then
call it on many inputs, and floats compare by their bits (any nan equals any nan).
"""

import ctypes
import ctypes.util
import functools
import math
import re
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import frostline as fl

I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
FAST = settings(max_examples=150, deadline=None)

# NumPy's power is SVML's on AVX-512 machines, which differs from the C library in
# the last bit; frostline's np.power calls the C library's pow and powf, as CPython
# does for ``**``, so those are the references.
_LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
_LIBM.pow.restype, _LIBM.pow.argtypes = ctypes.c_double, [ctypes.c_double] * 2
_LIBM.powf.restype, _LIBM.powf.argtypes = ctypes.c_float, [ctypes.c_float] * 2


def c_pow(x: float, y: float) -> float:
    return float(_LIBM.pow(x, y))


def c_powf(x: float, y: float) -> np.float32:
    return np.float32(_LIBM.powf(x, y))
floats = st.floats(allow_nan=True, allow_infinity=True)


@functools.cache
def exe(fn: Any, sig: str, fastmath: bool = False) -> Any:
    return fl.jit(fn, fastmath=fastmath).compile(sig)


def same_float(a: float, b: float) -> bool:
    """Equal bits, or both nan."""
    return (a != a and b != b) or struct.pack("<d", a) == struct.pack("<d", b)


def outcome(fn: Any, *args: Any) -> tuple[Any, tuple[str, str] | None]:
    try:
        return fn(*args), None
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        return None, (type(exc).__name__, str(exc))


def check(ref: Any, kernel: Any, *args: Any) -> None:
    """The kernel returns the bits CPython returns, or raises what CPython raises."""
    (want, want_err), (got, got_err) = outcome(ref, *args), outcome(kernel, *args)
    assert got_err == want_err, f"{args}: frostline {got_err or got!r}, " \
        f"CPython {want_err or want!r}"
    if want_err is None:
        assert same_float(float(got), float(want)), f"{args}: frostline {got!r} " \
            f"({float(got).hex()}), CPython {want!r} ({float(want).hex()})"


def check_grid(ref: Any, kernel: Any, *columns: np.ndarray) -> None:
    """An array kernel over many inputs CPython does not raise on, compared bit by bit."""
    expected = np.array([ref(*row) for row in zip(*(c.tolist() for c in columns), strict=True)])
    got = np.empty(len(expected))
    kernel(*columns, got)
    bad = np.flatnonzero((got.view(np.uint64) != expected.view(np.uint64))
                         & ~(np.isnan(got) & np.isnan(expected)))
    rows = [(tuple(float(c[i]) for c in columns), float(got[i]), float(expected[i]))
            for i in bad[:5]]
    assert not len(bad), f"{len(bad)} of {len(got)} differ (args, frostline, CPython): {rows}"


def raises_in_cpython(ref: Any, *args: float) -> bool:
    return outcome(ref, *args)[1] is not None


RNG = np.random.default_rng(20240611)


def near(values: np.ndarray, ulps: int) -> np.ndarray:
    """The values and their neighbours up to ``ulps`` ulps away."""
    out = [values]
    for direction in (math.inf, -math.inf):
        v = values
        for _ in range(ulps):
            v = np.nextafter(v, direction)
            out.append(v)
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------
# math.gamma and math.lgamma: CPython's Lanczos approximation, not tgamma/lgamma of libm
# ---------------------------------------------------------------------------------------


def k_gamma(x):
    return math.gamma(x)


def k_lgamma(x):
    return math.lgamma(x)


def k_gamma_grid(x, out):
    for i in range(x.shape[0]):
        out[i] = math.gamma(x[i])


def k_lgamma_grid(x, out):
    for i in range(x.shape[0]):
        out[i] = math.lgamma(x[i])


GAMMA_GRID = np.concatenate([
    RNG.uniform(-200.0, 200.0, 6000), RNG.uniform(-25.0, 25.0, 4000), RNG.uniform(0.0, 6.0, 2000),
    RNG.choice([-1.0, 1.0], 3000) * 10.0 ** RNG.uniform(-320.0, 3.0, 3000),
    near(np.arange(-199.0, 200.0) + 0.5, 1), near(np.arange(-30.0, 31.0), 2),
    near(np.array([140.0, 5.0, 5.524680040776729, 171.6243769563027, 200.0, 1e-20, -1e-20]), 3),
])
GAMMA_ERRORS = [0.0, -0.0, -1.0, -2.0, -171.0, -1e300, -math.inf, 171.7, 1e300, 5e-324,
                -5e-324, 1e-310]
LGAMMA_ERRORS = [0.0, -0.0, -1.0, -2.0, -1e300, -(2.0**53), 2.6e305, 1.7976931348623157e308]


def test_lgamma_of_infinities_is_inf():
    f = exe(k_lgamma, "float64")
    assert f(-math.inf) == math.inf
    assert f(math.inf) == math.inf
    assert math.isnan(f(math.nan))


def test_gamma_is_bit_exact_on_a_grid():
    xs = GAMMA_GRID[[not raises_in_cpython(math.gamma, x) for x in GAMMA_GRID.tolist()]]
    check_grid(math.gamma, exe(k_gamma_grid, "float64[::1], float64[::1]"), xs)


def test_lgamma_is_bit_exact_on_a_grid():
    xs = np.concatenate([GAMMA_GRID, RNG.choice([-1.0, 1.0], 3000) * 10.0 ** RNG.uniform(
        0.0, 305.0, 3000), near(np.array([1.0, 2.0, -2.457024738220801, -2.7476826467274127]),
                                20)])
    xs = xs[[not raises_in_cpython(math.lgamma, x) for x in xs.tolist()]]
    check_grid(math.lgamma, exe(k_lgamma_grid, "float64[::1], float64[::1]"), xs)


@pytest.mark.parametrize("x", GAMMA_ERRORS + [math.inf, math.nan, 23.0, 24.0, -200.5, -250.5])
def test_gamma_errors_and_special_values(x: float) -> None:
    check(math.gamma, exe(k_gamma, "float64"), x)


@pytest.mark.parametrize("x", LGAMMA_ERRORS + [math.inf, -math.inf, math.nan, 1.0, 2.0, 1e-300])
def test_lgamma_errors_and_special_values(x: float) -> None:
    check(math.lgamma, exe(k_lgamma, "float64"), x)


@FAST
@given(st.one_of(floats, st.floats(-200.0, 200.0)))
@example(0.5)
@example(-0.5)
@example(171.5)
def test_gamma_matches_cpython(x: float) -> None:
    check(math.gamma, exe(k_gamma, "float64"), x)


@FAST
@given(st.one_of(floats, st.floats(-30.0, 30.0)))
@example(-2.5)
@example(2.5e305)
def test_lgamma_matches_cpython(x: float) -> None:
    check(math.lgamma, exe(k_lgamma, "float64"), x)


# ---------------------------------------------------------------------------------------
# math.hypot: CPython's vector_norm for every number of arguments, two included
# ---------------------------------------------------------------------------------------


def k_hypot1(v, out):
    for i in range(v.shape[0]):
        out[i] = math.hypot(v[i, 0])


def k_hypot2(v, out):
    for i in range(v.shape[0]):
        out[i] = math.hypot(v[i, 0], v[i, 1])


def k_hypot3(v, out):
    for i in range(v.shape[0]):
        out[i] = math.hypot(v[i, 0], v[i, 1], v[i, 2])


def k_hypot5(v, out):
    for i in range(v.shape[0]):
        out[i] = math.hypot(v[i, 0], v[i, 1], v[i, 2], v[i, 3], v[i, 4])


def k_hypot64(v, out):
    for i in range(v.shape[0]):
        r = v[i]
        out[i] = math.hypot(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
            r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20], r[21], r[22], r[23], r[24],
            r[25], r[26], r[27], r[28], r[29], r[30], r[31], r[32], r[33], r[34], r[35], r[36],
            r[37], r[38], r[39], r[40], r[41], r[42], r[43], r[44], r[45], r[46], r[47], r[48],
            r[49], r[50], r[51], r[52], r[53], r[54], r[55], r[56], r[57], r[58], r[59], r[60],
            r[61], r[62], r[63])


HYPOT_KERNELS = {1: k_hypot1, 2: k_hypot2, 3: k_hypot3, 5: k_hypot5, 64: k_hypot64}


def hypot_rows(n: int, rows: int) -> np.ndarray:
    """Ordinary, huge, tiny and subnormal vectors, with a sprinkle of zeros, infs and nans."""
    parts = [RNG.standard_normal((rows, n)),
             RNG.choice([-1.0, 1.0], (rows, n)) * 10.0 ** RNG.uniform(-310.0, 308.0, (rows, n)),
             RNG.uniform(0.0, 1.0, (rows, n)) * 10.0 ** RNG.integers(-320, 300, (rows, 1)),
             RNG.standard_normal((rows // 2, n)) * 1e-310]
    v = np.concatenate(parts)
    special = RNG.random(v.shape) < 0.01
    v[special] = RNG.choice([0.0, -0.0, math.inf, -math.inf, math.nan], int(special.sum()))
    return np.ascontiguousarray(v)


@pytest.mark.parametrize("n", sorted(HYPOT_KERNELS))
def test_hypot_is_bit_exact(n: int) -> None:
    v = hypot_rows(n, 4000 if n <= 5 else 300)
    kernel = exe(HYPOT_KERNELS[n], "float64[:, ::1], float64[::1]")
    got = np.empty(len(v))
    kernel(v, got)
    expected = np.array([math.hypot(*row) for row in v.tolist()])
    bad = np.flatnonzero((got.view(np.uint64) != expected.view(np.uint64))
                         & ~(np.isnan(got) & np.isnan(expected)))
    assert not len(bad), [(v[i].tolist(), got[i], expected[i]) for i in bad[:3]]


def k_hypot_2(x, y):
    return math.hypot(x, y)


def k_hypot_3(x, y, z):
    return math.hypot(x, y, z)


@FAST
@given(floats, floats, floats)
@example(math.inf, math.nan, 1.0)
@example(math.nan, -math.inf, 0.0)
@example(0.0, -0.0, 0.0)
@example(1e-310, 3e-311, 5e-324)
@example(1.7976931348623157e308, 1.7976931348623157e308, 1.0)
def test_hypot_matches_cpython(x: float, y: float, z: float) -> None:
    check(math.hypot, exe(k_hypot_2, "float64, float64"), x, y)
    check(math.hypot, exe(k_hypot_3, "float64, float64, float64"), x, y, z)


# ---------------------------------------------------------------------------------------
# pow: the C library's, as CPython and NumPy call it; LLVM must not rewrite it
# ---------------------------------------------------------------------------------------


def k_pow_forms(x):
    return (8.0 ** x, math.pow(8.0, x), math.pow(2.0, x), np.power(2.0, x), 10.0 ** x,
            abs(x) ** 0.5, x ** 2.0, x ** 3.0)


def ref_pow_forms(x):
    return (8.0 ** x, math.pow(8.0, x), math.pow(2.0, x), c_pow(2.0, x), 10.0 ** x,
            abs(x) ** 0.5, x ** 2.0, x ** 3.0)


def k_pow_grid(x, y, out):
    for i in range(x.shape[0]):
        out[i] = x[i] ** y[i]


def k_math_pow_grid(x, y, out):
    for i in range(x.shape[0]):
        out[i] = math.pow(x[i], y[i])


def k_np_power_grid(x, y, out):
    for i in range(x.shape[0]):
        out[i] = np.power(x[i], y[i])


def k_np_power(x, y):
    return np.power(x, y)


@FAST
@given(st.floats(-300.0, 300.0))
@example(0.5)
@example(-1.5)
@example(1.0 / 3.0)
def test_constant_base_and_exponent_pow_is_libm_pow(x: float) -> None:
    with np.errstate(all="ignore"):
        want = ref_pow_forms(x)
    got = exe(k_pow_forms, "float64")(x)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert same_float(g, w), f"form {i} at {x!r}: frostline {g!r}, CPython {w!r}"


@pytest.mark.parametrize("kernel,ref", [(k_pow_grid, lambda x, y: x ** y),
                                        (k_math_pow_grid, math.pow),
                                        (k_np_power_grid, c_pow)],
                         ids=["**", "math.pow", "np.power"])
def test_pow_is_bit_exact_on_a_grid(kernel: Any, ref: Any) -> None:
    x = np.concatenate([RNG.uniform(0.0, 10.0, 4000), 10.0 ** RNG.uniform(-100.0, 100.0, 2000),
                        RNG.uniform(-10.0, 10.0, 2000).round()])
    y = np.concatenate([RNG.uniform(-40.0, 40.0, 4000), RNG.uniform(-3.0, 3.0, 2000),
                        RNG.uniform(-40.0, 40.0, 2000).round()])
    with np.errstate(all="ignore"):
        keep = [not raises_in_cpython(math.pow, a, b)
                for a, b in zip(x.tolist(), y.tolist(), strict=True)]
        check_grid(ref, exe(kernel, "float64[::1], float64[::1], float64[::1]"), x[keep],
                   y[keep])


@FAST
@given(st.floats(0.0, 100.0, width=32), st.floats(-20.0, 20.0, width=32))
@example(8.0, 1.3)
@example(2.0, 0.7)
def test_float32_np_power_is_powf(x: float, y: float) -> None:
    with np.errstate(all="ignore"):
        want, numpy = c_powf(x, y), np.power(np.float32(x), np.float32(y))
    got = exe(k_np_power, "float32, float32")(np.float32(x), np.float32(y))
    assert np.array(got, np.float32).tobytes() == np.array(want, np.float32).tobytes() or (
        np.isnan(got) and np.isnan(want)), (x, y, got, want)
    assert np.isclose(got, numpy, rtol=2 ** -22, atol=0) or not np.isfinite(numpy), \
        (x, y, got, numpy)  # and within an ulp or two of NumPy's own


SIGNALLING_NAN = struct.unpack("<d", bytes.fromhex("010000000000f07f"))[0]


def k_pow(x, y):
    return x ** y


def k_math_pow(x, y):
    return math.pow(x, y)


@pytest.mark.parametrize("x,y", [(1.0, SIGNALLING_NAN), (SIGNALLING_NAN, 0.0),
                                 (SIGNALLING_NAN, -0.0), (1.0, math.nan), (-1.0, math.inf),
                                 (-2.0, 3.0), (-2.0, 1e300), (-1.0, 1e300 + 1), (0.5, -math.inf)])
def test_pow_special_cases_are_cpythons(x: float, y: float) -> None:
    # CPython answers x ** 0 and 1 ** y itself; the C library's pow gives nan for an sNaN.
    check(lambda p, q: p ** q, exe(k_pow, "float64, float64"), x, y)
    check(math.pow, exe(k_math_pow, "float64, float64"), x, y)


def test_pow_stays_a_plain_call_without_fastmath():
    stages = fl.jit(k_pow_forms).stages("float64")
    ir_text = stages.optimized.llvm_ir
    assert re.search(r"call double @pow\(double 8\.0+e\+00", ir_text), ir_text
    rewritten = re.findall(r"@(?:llvm\.)?(?:exp2|exp10|sqrt|powi|ldexp)\b|@llvm\.pow\b", ir_text)
    assert not rewritten, rewritten
    assert "pow@PLT" in stages.assembly() or re.search(r"\bpow\b", stages.assembly())
    f32 = fl.jit(k_np_power).stages("float32, float32").optimized.llvm_ir
    assert re.search(r"call float @powf\(", f32)


def test_fastmath_pow_still_computes_powers():
    # With fastmath LLVM may use its intrinsic (and rewrite it); values stay close.
    got = exe(k_pow_forms, "float64", fastmath=True)(1.25)
    assert all(math.isclose(g, w, rel_tol=1e-15) for g, w in zip(got, ref_pow_forms(1.25),
                                                                  strict=True))


# ---------------------------------------------------------------------------------------
# np.maximum, np.minimum, np.fmax, np.fmin: NumPy's answers on ties and nans
# ---------------------------------------------------------------------------------------


def k_np_minmax(x, y):
    return np.maximum(x, y), np.minimum(x, y), np.fmax(x, y), np.fmin(x, y)


SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, math.nan, math.inf, -math.inf, 1e-45]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_np_minmax_zero_ties_and_nans_match_numpy(dtype: Any) -> None:
    name = np.dtype(dtype).name
    f = exe(k_np_minmax, f"{name}, {name}")
    for a in SPECIAL:
        for b in SPECIAL:
            x, y = dtype(a), dtype(b)
            got = f(x, y)
            want = [np.maximum(x, y), np.minimum(x, y), np.fmax(x, y), np.fmin(x, y)]
            for fn, g, w in zip(("maximum", "minimum", "fmax", "fmin"), got, want, strict=True):
                assert same_float(float(g), float(w)), f"np.{fn}({a!r}, {b!r}) on {name}: " \
                    f"frostline {g!r}, NumPy {w!r}"


def test_np_minmax_on_integers_is_unchanged():
    f = exe(k_np_minmax, "int64, uint8")
    assert f(-3, np.uint8(200)) == (200, -3, 200, -3)
    assert exe(k_np_minmax, "uint64, uint64")(np.uint64(U64_MAX), np.uint64(1)) == (
        U64_MAX, 1, U64_MAX, 1)


# ---------------------------------------------------------------------------------------
# int / int: the exact quotient, rounded once, as CPython does
# ---------------------------------------------------------------------------------------


def k_truediv(a, b):
    return a / b


def big_ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers near and beyond 2**53 (where conversion to float rounds), and any."""
    edges = [2**53 + d for d in range(-2, 3)] + [2**54 + 1, 2**62 + 1, 3, 7, 1]
    edges += [-e for e in edges] + [lo, hi, lo + 1, hi - 1]
    return st.one_of(st.integers(lo, hi), st.sampled_from([e for e in edges if lo <= e <= hi]),
                     st.integers(2**53, 2**60).map(lambda v: min(v, hi)),
                     st.integers(1, 2**64).map(lambda v: max(min(v * 1021, hi), lo)))


def nonzero(s: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    return s.filter(lambda v: v != 0)


@FAST
@given(big_ints(I64_MIN, I64_MAX), nonzero(big_ints(I64_MIN, I64_MAX)))
@example(2**53 + 1, 3)
@example(I64_MIN, 3)
@example(I64_MIN, -1)
@example(I64_MIN, I64_MIN)
@example(I64_MAX, 2**53 + 1)
@example(1, I64_MAX)
@example(0, -(2**60))
def test_int64_truediv_is_correctly_rounded(a: int, b: int) -> None:
    check(lambda p, q: p / q, exe(k_truediv, "int64, int64"), a, b)


@FAST
@given(big_ints(0, U64_MAX), nonzero(big_ints(0, U64_MAX)), big_ints(I64_MIN, I64_MAX))
@example(U64_MAX, 3, I64_MIN)
@example(2**63 + 1, U64_MAX, -1)
@example(1, U64_MAX, I64_MAX)
def test_uint64_truediv_is_correctly_rounded(a: int, b: int, c: int) -> None:
    exact = lambda p, q: int(p) / int(q)  # noqa: E731 (NumPy would divide two rounded floats)
    check(exact, exe(k_truediv, "uint64, uint64"), np.uint64(a), np.uint64(b))
    if c != 0:
        check(exact, exe(k_truediv, "uint64, int64"), np.uint64(a), c)
    check(exact, exe(k_truediv, "int64, uint64"), c, np.uint64(b))


@pytest.mark.parametrize("a", [1, 0, I64_MIN, I64_MAX])
def test_int_truediv_by_zero_raises(a: int) -> None:
    check(lambda p, q: p / q, exe(k_truediv, "int64, int64"), a, 0)
    with pytest.raises(ZeroDivisionError, match="^division by zero$"):
        exe(k_truediv, "uint64, uint64")(np.uint64(max(a, 0)), np.uint64(0))


def test_int_truediv_needs_no_compiler_runtime():
    # i128 division or conversion would call __udivti3/__floatuntidf, which may not resolve.
    asm = fl.jit(k_truediv).stages("int64, uint64").assembly()
    assert not re.findall(r"__\w*(?:ti3|tidf)\b", asm)


# --- NumPy functions: NumPy's result types and float32 constants ------------------------


def k_numpy_results(a, b, x):
    return (np.maximum(a, b), np.minimum(a, b), np.fmax(a, b), np.fmin(a, b), np.abs(a),
            np.absolute(b), np.square(a), np.power(a, b), np.floor(a),
            np.floor(-28) + np.int8(1), np.sqrt(2.0) * np.float32(3.0),
            np.abs(-3) * np.uint8(2), np.maximum(2, 3) + np.int16(1))


@pytest.mark.parametrize("a,b", [(True, False), (False, True), (True, True), (False, False)])
def test_numpy_functions_of_bools_and_constants_have_numpys_types(a: bool, b: bool) -> None:
    """Bools keep a bool loop where NumPy has one (int8 for square and power), and a
    NumPy function of Python numbers is a strong NumPy scalar, not a weak value."""
    f = fl.jit(k_numpy_results)
    typed = f.stages("bool, bool, float32").typed.entry.return_type
    want = k_numpy_results(np.bool_(a), np.bool_(b), np.float32(1.0))
    assert [str(item) for item in typed.items] == [np.asarray(w).dtype.name for w in want]
    assert f(np.bool_(a), np.bool_(b), np.float32(1.0)) == tuple(w.item() for w in want)


def k_np_angles(x, out):
    for i in range(x.shape[0]):
        out[0, i] = np.rad2deg(x[i])
        out[1, i] = np.degrees(x[i])
        out[2, i] = np.deg2rad(x[i])
        out[3, i] = np.radians(x[i])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_angle_conversions_are_numpys_bit_for_bit(dtype: str) -> None:
    """NumPy's float32 rad2deg multiplies by 180.0f / (float)pi."""
    x = np.concatenate([RNG.uniform(-100.0, 100.0, 20000), RNG.uniform(-1e30, 1e30, 1000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    out = np.empty((4, x.size), dtype)
    exe(k_np_angles, f"{dtype}[::1], {dtype}[:, ::1]")(x, out)
    with np.errstate(all="ignore"):
        want = np.stack([np.rad2deg(x), np.degrees(x), np.deg2rad(x), np.radians(x)])
    assert out.tobytes() == want.tobytes()
