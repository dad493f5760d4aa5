"""Whole-array expressions: every operator and ufunc spelling, NumPy functions, np.where,
np.clip and the logical functions, with broadcasting, against NumPy on the same inputs."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl

from .helpers import DTYPES, NUMERIC, jitted, layouts, same, sample


def add(a, b, out):
    out[...] = a + b


def sub(a, b, out):
    out[...] = a - b


def mul(a, b, out):
    out[...] = a * b


def div(a, b, out):
    out[...] = a / b


def floordiv(a, b, out):
    out[...] = a // b


def mod(a, b, out):
    out[...] = a % b


def pow_(a, b, out):
    out[...] = a ** b


def lshift(a, b, out):
    out[...] = a << b


def rshift(a, b, out):
    out[...] = a >> b


def and_(a, b, out):
    out[...] = a & b


def or_(a, b, out):
    out[...] = a | b


def xor(a, b, out):
    out[...] = a ^ b


def lt(a, b, out):
    out[...] = a < b


def le(a, b, out):
    out[...] = a <= b


def gt(a, b, out):
    out[...] = a > b


def ge(a, b, out):
    out[...] = a >= b


def eq(a, b, out):
    out[...] = a == b


def ne(a, b, out):
    out[...] = a != b


BINARY = [add, sub, mul, div, floordiv, mod, pow_, lshift, rshift, and_, or_, xor,
          lt, le, gt, ge, eq, ne]


def result_dtype(kernel, a, b):
    """The dtype NumPy gives the kernel's expression, or None where NumPy raises
    TypeError (no loop for these dtypes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _apply(kernel, a, b).dtype
        except TypeError:
            return None


def _apply(kernel, a, b):
    holder = {}

    class Out:
        def __setitem__(self, key, value):
            holder["v"] = np.asarray(value)
    kernel(a, b, Out())
    return holder["v"]


@pytest.mark.parametrize("kernel", BINARY, ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("int32", "int64"),
                                    ("uint8", "int8"), ("bool", "bool"),
                                    ("float32", "int16"), ("uint64", "int64")])
def test_binary_operators(kernel, dtypes):
    a = sample(dtypes[0], (3, 4))
    b = sample(dtypes[1], (4,), seed=1)
    if kernel in (lshift, rshift):
        b = np.abs(b) % 9 if b.dtype.kind != "b" else b
    if kernel is pow_ and b.dtype.kind in "iu":
        b = np.abs(b) % 4
    want_dtype = result_dtype(kernel, a, b)
    if want_dtype is None:
        with pytest.raises(fl.CompileError):
            jitted(kernel)(a, b, np.empty((3, 4)))
        return
    # Every layout for one pair of dtypes; the C layout for the others (each layout is a
    # compilation).
    for x in layouts(a) if dtypes == ("float64", "float64") else [a]:
        out = np.empty((3, 4), want_dtype)
        jitted(kernel)(x, b, out)
        want = np.empty((3, 4), want_dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kernel(x, b, want)
        same(out, want)


@pytest.mark.parametrize("kernel", [div, floordiv, mod], ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype", ["int64", "uint16", "float64", "float32"])
def test_zero_divisors_follow_numpy(kernel, dtype):
    a = np.array([3, -3, 0, 7], dtype=dtype) if dtype[0] != "u" else \
        np.array([3, 0, 7, 1], dtype=dtype)
    b = np.zeros(4, dtype)
    want = np.empty(4, result_dtype(kernel, a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel(a, b, want)
    out = np.empty_like(want)
    jitted(kernel)(a, b, out)
    same(out, want)


def test_integer_negative_power_raises_numpys_error():
    a = np.arange(3)
    with pytest.raises(ValueError, match="Integers to negative integer powers"):
        jitted(pow_)(a, np.array([1, -1, 2]), np.empty(3, np.int64))


def scalar_weak(a, out):
    out[...] = a * 2 + 1


def scalar_strong(a, x, out):
    out[...] = a * x


@pytest.mark.parametrize("dtype", NUMERIC)
def test_python_scalars_are_weak(dtype):
    a = sample(dtype, (5,))
    want = a * 2 + 1
    out = np.empty_like(want)
    jitted(scalar_weak)(a, out)
    same(out, want)
    want = a * 2.5
    out = np.empty(5, want.dtype)
    jitted(scalar_strong)(a, 2.5, out)
    same(out, want)


def neg(a, out):
    out[...] = -a


def pos(a, out):
    out[...] = +a


def inv(a, out):
    out[...] = ~a


@pytest.mark.parametrize("kernel", [neg, pos, inv], ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary(kernel, dtype):
    a = sample(dtype, (2, 3))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = {neg: np.negative, pos: np.positive, inv: np.invert}[kernel](a)
    except TypeError:
        with pytest.raises(fl.CompileError):
            jitted(kernel)(a, np.empty((2, 3), dtype))
        return
    out = np.empty_like(want)
    jitted(kernel)(a, out)
    same(out, want)


UNARY_FUNCTIONS = ["sqrt", "exp", "log", "sin", "cos", "tanh", "abs", "absolute", "floor",
                   "ceil", "isnan", "isfinite", "square", "sign", "negative", "logical_not",
                   "invert", "rint", "arctan"]
BINARY_FUNCTIONS = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide",
                    "mod", "remainder", "power", "maximum", "minimum", "fmax", "fmin",
                    "arctan2", "hypot", "less", "less_equal", "greater", "greater_equal",
                    "equal", "not_equal", "logical_and", "logical_or", "logical_xor",
                    "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift",
                    "copysign"]


def _unary_kernel(name):
    func = getattr(np, name)

    def kernel(a, out):
        out[...] = func(a)
    kernel.__name__ = f"unary_{name}"
    return kernel


def _binary_kernel(name):
    func = getattr(np, name)

    def kernel(a, b, out):
        out[...] = func(a, b)
    kernel.__name__ = f"binary_{name}"
    return kernel


@pytest.mark.parametrize("name", UNARY_FUNCTIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
def test_numpy_functions_of_arrays(name, dtype):
    func = getattr(np, name)
    a = sample(dtype, (7,))
    if name in ("sqrt", "log") and dtype != "bool":
        a = np.abs(a)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = func(a)
    except TypeError:
        with pytest.raises(fl.CompileError):
            jitted(_unary_kernel(name))(a, np.empty(7))
        return
    # frostline has no float16: it computes NumPy's float16 results in float64
    out = np.empty(7, dtype=want.dtype if want.dtype != np.float16 else np.float64)
    jitted(_unary_kernel(name))(a, out)
    same(out.astype(want.dtype), want)


@pytest.mark.parametrize("name", BINARY_FUNCTIONS)
@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("int32", "int8"),
                                    ("bool", "bool")])
def test_binary_functions_of_arrays(name, dtypes):
    func = getattr(np, name)
    a = sample(dtypes[0], (3, 4))
    b = sample(dtypes[1], (3, 1), seed=2)
    if name in ("left_shift", "right_shift", "power") and b.dtype.kind in "iu":
        b = np.abs(b) % 5
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = func(a, b)
    except TypeError:
        with pytest.raises(fl.CompileError):
            jitted(_binary_kernel(name))(a, b, np.empty((3, 4)))
        return
    # frostline has no float16: it computes NumPy's float16 results in float64
    out = np.empty(want.shape, np.float64 if want.dtype == np.float16 else want.dtype)
    jitted(_binary_kernel(name))(a, b, out)
    same(out.astype(want.dtype), want)


def where_kernel(c, x, y, out):
    out[...] = np.where(c, x, y)


def clip_kernel(a, lo, hi, out):
    out[...] = np.clip(a, lo, hi)


def clip_literals(a, out):
    out[...] = np.clip(a, -1, 1.5)


def test_where_and_clip():
    c = sample("bool", (4, 1))
    x = sample("float64", (4, 5))
    y = sample("int32", (5,))
    out = np.empty((4, 5))
    jitted(where_kernel)(c, x, y, out)
    same(out, np.where(c, x, y))
    jitted(where_kernel)(x > 0, x, 0.0, out)
    same(out, np.where(x > 0, x, 0.0))
    a = sample("float32", (9,))
    a[3] = np.nan
    out32 = np.empty(9, np.float32)
    jitted(clip_kernel)(a, np.float32(-1), np.float32(2), out32)
    same(out32, np.clip(a, np.float32(-1), np.float32(2)))
    jitted(clip_literals)(a, out32)
    same(out32, np.clip(a, -1, 1.5))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_broadcasting_matches_numpy(data):
    ndim_a = data.draw(st.integers(0, 3))
    ndim_b = data.draw(st.integers(0, 3))
    out_shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=max(ndim_a, ndim_b),
                                         max_size=max(ndim_a, ndim_b))))

    def part(nd, seed):
        shape = tuple(1 if data.draw(st.booleans()) else d for d in out_shape[len(out_shape)
                                                                               - nd:])
        return sample("float64", shape, seed) if nd else sample("float64", (1,), seed)[0:1]
    a, b = part(ndim_a, 1), part(ndim_b, 2)
    if a.ndim == 0 or b.ndim == 0:
        return
    want = a * b - a
    out = np.empty(want.shape)
    jitted(_broadcast_kernel)(a, b, out)
    same(out, want)


def _broadcast_kernel(x, y, o):
    o[...] = x * y - x


def test_shapes_that_do_not_broadcast_raise_numpys_message():
    a, b = np.zeros(3), np.zeros(4)
    with pytest.raises(ValueError) as info:
        jitted(add)(a, b, np.empty(3))
    with pytest.raises(ValueError) as numpy_info:
        a + b
    assert str(info.value) == str(numpy_info.value)
    with pytest.raises(ValueError, match=r"operands could not be broadcast together with "
                       r"shapes \(2,3\) \(2,\) "):
        jitted(add)(np.zeros((2, 3)), np.zeros(2), np.empty((2, 3)))
    with pytest.raises(ValueError) as info:
        jitted(add)(np.zeros(3), np.zeros(3), np.empty(4))
    out = np.empty(4)
    with pytest.raises(ValueError) as numpy_info:
        out[...] = np.zeros(3) + np.zeros(3)
    assert str(info.value) == str(numpy_info.value)
