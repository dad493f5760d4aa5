"""prange against range: every kernel of ``kernels`` compiled (its iterations on the pool)
and run as Python (prange is range), on the same inputs."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl

from . import kernels as k

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float32", "float64"]


@functools.cache
def jitted(fn):
    return fl.jit(fn)


def values(dtype: str, n: int, seed: int = 0, positive: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool)
    if dtype.startswith("float"):
        x = rng.standard_normal(n) * 4
        return (np.abs(x) + 0.5 if positive else x).astype(dtype)
    info = np.iinfo(dtype)
    lo = 1 if positive else max(info.min, -100)
    return rng.integers(lo, min(info.max, 100) + 1, n).astype(dtype)


def check(fn, *args, exact=True):
    """The compiled result equals Python's (floats: bit for bit when exact)."""
    with np.errstate(all="ignore"):  # NumPy scalars warn where integers wrap
        want = fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    got = jitted(fn)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            compare(g, w, exact)
    else:
        compare(got, want, exact)
    return got


def compare(got, want, exact):
    got_a, want_a = np.asarray(got), np.asarray(want)
    if want_a.dtype.kind == "f" and not exact:
        np.testing.assert_allclose(got_a, want_a, rtol=1e-4 if want_a.dtype == np.float32
                                   else 1e-10, atol=1e-6)
    else:
        np.testing.assert_array_equal(got_a, want_a)
    if want_a.ndim:  # scalars come back as Python numbers
        assert got_a.dtype == want_a.dtype, (got_a.dtype, want_a.dtype)


# Sizes: below the cheap-body grain (one chunk, run inline), a few chunks, many chunks.
SIZES = [1, 7, 5000, 100_003]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_sum(dtype, n):
    check(k.total, values(dtype, n, 1), exact=dtype in INTS)


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("fn", [k.difference, k.lowest, k.highest], ids=lambda f: f.__name__)
def test_difference_min_max(fn, dtype):
    check(fn, values(dtype, 50_001, 2), exact=dtype in INTS or fn is not k.difference)


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_product(dtype):
    # Integers wrap (as in serial code); floats stay finite near 1.
    x = values(dtype, 30_000, 3, positive=True)
    if dtype in FLOATS:
        x = (1 + (x - x.mean()) * 1e-4).astype(dtype)
    check(k.product, x, exact=dtype in INTS)


@pytest.mark.parametrize("dtype", INTS + ["bool"])
@pytest.mark.parametrize("fn", [k.bits_or, k.bits_and, k.bits_xor], ids=lambda f: f.__name__)
def test_bitwise(fn, dtype):
    check(fn, values(dtype, 40_000, 4))


def test_bool_or_of_comparisons():
    x = values("float64", 20_000, 5, positive=True)
    check(k.any_negative, x)
    x[17_777] = -1.0
    assert check(k.any_negative, x) is True


def test_several_reductions_one_loop():
    check(k.several, values("float64", 70_000, 6), exact=False)


def test_min_with_nan_matches_python():
    """With the variable first, Python's min ignores later nans (the result is serial's);
    written second (``highest``), nan handling depends on order: documented."""
    x = values("float64", 20_000, 7)
    x[[5, 9_000, 19_999]] = np.nan
    check(k.lowest, x)
    x[0] = np.nan  # the variable starts as nan: Python's min keeps it
    check(k.lowest, x)


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (37, 5), (300, 41)])
def test_private_accumulator_and_2d(shape):
    m = values("float64", shape[0] * shape[1], 8).reshape(shape)
    check(k.row_sums, m, np.zeros(shape[0]))
    check(k.sum_2d, m, exact=False) if shape[0] else None


def test_nested_prange_and_callee():
    m = values("float64", 60 * 70, 9).reshape(60, 70)
    check(k.nested_prange, m, exact=False)
    check(k.through_callee, m, np.zeros(60), exact=False)
    wide = values("float64", 3 * 50_000, 17).reshape(3, 50_000)
    check(k.serial_caller, wide, np.zeros(3), exact=False)


def test_3d_and_stencil():
    a = values("float64", 9 * 8 * 7, 10).reshape(9, 8, 7)
    check(k.cube, a, np.zeros_like(a))
    u = values("float64", 123 * 77, 11).reshape(123, 77)
    check(k.laplacian, u, np.zeros_like(u))


def test_mandelbrot_unbalanced():
    check(k.mandelbrot, 61, 50, 80, np.zeros((61, 50), dtype=np.int64))


@pytest.mark.parametrize("start,stop,step", [
    (0, 0, 1), (5, 5, 1), (5, 6, 1), (10, 0, 1), (0, 10, -1), (9, -1, -1), (20_000, -20_000, -3),
    (-5, 30_000, 7), (0, 100_000, 1), (2**62, 2**62 + 10_000, 3), (-2**63, -2**63 + 9000, 1000),
    (2**63 - 1, 2**63 - 9001, -1000)])
def test_ranges(start, stop, step):
    check(k.stepped, np.zeros(97, dtype=np.int64), start, stop, step)


@given(start=st.integers(-10_000, 10_000), stop=st.integers(-10_000, 10_000),
       step=st.integers(-300, 300).filter(bool))
@settings(max_examples=40, deadline=None)
def test_ranges_hypothesis(start, stop, step):
    check(k.stepped, np.zeros(13, dtype=np.int64), start, stop, step)


def test_array_code_in_the_body():
    m = values("float64", 200 * 33, 12).reshape(200, 33)
    check(k.array_body, m, np.zeros(200), exact=False)
    check(k.shared_views, m, exact=False)


def test_loop_else_runs_once():
    check(k.with_else, values("int64", 9_000, 13))


def test_unassigned_captured_variable():
    x = values("float64", 10_000, 14)
    check(k.maybe_captured, x, True, exact=False)
    with pytest.raises(UnboundLocalError, match="scale"):
        jitted(k.maybe_captured)(x, False)


def test_float_sum_is_deterministic_and_independent_of_threads():
    x = values("float64", 1_000_003, 15)
    f = jitted(k.total)
    first = f(x)
    results = set()
    for threads in (1, 2, 3, 4, 7):
        fl.set_num_threads(threads)
        results |= {f(x) for _ in range(5)}
    assert results == {first}
    assert first == pytest.approx(float(np.sum(x)), rel=1e-9)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_layouts(layout):
    m = values("float64", 40 * 30, 16).reshape(40, 30)
    m = {"C": m, "F": np.asfortranarray(m), "strided": m[::2, ::-1]}[layout]
    check(k.row_sums, m, np.zeros(m.shape[0]))


def test_prange_outside_a_kernel_is_range():
    assert list(fl.prange(3)) == [0, 1, 2]
    assert fl.prange(1, 10, 4) == range(1, 10, 4)
    with pytest.raises(ValueError):
        fl.prange(0, 1, 0)


REDUCTIONS = [k.total, k.difference, k.product, k.lowest, k.highest, k.bits_or, k.bits_and,
              k.bits_xor]


@st.composite
def reduction_cases(draw):
    fn = draw(st.sampled_from(REDUCTIONS))
    kinds = INTS if fn in (k.bits_or, k.bits_and, k.bits_xor) else INTS + FLOATS
    dtype = draw(st.sampled_from(kinds))
    n = draw(st.sampled_from([1, 2, 4095, 4097, 9000, 70_000]))
    seed = draw(st.integers(0, 2**16))
    x = values(dtype, n, seed)
    if fn is k.product and dtype in FLOATS:  # near 1: no overflow that order could change
        x = (1 + (x - x.mean()) * 1e-4).astype(dtype)
    if dtype in FLOATS and draw(st.booleans()):  # edge values at random places
        rng = np.random.default_rng(seed)
        edges = [np.inf, -np.inf, -0.0, 0.0, np.finfo(dtype).tiny]
        if fn in (k.lowest, k.highest):  # (a sum's overflow depends on its order)
            edges.append(np.finfo(dtype).max)
        if fn is not k.highest:  # max(e, s) with nan depends on order: documented
            edges.append(np.nan)
        x[rng.integers(0, n, 5)] = rng.choice(edges, 5)
    if dtype in INTS and draw(st.booleans()):  # the type's extremes: sums wrap
        info = np.iinfo(dtype)
        x[::97] = info.max
        x[1::89] = info.min
    return fn, x


@given(reduction_cases())
@settings(max_examples=60, deadline=None)
def test_reductions_hypothesis(case):
    fn, x = case
    exact = x.dtype.kind != "f" or fn in (k.lowest, k.highest)
    with np.errstate(all="ignore"):
        check(fn, x, exact=exact)
