"""Copies and new shapes (``copy``, ``np.copy``, ``astype``, ``ravel``, ``flatten``,
``reshape``) and loops over an array's first axis, against NumPy: values, dtypes, and
whether the result shares the input's memory."""

import numpy as np
import pytest

import frostline as fl

from .helpers import jitted, layouts, same, sample


def copies(a):
    return a.copy(), np.copy(a), a.astype(np.float32), a.astype(a.dtype), a.flatten()


def views_or_copies(a):
    return a.ravel(), np.ravel(a), a.reshape(-1), a.reshape((2, -1)), np.reshape(a, (-1, 3))


def reshaped_3d(a, n):
    return a.reshape(n, 2, -1)


@pytest.mark.parametrize("dtype", ["float64", "int16", "bool"])
def test_copies_match_numpy(dtype):
    m = sample(dtype, (2, 6))
    for x in layouts(m):
        got, want = jitted(copies)(x), copies(x)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and not np.shares_memory(g, x)
            same(g, w)


def test_reshape_and_ravel_view_contiguous_arrays_and_copy_the_rest():
    m = sample("float64", (2, 6))
    for x in layouts(m):
        got, want = jitted(views_or_copies)(x), views_or_copies(x)
        for g, w in zip(got, want, strict=True):
            same(g, w)
            if x.flags.c_contiguous:
                assert np.shares_memory(g, x) and np.shares_memory(w, x)
            assert g.flags.c_contiguous
    same(jitted(reshaped_3d)(np.arange(12.0), 3), np.arange(12.0).reshape(3, 2, -1))


def bad_reshape(a, n):
    return a.reshape(n, -1)


def two_unknowns(a):
    return a.reshape(-1, -1)


def test_reshape_errors_are_numpys():
    with pytest.raises(ValueError, match=r"cannot reshape array of size 6 into shape"):
        jitted(bad_reshape)(np.zeros(6), 4)
    with pytest.raises(ValueError, match="can only specify one unknown dimension"):
        jitted(two_unknowns)(np.zeros(6))
    assert fl.stats()["arrays_live"] >= 0


def row_sums(m, out):
    k = 0
    for row in m:
        out[k] = np.sum(row)
        k += 1


def element_loop(a):
    s = 0
    for x in a:
        s += x
    return s


def loop_over_new(n):
    s = 0.0
    for row in np.ones((n, 3)):
        s += row[1]
    return s


def loop_with_break(m):
    for row in m:
        if row[0] > 2:
            return row.copy()
    return m[0].copy()


def test_loops_over_the_first_axis():
    m = sample("float64", (4, 3))
    for x in layouts(m):
        out, want = np.zeros(4), np.zeros(4)
        jitted(row_sums)(x, out)
        row_sums(x, want)
        same(out, want)
        same(jitted(loop_with_break)(x), loop_with_break(x))
    a = sample("int32", (7,))
    assert jitted(element_loop)(a) == element_loop(a)
    before = fl.stats()["arrays_live"]
    assert jitted(loop_over_new)(5) == 5.0
    assert fl.stats()["arrays_live"] == before


def test_iterating_a_number_is_a_compile_error():
    def k(x):
        for v in x:
            return v
        return 0.0
    with pytest.raises(fl.CompileError, match="iterate over range"):
        fl.jit(k)(1.0)


def joins(a, b, m):
    return (np.concatenate((a, b)), np.concatenate((m, m * 2), axis=1),
            np.stack((a, a + 1)), np.stack((m, m), axis=-1), np.flip(a), np.flip(m, axis=0),
            np.triu(m), np.tril(m, -1), np.triu(m, k=1))


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_joins_match_numpy(dtype):
    a, b = sample(dtype, (3,)), sample(dtype, (2,), seed=1)
    m = sample(dtype, (3, 4), seed=2)
    for x in layouts(m):
        for g, w in zip(jitted(joins)(a, b, x), joins(a, b, x), strict=True):
            assert g.dtype == w.dtype
            same(g, w)
    flipped = jitted(joins)(a, b, m)[5]
    assert np.shares_memory(flipped, m)  # np.flip is a view, as in NumPy


def mismatched(a, b):
    return np.concatenate((a, b), axis=1)


def unequal(a, b):
    return np.stack((a, b))


def test_join_errors_are_numpys():
    for fn, args in ((mismatched, (np.zeros((2, 3)), np.zeros((3, 3)))),
                     (unequal, (np.zeros(2), np.zeros(3)))):
        with pytest.raises(ValueError) as numpy_error:
            fn(*args)
        with pytest.raises(ValueError) as ours:
            jitted(fn)(*args)
        assert str(ours.value) == str(numpy_error.value)
