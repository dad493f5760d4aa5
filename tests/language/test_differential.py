"""Differential tests: every corpus kernel under CPython vs frostline (JIT and AOT).

For each case the argument factory is called three times, so CPython, the JIT
dispatcher and the AOT executable each get fresh, identical inputs (with their
original layouts: views, Fortran order, negative strides).  The return value
and the final contents of every array argument (and of the array a view was
taken from) must agree; if CPython raises, frostline must raise the same
exception type.
"""

from typing import Any

import numpy as np
import pytest
from corpus.checks import check_arrays, check_outcome, reference, run_compiled
from corpus.kernels import CASES, Case

import frostline as fl

_DISPATCHERS: dict[tuple, Any] = {}


def dispatcher(case: Case, mode: str) -> Any:
    key = (case.fn, tuple(sorted(case.options.items())), mode)
    if key not in _DISPATCHERS:
        _DISPATCHERS[key] = (fl.jit(**case.options)(case.fn) if case.options
                             else fl.jit(case.fn))
    return _DISPATCHERS[key]


def compiled_callable(case: Case, mode: str, args: tuple) -> Any:
    disp = dispatcher(case, mode)
    if mode == "jit":
        return disp
    return disp.compile(*[fl.typeof(a) for a in args])


def check_case(case: Case, mode: str) -> None:
    ref = reference(case)
    fl_args = case.args_factory()
    fn = compiled_callable(case, mode, fl_args)
    got, got_exc = run_compiled(fn, fl_args)
    check_outcome(case, ref, got, got_exc)
    # array arguments: final contents (also after an exception: side effects up to the raise)
    check_arrays(ref, fl_args, case.rtol)


def _params() -> list[Any]:
    return [pytest.param(case, mode, id=f"{case.id}-{mode}")
            for case in CASES for mode in ("jit", "aot")]


@pytest.mark.parametrize(("case", "mode"), _params())
def test_corpus(case: Case, mode: str) -> None:
    check_case(case, mode)


def test_corpus_size() -> None:
    kernels = {case.fn for case in CASES}
    assert len(kernels) >= 70
    assert len({case.id for case in CASES}) == len(CASES)


# ---------------------------------------------------------------------------
# Semantics that a CPython comparison cannot show
# ---------------------------------------------------------------------------

FROZEN_SCALE = 3.0
FROZEN_TABLE = np.array([1.0, 2.0, 4.0])
FROZEN_PAIR = (10, 0.5)


def _uses_frozen_globals(x):
    s = 0.0
    for i in range(FROZEN_TABLE.shape[0]):
        s += FROZEN_TABLE[i]
    return x * FROZEN_SCALE + s + FROZEN_PAIR[0] * FROZEN_PAIR[1]


def test_globals_frozen_at_compile_time_rebinding() -> None:
    global FROZEN_SCALE, FROZEN_TABLE, FROZEN_PAIR
    exe = fl.jit(_uses_frozen_globals).compile("float64")
    assert exe(2.0) == 2.0 * 3.0 + 7.0 + 5.0
    saved = FROZEN_SCALE, FROZEN_TABLE, FROZEN_PAIR
    try:
        FROZEN_SCALE, FROZEN_TABLE, FROZEN_PAIR = -1.0, np.array([100.0]), (0, 0.0)
        assert exe(2.0) == 2.0 * 3.0 + 7.0 + 5.0
        # a fresh compilation sees the new values
        assert fl.jit(_uses_frozen_globals).compile("float64")(2.0) == -2.0 + 100.0
    finally:
        FROZEN_SCALE, FROZEN_TABLE, FROZEN_PAIR = saved


def test_global_array_frozen_against_in_place_mutation() -> None:
    exe = fl.jit(_uses_frozen_globals).compile("float64")
    jitted = fl.jit(_uses_frozen_globals)
    assert jitted(0.0) == 12.0
    saved = FROZEN_TABLE.copy()
    try:
        FROZEN_TABLE[:] = 1000.0
        assert exe(0.0) == 12.0
        assert jitted(0.0) == 12.0
    finally:
        FROZEN_TABLE[:] = saved


def _make_frozen_closure():
    factor = 2.0
    table = np.array([1, 2, 3])

    def closure_kernel(x):
        return x * factor + table[2]

    def rebind(value):
        nonlocal factor
        factor = value

    return closure_kernel, rebind, table


def test_closure_frozen_at_compile_time() -> None:
    kernel, rebind, table = _make_frozen_closure()
    exe = fl.jit(kernel).compile("float64")
    assert exe(1.5) == 6.0
    rebind(100.0)
    table[2] = -7
    assert exe(1.5) == 6.0
    assert kernel(1.5) == 143.0  # CPython sees the live cell and array


def _sig_kernel(x, v, m):
    s = x
    for i in range(v.shape[0]):
        s += v[i]
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            s += m[i, j]
    return s


def test_signature_string_and_type_objects_agree() -> None:
    f = fl.jit(_sig_kernel)
    by_string = f.compile("float64, int64[:], float64[:, ::1]")
    by_types = f.compile(fl.float64, fl.int64[:], fl.float64[:, ::1])
    v = np.arange(5, dtype=np.int64)[::-1]
    m = np.arange(6.0).reshape(2, 3)
    expected = _sig_kernel(0.5, v, m)
    assert by_string(0.5, v, m) == expected
    assert by_types(0.5, v, m) == expected
    typed = f.compile(*map(fl.typeof, (0.5, v, m)))
    assert typed(0.5, v, m) == expected


def test_jit_dispatches_per_argument_types() -> None:
    f = fl.jit(_sig_kernel)
    vi = np.arange(4, dtype=np.int64)
    vf = np.arange(4.0)
    m = np.ones((2, 2))
    assert f(1, vi, m) == 11
    assert f(1.5, vf, m) == 11.5
    assert f(1, vi, np.asfortranarray(m)) == 11
    assert f(True, vi[::2], m.T) == _sig_kernel(True, vi[::2], m.T)


@fl.jit
def _decorated_square(x):
    return x * x


@fl.jit(boundscheck=True, fastmath=False, cache=False)
def _decorated_sum_of_squares(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += _decorated_square(a[i])
    return s


def test_decorator_forms_and_jit_to_jit_calls() -> None:
    a = np.arange(4.0)
    assert _decorated_square(3) == 9
    assert _decorated_square(1.5) == 2.25
    assert _decorated_sum_of_squares(a) == 14.0
    exe = _decorated_sum_of_squares.compile(fl.typeof(a))
    assert exe(a) == 14.0
    assert _decorated_sum_of_squares(a[::-2]) == 10.0
