"""Pickling executables and jit functions within one process (fresh processes:
test_fresh_process.py; Dask workers: test_dask.py)."""

from __future__ import annotations

import pickle

import attrs
import cloudpickle
import numpy as np
import pytest

import frostline as fl
from frostline import dispatch_pickle

PICKLERS = {"pickle": pickle, "cloudpickle": cloudpickle}


@fl.jit
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


@fl.jit
def is_even(n):
    return True if n == 0 else is_odd(n - 1)


@fl.jit
def is_odd(n):
    return False if n == 0 else is_even(n - 1)


@fl.jit
def norm2(a, scale=2.0):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s * scale


def roundtrip(obj, pickler):
    return pickle.loads(pickler.dumps(obj))


def test_an_executable_pickles_as_object_code_and_loads_without_compiling():
    exe = norm2.compile("float64[::1], float64")
    before = fl.stats()["compiled"]
    again = pickle.loads(pickle.dumps(exe))
    assert fl.stats()["compiled"] == before
    assert isinstance(again, fl.Executable) and again is not exe
    assert again(np.arange(3.0), 1.0) == 5.0
    assert again.fingerprint == exe.fingerprint


@pytest.mark.parametrize("pickler", list(PICKLERS))
def test_a_jit_function_travels_with_its_compiled_signatures(pickler):
    a = np.arange(4.0)
    assert norm2(a) == 28.0
    before = fl.stats()["compiled"]
    copy = roundtrip(norm2, PICKLERS[pickler])
    assert copy is not norm2 and copy.signatures == norm2.signatures
    assert copy(a) == 28.0 and copy(a, scale=0.5) == 7.0
    assert fl.stats()["compiled"] == before
    assert copy.__name__ == "norm2" and copy.__module__ == norm2.__module__
    assert copy(np.arange(4, dtype=np.float32)) == 28.0  # a new signature still compiles


@pytest.mark.parametrize("pickler", list(PICKLERS))
def test_recursion_is_tied_back_to_the_restored_function(pickler):
    assert fib(15) == 610
    copy = roundtrip(fib, PICKLERS[pickler])
    assert copy(15) == 610
    assert copy.py_func.__globals__["fib"] is copy
    assert copy.py_func(10) == 55  # the Python function still runs, calling the copy


def test_mutual_recursion_between_two_jit_functions_pickles():
    assert is_even(10) is True
    even, odd = roundtrip((is_even, is_odd), cloudpickle)
    assert even(7) is False and odd(7) is True


def test_without_its_python_function_a_jit_function_still_runs_and_compiles(monkeypatch):
    a = np.arange(3.0)
    assert norm2(a) == 10.0
    monkeypatch.setattr(dispatch_pickle, "_pickled_function", lambda fn: None)
    copy = roundtrip(norm2, pickle)
    monkeypatch.undo()
    assert copy.py_func is None and copy.__qualname__ == "norm2"
    assert copy(a) == 10.0 and copy(a, scale=3.0) == 15.0
    assert copy(np.arange(3, dtype=np.int64)) == 10.0  # compiled from the parsed program
    with pytest.raises(TypeError, match=r"norm2\(\) got an unexpected keyword argument 'extra'"):
        copy(a, scale=1.0, extra=2)


def test_code_for_a_cpu_this_machine_lacks_is_compiled_again_with_a_warning():
    sig = norm2.signature_from("float64[::1], float64")
    code = norm2.compile(sig).object_code
    foreign = attrs.evolve(code, target_features=code.target_features + ",+frostline-test-cpu")
    with pytest.raises(fl.IncompatibleTargetError, match="frostline-test-cpu"):
        fl.backends.llvm.load(foreign)
    state = norm2.__reduce__()[1]
    restore_args = list(state)
    restore_args[5] = ((sig, foreign),)
    with pytest.warns(fl.CacheWarning, match="compiled again.*frostline-test-cpu"):
        copy = dispatch_pickle._restore(*restore_args)
    assert copy.signatures == []
    assert copy(np.arange(3.0), 1.0) == 5.0
