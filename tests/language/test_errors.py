"""Runtime error paths and argument checking of compiled kernels.

Every error is checked on an AOT executable (``f.compile(...)``) and, where the
path is not about executable argument checking, on the JIT dispatcher too.
"""

import functools
import math
from typing import Any

import numpy as np
import pytest

import frostline as fl


@functools.cache
def _compile(fn: Any, sig: str, boundscheck: bool = False) -> Any:
    dispatcher = fl.jit(boundscheck=True)(fn) if boundscheck else fl.jit(fn)
    return dispatcher.compile(sig)


@functools.cache
def _jit(fn: Any, boundscheck: bool = False) -> Any:
    return fl.jit(boundscheck=True)(fn) if boundscheck else fl.jit(fn)


def both(fn: Any, sig: str, boundscheck: bool = False) -> list[Any]:
    """The AOT executable and the JIT dispatcher of fn."""
    return [_compile(fn, sig, boundscheck), _jit(fn, boundscheck)]


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------


def truediv(a, b):
    return a / b


def floordiv(a, b):
    return a // b


def mod(a, b):
    return a % b


def power(a, b):
    return a ** b


def elem_div(a, d):
    return a[0] / d


def elem_floordiv(a, d):
    return a[0] // d


def raise_message(x):
    if x > 1.0:
        raise ValueError("x is too large")
    return x


def raise_in_loop(a):
    for i in range(a.shape[0]):
        if a[i] < 0:
            raise ValueError("negative element")
        a[i] = a[i] * 2.0
    return a.shape[0]


def assert_message(n):
    assert n < 10, "n must be below 10"
    return n + 1


def assert_plain(n):
    assert n % 2 == 0
    return n // 2


def _checked_helper(x):
    if x < 0:
        raise ValueError("helper rejects negatives")
    return math.sqrt(x)


def calls_raising_helper(x):
    return _checked_helper(x) + 1.0


def index_1d(a, i):
    return a[i]


def store_1d(a, i, v):
    a[i] = v


def index_2d(m, i, j):
    return m[i, j]


def index_row(m, i, j):
    row = m[i]
    return row[j]


def index_3d(t, i, j, k):
    return t[i, j, k]


def m_sqrt(x):
    return math.sqrt(x)


def m_log(x):
    return math.log(x)


def m_acos(x):
    return math.acos(x)


def m_exp(x):
    return math.exp(x)


def m_cosh(x):
    return math.cosh(x)


def m_pow(x, y):
    return math.pow(x, y)


def m_floor(x):
    return math.floor(x)


def m_ceil(x):
    return math.ceil(x)


def to_int(x):
    return int(x)


def range_sum(start, stop, step):
    s = 0
    for i in range(start, stop, step):
        s += i
    return s


def range_one_step(n, step):
    s = 0
    for i in range(0, n, step):
        s += i
    return s


def lshift(a, n):
    return a << n


def rshift(a, n):
    return a >> n


def unbound_local(flag, x):
    if flag:
        y = x + 1.0
    return y


def unbound_after_loop(n):
    for i in range(n):  # noqa: B007
        pass
    return i


def unbound_in_else(x):
    if x > 0:
        pass
    else:
        z = x
    return z


# ---------------------------------------------------------------------------
# ZeroDivisionError
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [truediv, floordiv, mod], ids=lambda f: f.__name__)
@pytest.mark.parametrize(("sig", "a", "b"), [
    ("int64, int64", 7, 0),
    ("int64, int64", 0, 0),
    ("int64, int64", -7, 0),
    ("float64, float64", 7.5, 0.0),
    ("float64, float64", 7.5, -0.0),
    ("float64, float64", 0.0, 0.0),
    ("float64, float64", math.nan, 0.0),
    ("float64, float64", math.inf, 0.0),
    ("int64, float64", 3, 0.0),
    ("float64, int64", 3.0, 0),
], ids=lambda v: str(v).replace(" ", ""))
def test_zero_division(kernel: Any, sig: str, a: Any, b: Any) -> None:
    with pytest.raises(ZeroDivisionError):
        kernel(a, b)  # CPython agrees
    for f in both(kernel, sig):
        with pytest.raises(ZeroDivisionError):
            f(a, b)


@pytest.mark.parametrize(("x", "y"), [(0.0, -1.0), (-0.0, -1.0), (0.0, -0.5), (0.0, -math.inf)])
def test_zero_to_negative_power(x: float, y: float) -> None:
    if y == -math.inf:
        assert x ** y == math.inf  # CPython: no error for an infinite exponent
        for f in both(power, "float64, float64"):
            assert f(x, y) == math.inf
        return
    with pytest.raises(ZeroDivisionError):
        x ** y
    for f in both(power, "float64, float64"):
        with pytest.raises(ZeroDivisionError):
            f(x, y)


def test_float_array_element_division_by_zero() -> None:
    # frostline has one float64 type: an array element divided by zero raises like a
    # Python float (CPython with NumPy scalars would warn and give inf instead)
    a = np.array([1.5, 2.0])
    for f in both(elem_div, "float64[::1], float64"):
        with pytest.raises(ZeroDivisionError):
            f(a, 0.0)
    for f in both(elem_floordiv, "float64[::1], float64"):
        with pytest.raises(ZeroDivisionError):
            f(a, 0.0)


def test_executable_usable_after_error() -> None:
    f = _compile(floordiv, "int64, int64")
    with pytest.raises(ZeroDivisionError):
        f(1, 0)
    assert f(-7, 2) == -4
    with pytest.raises(ZeroDivisionError):
        f(1, 0)
    assert f(7, 2) == 3


# ---------------------------------------------------------------------------
# raise / assert
# ---------------------------------------------------------------------------


def test_raise_value_error_with_message() -> None:
    for f in both(raise_message, "float64"):
        assert f(0.5) == 0.5
        with pytest.raises(ValueError) as info:
            f(2.0)
        assert type(info.value) is ValueError
        assert str(info.value) == "x is too large"
        assert info.value.args == ("x is too large",)


def test_raise_inside_loop_keeps_earlier_writes() -> None:
    for f in both(raise_in_loop, "float64[::1]"):
        a = np.array([1.0, 2.0, -1.0, 4.0])
        with pytest.raises(ValueError, match="^negative element$"):
            f(a)
        np.testing.assert_array_equal(a, [2.0, 4.0, -1.0, 4.0])
        b = np.array([1.0, 2.0])
        assert f(b) == 2
        np.testing.assert_array_equal(b, [2.0, 4.0])


def test_raise_propagates_from_called_function() -> None:
    for f in both(calls_raising_helper, "float64"):
        assert f(4.0) == 3.0
        with pytest.raises(ValueError, match="^helper rejects negatives$"):
            f(-4.0)


def test_assert_with_message() -> None:
    for f in both(assert_message, "int64"):
        assert f(3) == 4
        with pytest.raises(AssertionError) as info:
            f(10)
        assert str(info.value) == "n must be below 10"


def test_assert_without_message() -> None:
    for f in both(assert_plain, "int64"):
        assert f(4) == 2
        with pytest.raises(AssertionError) as info:
            f(3)
        assert str(info.value) == ""
        assert info.value.args == ()


# ---------------------------------------------------------------------------
# IndexError with boundscheck=True
# ---------------------------------------------------------------------------

A5 = np.arange(5.0)


@pytest.mark.parametrize("i", [5, 6, 100, -6, -7, -100, 2**40, -(2**40)])
def test_boundscheck_read_1d(i: int) -> None:
    with pytest.raises(IndexError):
        index_1d(A5, i)
    for f in both(index_1d, "float64[::1], int64", boundscheck=True):
        with pytest.raises(IndexError):
            f(A5.copy(), i)


@pytest.mark.parametrize("i", [0, 4, -1, -5])
def test_boundscheck_in_range(i: int) -> None:
    for f in both(index_1d, "float64[::1], int64", boundscheck=True):
        assert f(A5.copy(), i) == A5[i]


def test_boundscheck_strided_view_uses_view_length() -> None:
    base = np.arange(10.0)
    view = base[::2]
    for f in both(index_1d, "float64[:], int64", boundscheck=True):
        assert f(view, 4) == 8.0
        assert f(view, -5) == 0.0
        with pytest.raises(IndexError):
            f(view, 5)
        with pytest.raises(IndexError):
            f(view, -6)


@pytest.mark.parametrize("i", [3, -4, 10])
def test_boundscheck_write(i: int) -> None:
    for f in both(store_1d, "float64[::1], int64, float64", boundscheck=True):
        a = np.zeros(3)
        with pytest.raises(IndexError):
            f(a, i, 1.0)
        np.testing.assert_array_equal(a, np.zeros(3))


@pytest.mark.parametrize(("i", "j"), [(3, 0), (0, 4), (-4, 0), (0, -5), (3, 4), (-4, -5)])
def test_boundscheck_2d(i: int, j: int) -> None:
    m = np.arange(12.0).reshape(3, 4)
    with pytest.raises(IndexError):
        index_2d(m, i, j)
    for f in both(index_2d, "float64[:, ::1], int64, int64", boundscheck=True):
        with pytest.raises(IndexError):
            f(m, i, j)
    for f in both(index_2d, "float64[:, :], int64, int64", boundscheck=True):
        with pytest.raises(IndexError):
            f(np.asfortranarray(m), i, j)
    for f in both(index_row, "float64[:, ::1], int64, int64", boundscheck=True):
        with pytest.raises(IndexError):
            f(m, i, j)


def test_boundscheck_2d_in_range_negative() -> None:
    m = np.arange(12.0).reshape(3, 4)
    for f in both(index_2d, "float64[:, ::1], int64, int64", boundscheck=True):
        assert f(m, -3, -4) == 0.0
        assert f(m, -1, -1) == 11.0


@pytest.mark.parametrize("idx", [(2, 0, 0), (0, 3, 0), (0, 0, 4), (-3, 0, 0), (0, 0, -5)])
def test_boundscheck_3d(idx: tuple[int, int, int]) -> None:
    t = np.zeros((2, 3, 4))
    for f in both(index_3d, "float64[:, :, ::1], int64, int64, int64", boundscheck=True):
        with pytest.raises(IndexError):
            f(t, *idx)


def aug_store_1d(a, i):
    a[i] += 1.0


def aug_store_2d(m, i, j):
    m[i, j] *= 2.0


def swap_elements(a, i, j):
    a[i], a[j] = a[j], a[i]


def store_through_row(m, i, j, v):
    row = m[i]
    row[j] = v


def index_3d_partial(t, i, j, k):
    return t[i][j, k]


@pytest.mark.parametrize("i", [3, -4])
def test_boundscheck_augmented_store(i: int) -> None:
    for f in both(aug_store_1d, "float64[::1], int64", boundscheck=True):
        a = np.zeros(3)
        with pytest.raises(IndexError):
            f(a, i)
        np.testing.assert_array_equal(a, np.zeros(3))
    for f in both(aug_store_2d, "float64[:, ::1], int64, int64", boundscheck=True):
        m = np.ones((3, 3))
        with pytest.raises(IndexError):
            f(m, 0, i)
        with pytest.raises(IndexError):
            f(m, i, 0)
        np.testing.assert_array_equal(m, np.ones((3, 3)))


def test_boundscheck_tuple_swap_store() -> None:
    for f in both(swap_elements, "float64[::1], int64, int64", boundscheck=True):
        a = np.arange(3.0)
        f(a, 0, -1)
        np.testing.assert_array_equal(a, [2.0, 1.0, 0.0])
        with pytest.raises(IndexError):
            f(a, 0, 3)
        with pytest.raises(IndexError):
            f(a, -4, 0)


@pytest.mark.parametrize(("i", "j"), [(3, 0), (0, 4), (-4, 0), (0, -5)])
def test_boundscheck_store_through_row_view(i: int, j: int) -> None:
    for f in both(store_through_row, "float64[:, ::1], int64, int64, float64",
                  boundscheck=True):
        m = np.zeros((3, 4))
        with pytest.raises(IndexError):
            f(m, i, j, 1.0)
        np.testing.assert_array_equal(m, np.zeros((3, 4)))


@pytest.mark.parametrize("idx", [(2, 0, 0), (0, 3, 0), (0, 0, -5), (-3, 0, 0)])
def test_boundscheck_partial_index_3d(idx: tuple[int, int, int]) -> None:
    t = np.zeros((2, 3, 4))
    for f in both(index_3d_partial, "float64[:, :, ::1], int64, int64, int64",
                  boundscheck=True):
        with pytest.raises(IndexError):
            f(t, *idx)


# ---------------------------------------------------------------------------
# math domain / range errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel", "x"), [
    (m_sqrt, -1.0), (m_sqrt, -1e-300), (m_sqrt, -math.inf),
    (m_log, 0.0), (m_log, -1.0), (m_log, -0.0),
    (m_acos, 1.5), (m_acos, -math.inf),
], ids=lambda v: getattr(v, "__name__", repr(v)))
def test_math_domain_error(kernel: Any, x: float) -> None:
    for f in both(kernel, "float64"):
        with pytest.raises(ValueError) as info:
            f(x)
        assert str(info.value) == "math domain error"


@pytest.mark.parametrize(("kernel", "x"), [(m_exp, 1000.0), (m_exp, 709.8), (m_cosh, 1000.0),
                                           (m_cosh, -1000.0)],
                         ids=lambda v: getattr(v, "__name__", repr(v)))
def test_math_range_error(kernel: Any, x: float) -> None:
    with pytest.raises(OverflowError):
        kernel(x)
    for f in both(kernel, "float64"):
        with pytest.raises(OverflowError):
            f(x)


def test_math_no_error_at_special_values() -> None:
    assert math.isnan(_compile(m_sqrt, "float64")(math.nan))
    assert _compile(m_exp, "float64")(math.inf) == math.inf
    assert _compile(m_exp, "float64")(-math.inf) == 0.0
    assert _compile(m_log, "float64")(math.inf) == math.inf


def test_math_pow_errors() -> None:
    for f in both(m_pow, "float64, float64"):
        with pytest.raises(ValueError, match="^math domain error$"):
            f(-2.0, 0.5)
        with pytest.raises(ValueError, match="^math domain error$"):
            f(0.0, -1.0)
        with pytest.raises(OverflowError):
            f(10.0, 400.0)
        assert f(-2.0, 3.0) == -8.0


# ---------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------


def test_int_of_nan_raises_value_error() -> None:
    for f in both(to_int, "float64"):
        with pytest.raises(ValueError):
            f(math.nan)


@pytest.mark.parametrize("x", [math.inf, -math.inf])
def test_int_of_inf_raises_overflow_error(x: float) -> None:
    for f in both(to_int, "float64"):
        with pytest.raises(OverflowError):
            f(x)


def test_floor_ceil_of_nonfinite() -> None:
    for kernel in (m_floor, m_ceil):
        for f in both(kernel, "float64"):
            with pytest.raises(ValueError):
                f(math.nan)
            with pytest.raises(OverflowError):
                f(math.inf)
            with pytest.raises(OverflowError):
                f(-math.inf)


# ---------------------------------------------------------------------------
# range(), shifts, integer power, unbound locals
# ---------------------------------------------------------------------------


def test_range_step_zero() -> None:
    for f in both(range_sum, "int64, int64, int64"):
        with pytest.raises(ValueError):
            f(0, 10, 0)
        with pytest.raises(ValueError):
            f(10, 0, 0)
        assert f(0, 10, 3) == 18
    for f in both(range_one_step, "int64, int64"):
        with pytest.raises(ValueError):
            f(5, 0)
        with pytest.raises(ValueError):
            f(0, 0)  # the step is checked even for an empty range


@pytest.mark.parametrize("n", [-1, -64, -(2**62)])
def test_negative_shift_count(n: int) -> None:
    for kernel in (lshift, rshift):
        with pytest.raises(ValueError):
            kernel(5, n)
        for f in both(kernel, "int64, int64"):
            with pytest.raises(ValueError):
                f(5, n)


@pytest.mark.parametrize(("a", "b"), [(2, -1), (-3, -2), (1, -1), (0, -1), (10, -(2**62))])
def test_int_pow_negative_exponent(a: int, b: int) -> None:
    # documented deliberate difference: NumPy's rule, not CPython's float result
    for f in both(power, "int64, int64"):
        with pytest.raises(ValueError):
            f(a, b)


def test_unbound_local_in_untaken_branch() -> None:
    for f in both(unbound_local, "bool_, float64"):
        assert f(True, 1.0) == 2.0
        with pytest.raises(UnboundLocalError):
            f(False, 1.0)


def test_unbound_loop_variable_of_empty_loop() -> None:
    for f in both(unbound_after_loop, "int64"):
        assert f(3) == 2
        with pytest.raises(UnboundLocalError):
            f(0)


def test_unbound_in_else_branch() -> None:
    for f in both(unbound_in_else, "float64"):
        assert f(-1.0) == -1.0
        with pytest.raises(UnboundLocalError):
            f(1.0)


def assigned_in_for_else(n, stop):
    for i in range(n):
        if i == stop:
            break
    else:
        found = -1
    return found


def assigned_in_while_else(n, stop):
    i = 0
    while i < n:
        if i == stop:
            break
        i += 1
    else:
        found = i
    return found


def assigned_before_every_break(n, stop):
    for i in range(n):
        if i == stop:
            found = i
            break
    else:
        found = -1
    return found


def test_a_name_assigned_only_in_a_loop_else_is_unbound_after_a_break() -> None:
    for f in both(assigned_in_for_else, "int64, int64"):
        assert f(3, 5) == -1
        with pytest.raises(UnboundLocalError, match="'found'"):
            f(3, 1)
    for f in both(assigned_in_while_else, "int64, int64"):
        assert f(3, 5) == 3
        with pytest.raises(UnboundLocalError, match="'found'"):
            f(3, 1)
    for f in both(assigned_before_every_break, "int64, int64"):
        assert f(3, 5) == -1
        assert f(3, 1) == 1


# ---------------------------------------------------------------------------
# argument checking of executables: TypeError naming the parameter
# ---------------------------------------------------------------------------


def args_kernel(scale_factor, count_n, src_vec, dst_contig, grid_c):
    for i in range(count_n):
        dst_contig[i] = src_vec[i] * scale_factor + grid_c[0, 0]
    return count_n


ARGS_SIG = "float64, int64, float64[:], float64[::1], float64[:, ::1]"


def _good_args() -> list[Any]:
    return [2.0, 3, np.arange(6.0)[::2], np.zeros(3), np.ones((2, 2))]


def _exe() -> Any:
    return _compile(args_kernel, ARGS_SIG)


def test_good_arguments_accepted() -> None:
    args = _good_args()
    assert _exe()(*args) == 3
    np.testing.assert_array_equal(args[3], [1.0, 5.0, 9.0])


def test_read_only_array_for_read_parameter_accepted() -> None:
    args = _good_args()
    src = np.arange(3.0)
    src.flags.writeable = False
    grid = np.ones((2, 2))
    grid.flags.writeable = False
    args[2], args[4] = src, grid
    assert _exe()(*args) == 3


def _assert_type_error_names(param: str, args: list[Any]) -> None:
    with pytest.raises(TypeError) as info:
        _exe()(*args)
    assert param in str(info.value), f"{param!r} not in {str(info.value)!r}"


def test_too_few_arguments_names_missing_parameter() -> None:
    _assert_type_error_names("grid_c", _good_args()[:4])


def test_too_few_arguments_names_first_missing_parameter() -> None:
    _assert_type_error_names("src_vec", _good_args()[:2])


def test_too_many_arguments() -> None:
    with pytest.raises(TypeError):
        _exe()(*_good_args(), 1)


def test_no_arguments() -> None:
    with pytest.raises(TypeError):
        _exe()()


@pytest.mark.parametrize(("param", "index", "bad"), [
    ("count_n", 1, 1.5),
    ("count_n", 1, "3"),
    ("count_n", 1, None),
    ("count_n", 1, np.arange(3)),
    ("scale_factor", 0, "2.0"),
    ("scale_factor", 0, None),
    ("scale_factor", 0, np.ones(1)),
    ("src_vec", 2, np.arange(3, dtype=np.float32)),
    ("src_vec", 2, np.arange(3, dtype=np.int64)),
    ("src_vec", 2, np.zeros((3, 1))),
    ("src_vec", 2, [0.0, 1.0, 2.0]),
    ("src_vec", 2, (0.0, 1.0, 2.0)),
    ("src_vec", 2, 1.0),
    ("src_vec", 2, None),
    ("dst_contig", 3, np.zeros(6)[::2]),
    ("dst_contig", 3, np.zeros(3)[::-1]),
    ("dst_contig", 3, np.zeros((3, 3))),
    ("grid_c", 4, np.asfortranarray(np.ones((2, 3)))),
    ("grid_c", 4, np.ones((3, 2)).T),
    ("grid_c", 4, np.ones((4, 4))[::2, ::2]),
    ("grid_c", 4, np.ones(4)),
    ("grid_c", 4, np.ones((2, 2), dtype=np.float32)),
], ids=lambda v: type(v).__name__ if not isinstance(v, str | int) else str(v))
def test_wrong_argument_names_parameter(param: str, index: int, bad: Any) -> None:
    args = _good_args()
    args[index] = bad
    _assert_type_error_names(param, args)


def test_read_only_array_for_written_parameter() -> None:
    args = _good_args()
    dst = np.zeros(3)
    dst.flags.writeable = False
    args[3] = dst
    _assert_type_error_names("dst_contig", args)
    np.testing.assert_array_equal(dst, np.zeros(3))


def scalar_params(numerator_x, denominator_y):
    return numerator_x // denominator_y


def test_type_error_from_scalar_only_kernel() -> None:
    f = _compile(scalar_params, "int64, int64")
    assert f(7, 2) == 3
    with pytest.raises(TypeError) as info:
        f(1, 2.5)
    assert "denominator_y" in str(info.value)
    with pytest.raises(TypeError) as info:
        f(1.5, 2)
    assert "numerator_x" in str(info.value)
    with pytest.raises(TypeError) as info:
        f(1)
    assert "denominator_y" in str(info.value)
