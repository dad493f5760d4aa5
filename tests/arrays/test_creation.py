"""New arrays: ``np.empty``, ``zeros``, ``ones``, ``full``, the ``*_like`` functions,
``arange``, ``linspace``, ``eye``, ``identity``, with every way of naming a dtype, against
NumPy; and their errors."""

import numpy as np
import pytest

import frostline as fl

from .helpers import jitted, same


def zeros(n):
    return np.zeros(n)


def zeros_2d(n, m):
    return np.zeros((n, m), dtype=np.int32)


def ones_typed(n):
    return np.ones(n, dtype=fl.float32)


def ones_python(n):
    return np.ones((n, 2), dtype=bool)


def ones_string(n):
    return np.ones(n, dtype="int16")


def full_int(n):
    return np.full(n, 7)


def full_float(n, x):
    return np.full((2, n), x)


def full_bool(n):
    return np.full(n, True)


def empty_shape(n):
    a = np.empty((n, 2))
    a[:] = 1.5
    return a


def empty_scalar_shape():
    return np.zeros(())


def like(a):
    return np.zeros_like(a), np.ones_like(a), np.full_like(a, 3), np.empty_like(a).shape


def like_dtype(a):
    return np.zeros_like(a, dtype=np.float32), np.full_like(a, 2.7, dtype=a.dtype)


def shape_of(a):
    return np.ones(a.shape, dtype=a.dtype)


def helper_alloc(n, dtype):
    return np.zeros(n, dtype=dtype)


def dtype_through_callee(n):
    return helper_alloc(n, np.uint8), helper_alloc(n, np.float32)


CASES = [
    (zeros, (0,)), (zeros, (5,)), (zeros_2d, (3, 4)), (zeros_2d, (0, 4)),
    (ones_typed, (4,)), (ones_python, (3,)), (ones_string, (3,)),
    (full_int, (3,)), (full_float, (3, 2.5)), (full_bool, (2,)),
    (empty_shape, (3,)), (empty_scalar_shape, ()), (dtype_through_callee, (3,)),
]


def _check(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _check(g, w)
        return
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype, (got, want)
        assert got.flags.c_contiguous == want.flags.c_contiguous
    same(got, want)


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{c[0].__name__}{c[1]}" for c in CASES])
def test_creation_matches_numpy(fn, args):
    _check(jitted(fn)(*args), fn(*args))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint64", "bool"])
def test_like_keeps_dtype_and_layout(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    for x in (a, np.asfortranarray(a), a[:, ::2]):
        _check(jitted(like)(x), like(x))
        _check(jitted(like_dtype)(x), like_dtype(x))
        _check(jitted(shape_of)(x), shape_of(x))
    assert jitted(like)(np.asfortranarray(a))[0].flags.f_contiguous


def arange1(n):
    return np.arange(n)


def arange3(a, b, c):
    return np.arange(a, b, c)


def arange_typed(n):
    return np.arange(0, n, dtype=np.float32)


def linspace(a, b, n):
    return np.linspace(a, b, n)


def linspace_open(a, b, n):
    return np.linspace(a, b, n, endpoint=False)


def eye(n, m, k):
    return np.eye(n, m, k)


def identity(n):
    return np.identity(n, dtype=np.int64)


@pytest.mark.parametrize("args", [(0, 5, 1), (5, 1, 1), (10, 0, -3), (1, 100, 7), (-4, 4, 3),
                                  (0.0, 1.0, 0.3), (1.0, -1.0, -0.25), (0.5, 0.5, 1.0)])
def test_arange(args):
    _check(jitted(arange3)(*args), np.arange(*args))


def test_arange_forms():
    for n in (0, 1, 7):
        _check(jitted(arange1)(n), np.arange(n))
        _check(jitted(arange_typed)(n), np.arange(0, n, dtype=np.float32))
    with pytest.raises(ZeroDivisionError):
        jitted(arange3)(0, 5, 0)


@pytest.mark.parametrize("args", [(0.0, 1.0, 5), (2.0, -3.0, 7), (0.0, 1.0, 1), (0.0, 1.0, 0),
                                  (1e-3, 1e3, 11)])
def test_linspace(args):
    got = jitted(linspace)(*args)
    want = np.linspace(*args)
    np.testing.assert_array_equal(got, want)  # NumPy's formula, bit for bit
    np.testing.assert_array_equal(jitted(linspace_open)(*args), np.linspace(*args,
                                                                          endpoint=False))


def test_linspace_negative_count_is_numpys_error():
    with pytest.raises(ValueError, match=r"Number of samples, -1, must be non-negative\."):
        jitted(linspace)(0.0, 1.0, -1)


@pytest.mark.parametrize("args", [(3, 3, 0), (3, 4, 1), (4, 2, -1), (3, 3, 5), (0, 0, 0)])
def test_eye(args):
    _check(jitted(eye)(*args), np.eye(*args))
    _check(jitted(identity)(args[0]), np.identity(args[0], dtype=np.int64))


def test_negative_dimensions_are_numpys_error():
    with pytest.raises(ValueError, match="negative dimensions are not allowed"):
        jitted(zeros)(-1)
    with pytest.raises(ValueError, match="negative dimensions are not allowed"):
        jitted(zeros_2d)(2, -3)


def test_impossible_sizes_raise_numpys_errors():
    for shape in ((1 << 40, 1 << 40), (1 << 22, 1 << 22), (100_000, 1_000_000)):
        with pytest.raises((ValueError, MemoryError)) as numpy_error:
            np.zeros(shape, dtype=np.int32)
        expected = MemoryError if issubclass(numpy_error.type, MemoryError) else ValueError
        with pytest.raises(expected) as ours:  # NumPy's is a subclass of MemoryError
            jitted(zeros_2d)(*shape)
        assert str(ours.value) == str(numpy_error.value)


def bad_dtype(n):
    return np.zeros(n, dtype="complex128")


def bad_order(n):
    return np.zeros(n, order="F")


def bad_shape(x):
    return np.zeros(x)


def test_creation_errors_are_located():
    for fn, args, message in ((bad_dtype, (3,), "'complex128' is not a dtype kernels have"),
                              (bad_order, (3,), "order= takes only its default"),
                              (bad_shape, (1.5,), "takes a shape: an integer or a tuple")):
        with pytest.raises(fl.CompileError, match=message):
            fl.jit(fn)(*args)
