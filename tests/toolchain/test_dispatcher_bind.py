"""``f.bind``: a jit function's arguments bound once, at the granularity its mode runs."""

import functools
import warnings

import numpy as np
import pytest

import frostline as fl


def advance(u, v, dt):
    for i in range(u.shape[0]):
        u[i] += dt * v[i]
    return u[0]


def prints(x):
    print(x)
    return x + 1.0


def test_bind_compiles_and_returns_the_executables_bound_call():
    f = fl.jit(advance)
    u, v = np.zeros(3), np.ones(3)
    bound = f.bind(u, v, 0.5)
    assert isinstance(bound, fl.BoundCall)
    assert bound.executable is f.compile("float64[::1], float64[::1], float64")
    assert bound() == 0.5 and bound() == 1.0
    np.testing.assert_array_equal(u, [1.0, 1.0, 1.0])


def test_bind_takes_keywords_and_defaults_like_a_call():
    f = fl.jit(advance)
    u, v = np.zeros(2), np.ones(2)
    assert f.bind(u, dt=2.0, v=v)() == 2.0
    with pytest.raises(TypeError, match=r"advance\.bind\(\) missing a required argument"):
        f.bind(u)


def test_bind_context_returns_the_same_bound_call_for_the_same_arguments():
    f = fl.jit(advance)
    u, v = np.zeros(2), np.ones(2)
    first = f.bind(u, v, 0.25, context="step")
    assert f.bind(u, v, 0.25, context="step") is first
    other = f.bind(u.copy(), v, 0.25, context="step")
    assert other is not first
    assert f.bind(u, v, 0.25) is not first  # no context: always fresh


def test_bind_under_python_granularity_is_a_partial_application():
    f = fl.jit(advance, mode="python")
    u, v = np.zeros(2), np.ones(2)
    bound = f.bind(u, v, 1.0)
    assert isinstance(bound, functools.partial)
    assert bound() == 1.0 and u[1] == 1.0


def test_bind_after_a_fallback_binds_the_python_function():
    f = fl.jit(prints, mode="auto")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bound = f.bind(1.0)
    assert [type(w.message) for w in caught] == [fl.FallbackWarning]
    assert not isinstance(bound, fl.BoundCall)
    assert bound() == 2.0


def test_bind_waits_for_a_tiered_compilation():
    f = fl.jit(advance, background=True)
    u, v = np.zeros(2), np.ones(2)
    bound = f.bind(u, v, 1.0)
    assert isinstance(bound, fl.BoundCall)
    assert bound() == 1.0


def test_bind_reports_bad_arguments_like_a_call():
    f = fl.jit(advance)
    with pytest.raises(TypeError, match="argument 'u'"):
        f.bind("not an array", np.ones(2), 1.0)
