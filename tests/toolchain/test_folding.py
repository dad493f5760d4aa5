"""Constant expressions are evaluated exactly, as CPython evaluates them.

``x * 10**19`` used to multiply by 10**19 wrapped to int64 (-1.267e19); an
integer constant that does not fit int64 is now a CompileError, as a lone
literal of that size is, and one that fits is exact whatever its operands.
"""

from __future__ import annotations

import itertools
import linecache
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl

BIG = 2**70


def kernel(body: str, params: str = "x") -> fl.Dispatcher:
    filename = f"<test_folding {next(_names)}>"
    source = f"def k({params}):\n    return {body}\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"BIG": BIG, "np": np, "__name__": "test_folding_generated"}
    exec(compile(source, filename, "exec"), namespace)
    return fl.jit(namespace["k"], cache=False)


_names = itertools.count()


@pytest.mark.parametrize("body", ["x * 10**19", "x + 2**70", "x + (1 << 64)", "x - BIG",
                                  "x + 10**10**10", "-(-2**63) + x"])
def test_an_integer_constant_outside_int64_is_a_compile_error(body: str) -> None:
    with pytest.raises(fl.CompileError, match="does not fit in int64"):
        kernel(body)(1.5)


@pytest.mark.parametrize("body", [
    "x + (2**70 - 2**70 + 1)", "x + -2**63", "x * (10**18 * 9)", "x + (2**53 + 1) / 3",
    "x + BIG // 2**40", "x + ((1 << 63) - 1 - (1 << 63) + 1)", "x + ~(2**62)", "x + True + True",
    "x + (-7) // 2 + 7 % -3", "x + 2.0 ** 0.5", "x + 8.0 ** 1.25", "x * (BIG / 3)",
])
def test_constant_expressions_are_exact(body: str) -> None:
    f = kernel(body)
    for x in (1.0, 0.5, -3.0):
        assert f(x) == f.py_func(x)


def test_a_constant_operand_meeting_a_narrow_integer_must_fit_it() -> None:
    with pytest.raises(fl.CompileError, match="integer literal 256 is out of range for uint8"):
        kernel("x[0] + (1 << 8)")(np.zeros(2, np.uint8))
    assert kernel("x[0] + (1 << 7)")(np.ones(2, np.uint8)) == 129


@pytest.mark.parametrize(("body", "error"), [
    ("x + 1 // 0", ZeroDivisionError), ("x + 1.0 % 0.0", ZeroDivisionError),
    ("x + (1 << -1)", ValueError), ("x + 10.0 ** 400", OverflowError),
])
def test_what_python_raises_for_is_raised_at_run_time(body: str, error: type) -> None:
    f = kernel(body)  # compiles: the operation stays in the code
    with pytest.raises(error):
        f.py_func(1)
    with pytest.raises(error):
        f(1)


# --- random constant expressions against CPython -------------------------------------------

_OPS = ["+", "-", "*", "/", "//", "%", "<<", ">>", "&", "|", "^", "**"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 4 or draw(st.booleans()):
        return draw(st.sampled_from(["0", "1", "2", "3", "7", "255", "(2**31)", "(2**62)",
                                     "(2**63)", "0.5", "1.5", "-2.0", "1e300", "True",
                                     "False", "BIG"]))
    if draw(st.integers(0, 4)) == 0:
        return f"{draw(st.sampled_from(['-', '~', '+']))}({draw(expressions(depth + 1))})"
    op = draw(st.sampled_from(_OPS))
    left = draw(expressions(depth + 1))
    right = draw(st.sampled_from(["0", "1", "2", "3", "17", "40", "64"])) if op in (
        "**", "<<", ">>") else draw(expressions(depth + 1))
    return f"({left} {op} {right})"


@settings(max_examples=60, deadline=None)
@given(expressions())
def test_random_constant_expressions_agree_with_cpython(body: str) -> None:
    try:
        expected: object = eval(body, {"BIG": BIG})  # noqa: S307 - generated above
    except Exception as exc:
        expected = exc
    f = kernel(body, params="")
    try:
        got: object = f()
    except fl.CompileError as exc:
        # Kernels are typed: ~, <<, >>, &, |, ^ on floats are compile errors whatever
        # the values; an integer outside int64 cannot be compiled.
        if "more than 4096 bits" in str(exc):
            return  # a bound on what the compiler computes, even where the end fits
        if "does not fit in int64" in str(exc):
            assert isinstance(expected, Exception) or (
                type(expected) is int and not -(2**63) <= expected < 2**63), (body, exc)
        else:
            assert "operand type" in str(exc), (body, exc)
        return
    except Exception as exc:
        got = exc
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"{body}: CPython raises {expected!r}, got {got!r}"
        assert type(got) is type(expected), (body, got, expected)
        return
    assert not (type(expected) is int and not -(2**63) <= expected < 2**63), (body, got)
    if isinstance(got, ValueError) and "negative integer powers" in str(got):
        return  # documented: int ** negative int raises in kernels
    assert type(got) is type(expected), (body, got, expected)
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (body, got, expected)
