"""Stores through views, with broadcasting, and in-place operators; overlapping source and
destination give NumPy's result."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl

from .helpers import jitted, layouts, same, sample


def fill_zero(a):
    a[:] = 0


def fill_value(a, x):
    a[...] = x


def interior(u, v):
    u[1:-1] = 0.5 * (v[2:] + v[:-2])


def row_add(m, i, v):
    m[i, :] += v


def whole_add(a, b):
    a += b


def whole_mul_scalar(a):
    a *= 3


def stencil2d(u, v):
    u[1:-1, 1:-1] = 0.25 * (v[:-2, 1:-1] + v[2:, 1:-1] + v[1:-1, :-2] + v[1:-1, 2:])


def cast_on_store(a, b):
    a[:] = b * 1.5


def test_stores_match_numpy():
    for kernel, args in ((fill_zero, (sample("float64", (3, 4)),)),
                         (fill_value, (sample("int32", (5,)), 7)),
                         (fill_value, (sample("float32", (2, 3)), np.arange(3.0))),
                         (interior, (np.zeros(9), np.arange(9.0))),
                         (row_add, (sample("float64", (3, 4)), 1, np.arange(4.0))),
                         (whole_add, (sample("float64", (3, 4)), np.arange(4.0))),
                         (whole_mul_scalar, (sample("int16", (6,)),)),
                         (stencil2d, (np.zeros((6, 7)), sample("float64", (6, 7)))),
                         (cast_on_store, (np.zeros(4, np.int64), np.arange(4.0)))):
        for first in layouts(args[0]):
            got = [first.copy()] + [a.copy() if isinstance(a, np.ndarray) else a
                                    for a in args[1:]]
            want = [first.copy()] + [a.copy() if isinstance(a, np.ndarray) else a
                                     for a in args[1:]]
            jitted(kernel)(*got)
            kernel(*want)
            same(got[0], want[0])


def shift_right(a):
    a[1:] = a[:-1]


def shift_left(a):
    a[:-1] = a[1:]


def reverse_in_place(a):
    a[:] = a[::-1]


def smooth_in_place(a):
    a[1:-1] = a[:-2] + a[2:]


def accumulate_rows(m):
    m[1:] += m[:-1]


def same_view(a):
    a[:] = a * 2 + 1


def transpose_in_place(m):
    m[...] = m.T + 0


@pytest.mark.parametrize("kernel", [shift_right, shift_left, reverse_in_place,
                                    smooth_in_place, same_view], ids=lambda k: k.__name__)
@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 20))
def test_overlap_gives_numpys_result(kernel, n):
    a = np.arange(n, dtype=np.float64) ** 2
    want = a.copy()
    kernel(want)
    jitted(kernel)(a)
    same(a, want)


def test_overlap_2d():
    m = sample("float64", (4, 4))
    for x in layouts(m):
        for kernel in (accumulate_rows, transpose_in_place):
            got, want = x.copy(), x.copy()
            jitted(kernel)(got)
            kernel(want)
            same(got, want)


def int_into_float(a, b):
    a += b


def test_in_place_casting_follows_same_kind():
    with pytest.raises(fl.CompileError, match="Cannot cast ufunc 'add' output from "
                       r"dtype\('float64'\) to dtype\('int64'\)"):
        jitted(int_into_float)(np.zeros(3, np.int64), np.zeros(3))


def test_read_only_destination_is_refused():
    a = np.zeros(3)
    a.flags.writeable = False
    with pytest.raises(TypeError):
        jitted(fill_zero)(a)
