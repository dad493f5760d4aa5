"""Array code outside the language: located CompileErrors that say what is supported."""

import numpy as np
import pytest

import frostline as fl


def matmul(a, b, out):
    out[...] = a @ b


def chained(a, out):
    out[...] = 0 < a < 1


def negated(a, out):
    out[...] = not a


def unknown_method(a):
    return a.searchsorted(1.0)


def unknown_attribute(a):
    return a.flags


def fancy(a, i, out):
    out[:] = a[i]


def too_many(a):
    return a[0, 0]


def two_ellipses(a, out):
    out[...] = a[..., ...]


def concatenate_list(a, b):
    return np.concatenate([a, b])


def bool_subtract(a, b, out):
    out[...] = a - b



CASES = [
    (matmul, (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2))),
     "matrix products", "a @ b"),
    (chained, (np.zeros(3), np.zeros(3, bool)), "chained comparisons", "0 < a < 1"),
    (negated, (np.zeros(3), np.zeros(3, bool)), "truth value of an array", "not a"),
    (unknown_method, (np.zeros(3),), "arrays have no method 'searchsorted'", "a.searchsorted"),
    (unknown_attribute, (np.zeros(3),), "arrays have no attribute 'flags'", "a.flags"),
    (fancy, (np.zeros(3), np.zeros(2, np.int64), np.zeros(2)), "integer-array", "i"),
    (too_many, (np.zeros(3),), "too many indices for array: array is 1-dimensional, but 2 "
     "were indexed", "0, 0"),
    (two_ellipses, (np.zeros(3), np.zeros(3)), "single ellipsis", "..., ..."),
    (concatenate_list, (np.zeros(2), np.zeros(2)), "write (a, b), not [a, b]", "[a, b]"),
    (bool_subtract, (np.zeros(3, bool), np.zeros(3, bool), np.zeros(3, bool)),
     "numpy boolean subtract", "a - b"),
]


@pytest.mark.parametrize("fn, args, message, where", CASES, ids=[c[0].__name__ for c in CASES])
def test_located_compile_errors(fn, args, message, where):
    with pytest.raises(fl.CompileError) as info:
        fl.jit(fn)(*args)
    err = info.value
    assert message in str(err)
    assert err.filename == __file__
    assert where in err.source_line
    assert err.source_line[err.col:].startswith(where[:1])
