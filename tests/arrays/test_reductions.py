"""Reductions (``np.sum`` and the rest, as functions and methods) of arrays and of fused
expressions, against NumPy: every dtype, empty and size-1 axes, Fortran and negative-stride
layouts, nan, and the errors of empty operands."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl
from frostline.toolchain import reductions

from .helpers import DTYPES, jitted, layouts, same, sample, shapes


def r_sum(a):
    return np.sum(a)


def r_prod(a):
    return np.prod(a)


def r_min(a):
    return np.min(a)


def r_max(a):
    return a.max()


def r_amax(a):
    return np.amax(a)


def r_mean(a):
    return a.mean()


def r_var(a):
    return np.var(a)


def r_std(a):
    return a.std()


def r_std_ddof(a):
    return np.std(a, ddof=1)


def r_argmin(a):
    return np.argmin(a)


def r_argmax(a):
    return a.argmax()


def r_any(a):
    return np.any(a)


def r_all(a):
    return a.all()


REDUCTIONS = [r_sum, r_prod, r_min, r_max, r_amax, r_mean, r_var, r_std, r_std_ddof,
              r_argmin, r_argmax, r_any, r_all]


def numpy_result(fn, a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(a), None
        except ValueError as exc:
            return None, str(exc)


@pytest.mark.parametrize("fn", REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int64", "uint16", "uint64",
                                   "float32", "float64"])
def test_reductions_of_every_dtype(fn, dtype):
    a = sample(dtype, (3, 5))
    if fn is r_prod and dtype.startswith("float"):
        a = a / 4
    want, _ = numpy_result(fn, a)
    for x in layouts(a) if dtype in ("float64", "int16") else [a]:
        same(jitted(fn)(x), want)


@pytest.mark.parametrize("name", sorted(reductions.REDUCTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_result_types_are_numpys(name, dtype):
    a = sample(dtype, (4,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.asarray(getattr(np, name)(a)).dtype
    got = reductions.result_type(reductions.REDUCTIONS[name], fl.typeof(a).dtype)
    assert got.numpy_dtype == want


@settings(max_examples=40, deadline=None)
@given(shape=shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_reductions_over_shapes(shape, data):
    fn = data.draw(st.sampled_from(REDUCTIONS))
    a = sample("float64", shape, seed=len(shape))
    for x in layouts(a):
        want, error = numpy_result(fn, x)
        if error is not None:
            with pytest.raises(ValueError) as info:
                jitted(fn)(x)
            assert str(info.value) == error
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = jitted(fn)(x)
        same(got, want)


@pytest.mark.parametrize("fn", [r_min, r_max, r_argmin, r_argmax, r_sum, r_mean],
                         ids=lambda f: f.__name__)
def test_nan(fn):
    a = np.array([1.0, np.nan, 3.0, np.nan, -2.0])
    b = np.array([np.inf, -np.inf, 0.0])
    for x in (a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy warns of inf - inf
            want = fn(x)
        same(jitted(fn)(x), want)


def fused_dot(a, b):
    return np.sum(a * b)


def fused_norm(x):
    return np.sqrt(np.sum(x * x))


def fused_count(x, lo):
    return np.sum(x > lo)


def fused_any(x):
    return np.any(np.isnan(x))


def test_reductions_of_expressions():
    a = sample("float64", (50,))
    b = sample("float64", (50,), seed=3)
    same(jitted(fused_dot)(a, b), np.sum(a * b))
    same(jitted(fused_norm)(a), np.sqrt(np.sum(a * a)))
    assert jitted(fused_count)(a, 0.5) == np.sum(a > 0.5)
    a[7] = np.nan
    assert jitted(fused_any)(a) == np.any(np.isnan(a))


def sum_scalar(x):
    return np.sum(x)


def test_scalar_operands():
    same(jitted(sum_scalar)(3.5), np.sum(3.5))
    same(jitted(sum_scalar)(7), np.sum(7))


def test_empty_operands_raise_numpys_errors():
    empty = np.zeros(0)
    for fn in (r_min, r_max, r_argmin, r_argmax):
        _, error = numpy_result(fn, empty)
        with pytest.raises(ValueError) as info:
            jitted(fn)(empty)
        assert str(info.value) == error
    assert jitted(r_sum)(empty) == 0.0
    assert jitted(r_prod)(empty) == 1.0
    assert np.isnan(jitted(r_mean)(empty))
    assert jitted(r_any)(empty) is False or jitted(r_any)(empty) == np.False_
    assert bool(jitted(r_all)(empty)) is True


def by_axis(a):
    return np.sum(a, axis=0)


def keep(a):
    return a.max(keepdims=True)


def bad_axis(a):
    return np.sum(a, axis=2)


def test_axis_errors_are_located():
    with pytest.raises(fl.CompileError, match="axis 2 is out of bounds for array of "
                       "dimension 2"):
        fl.jit(bad_axis)(np.zeros((2, 2)))
    same(jitted(by_axis)(np.ones((2, 3))), np.full(3, 2.0))
    same(jitted(keep)(np.arange(4.0).reshape(2, 2)), np.array([[3.0]]))


AXIS_CASES = [
    ("sum", {}), ("prod", {}), ("min", {}), ("max", {}), ("mean", {}), ("var", {}),
    ("std", {"ddof": 1}), ("any", {}), ("all", {}), ("argmin", {}), ("argmax", {}),
]


def _axis_kernel(name, axis, keepdims, extra):
    func = getattr(np, name)
    kwargs = dict(extra)
    if name not in ("argmin", "argmax") or axis is not None:
        kwargs["axis"] = axis
    kwargs["keepdims"] = keepdims
    code = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    namespace = {"np": np}
    source = f"def kernel(a):\n    return np.{name}(a, {code})\n"
    path = _SOURCES / f"axis_{name}_{abs(hash(code))}.py"
    path.write_text(source)
    exec(compile(source, str(path), "exec"), namespace)
    return func, kwargs, namespace["kernel"]


_SOURCES = __import__("pathlib").Path(__import__("tempfile").mkdtemp(prefix="fl-axis-"))


@pytest.mark.parametrize("name, extra", AXIS_CASES, ids=[c[0] for c in AXIS_CASES])
@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, True), (-1, False), ((0, 2), False),
                                            (None, True)])
def test_reductions_over_axes(name, extra, axis, keepdims):
    if name in ("argmin", "argmax") and isinstance(axis, tuple):
        return
    func, kwargs, kernel = _axis_kernel(name, axis, keepdims, extra)
    a = sample("float64", (3, 4, 2), seed=5)
    if name in ("any", "all"):
        a = a > 0
    for x in layouts(a)[:2]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = func(x, **kwargs)
        got = jitted(kernel)(x)
        assert got.shape == want.shape and got.dtype == want.dtype
        same(got, want)


def softmax_rows(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def standardise(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


def test_reductions_over_axes_in_expressions():
    x = sample("float64", (5, 7))
    for a in layouts(x):
        same(jitted(softmax_rows)(a), softmax_rows(a))
        same(jitted(standardise)(a), standardise(a))


def test_an_empty_axis_raises_numpys_error():
    _, _, kernel = _axis_kernel("max", 0, False, {})
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        jitted(kernel)(np.zeros((0, 3)))
    _, _, kernel = _axis_kernel("sum", 0, False, {})
    same(jitted(kernel)(np.zeros((0, 3))), np.zeros(3))


def scans(a):
    return np.cumsum(a), np.cumprod(a, axis=0), a.cumsum(axis=1), a.cumprod()


@pytest.mark.parametrize("dtype", ["float64", "int8", "bool", "uint16"])
def test_scans(dtype):
    a = sample(dtype, (3, 4), seed=7)
    if dtype == "float64":
        a = a / 4
    for x in layouts(a):
        for g, w in zip(jitted(scans)(x), scans(x), strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape
            same(g, w)


def positional_axes(a):
    return np.sum(a, 0), a.max(1), np.cumsum(a, 1), a.mean(0), np.argmax(a, 1)


def test_the_axis_may_be_positional():
    a = sample("float64", (3, 4), seed=9)
    for g, w in zip(jitted(positional_axes)(a), positional_axes(a), strict=True):
        assert g.shape == w.shape
        same(g, w)
