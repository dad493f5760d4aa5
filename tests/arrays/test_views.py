"""Views: slices (clipped as Python clips them), integers mixed with slices, new axes,
``...``, ``.T`` and ``transpose``, each checked against NumPy on the same inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import jitted, layouts, same, sample


def copy_slice(a, out, start, stop, step):
    out[:] = a[start:stop:step]


def copy_head(a, out, stop):
    out[:] = a[:stop]


def copy_tail(a, out, start):
    out[:] = a[start:]


def copy_reversed(a, out):
    out[:] = a[::-1]


def copy_every_other_back(a, out):
    out[:] = a[::-2]


bounds = st.one_of(st.integers(-12, 12), st.sampled_from([-(1 << 62), 1 << 62]))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 9), start=bounds, stop=bounds,
       step=st.integers(-5, 5).filter(bool))
def test_slices_clip_as_python(n, start, stop, step):
    a = np.arange(n, dtype=np.float64)
    want = a[start:stop:step]
    out = np.empty_like(want)
    jitted(copy_slice)(a, out, start, stop, step)
    same(out, want)


@pytest.mark.parametrize("n", [0, 1, 5, 8])
def test_default_bounds(n):
    a = np.arange(n, dtype=np.int32)
    for stop in (-2, 0, 3, 10):
        out = np.empty_like(a[:stop])
        jitted(copy_head)(a, out, stop)
        same(out, a[:stop])
        out = np.empty_like(a[stop:])
        jitted(copy_tail)(a, out, stop)
        same(out, a[stop:])
    for fn, want in ((copy_reversed, a[::-1]), (copy_every_other_back, a[::-2])):
        out = np.empty_like(want)
        jitted(fn)(a, out)
        same(out, want)


def test_zero_step_is_numpys_error():
    a = np.arange(4.0)
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        jitted(copy_slice)(a, np.empty(4), 0, 4, 0)


def row(m, out, i):
    out[:] = m[i, :]


def column(m, out, j):
    out[:] = m[:, j]


def inner(t, out, k):
    out[...] = t[:, 1:-1, k]


def new_axes(a, out):
    out[...] = a[None, :, np.newaxis]


def ellipsis_last(t, out):
    out[...] = t[..., 0]


def ellipsis_first(t, out):
    out[...] = t[0, ...]


def transposed(m, out):
    out[...] = m.T


def permuted(t, out):
    out[...] = t.transpose(2, 0, 1)


def permuted_np(t, out):
    out[...] = np.transpose(t, (1, 0, 2))


@pytest.mark.parametrize("dtype", ["float64", "bool"])
def test_mixed_indices(dtype):
    m = sample(dtype, (4, 5))
    t3 = sample(dtype, (3, 4, 5), seed=1)
    for x in layouts(m):
        for i in (0, 2, -1):
            out = np.empty_like(x[i, :])
            jitted(row)(x, out, i)
            same(out, x[i, :])
            out = np.empty_like(x[:, i])
            jitted(column)(x, out, i)
            same(out, x[:, i])
        out = np.empty(x.T.shape, dtype)
        jitted(transposed)(x, out)
        same(out, x.T)
    for x in layouts(t3):
        out = np.empty_like(x[:, 1:-1, 2])
        jitted(inner)(x, out, 2)
        same(out, x[:, 1:-1, 2])
        for fn, want in ((ellipsis_last, x[..., 0]), (ellipsis_first, x[0, ...]),
                         (permuted, x.transpose(2, 0, 1)),
                         (permuted_np, np.transpose(x, (1, 0, 2)))):
            out = np.empty(want.shape, dtype)
            jitted(fn)(x, out)
            same(out, want)
    a = sample(dtype, (6,))
    out = np.empty((1, 6, 1), dtype)
    jitted(new_axes)(a, out)
    same(out, a[None, :, None])


def view_in_variable(a, b):
    head = a[:3]
    tail = a[-3:]
    head[:] = tail  # writes through to a
    b[:] = head


def takes_view(v, x):
    v[:] = x


def passes_view(a, x):
    takes_view(a[1:-1], x)
    takes_view(a[::-1][:1], x + 1)


def test_views_share_memory_with_their_base():
    a = np.arange(8.0)
    b = np.zeros(3)
    want_a, want_b = a.copy(), b.copy()
    view_in_variable(want_a, want_b)
    jitted(view_in_variable)(a, b)
    same(a, want_a)
    same(b, want_b)
    a = np.zeros(6)
    jitted(passes_view)(a, 2.0)
    want = np.zeros(6)
    passes_view(want, 2.0)
    same(a, want)


def rows_loop(m):
    s = 0.0
    for i in range(m.shape[0]):
        r = m[i]
        s += np.sum(r * r)
    return s


def test_rows_of_a_matrix():
    m = sample("float64", (5, 7))
    for x in layouts(m):
        same(jitted(rows_loop)(x), rows_loop(x))
