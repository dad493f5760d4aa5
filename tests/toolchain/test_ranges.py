"""Indices proved non-negative from loop bounds lose their wrap-around select, and only those.

A wrong proof would make a negative index read before the array instead of from
its end; so besides the proofs themselves, random loop nests with affine
indices are compared with CPython under ``boundscheck=True``, where a negative
index the proof missed would raise IndexError instead of wrapping.
"""

from __future__ import annotations

import itertools
import linecache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl
from frostline.toolchain.ranges import nonnegative_indices

_names = itertools.count()


def kernel(source: str, **options: bool) -> fl.Dispatcher:
    filename = f"<test_ranges {next(_names)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "test_ranges_generated", "N": 3}
    exec(compile(source, filename, "exec"), namespace)
    return fl.jit(namespace["k"], cache=False, **options)


def proved(source: str, signature: str) -> list[str]:
    """The source text of every index the analysis proves non-negative."""
    f = kernel(source)
    stages = f.stages(signature)
    fn = stages.program.entry_function
    keys = nonnegative_indices(fn, stages.typed.entry)
    lines = fn.source.splitlines()
    return sorted(lines[line - 1][col:end_col] for _, line, col, _, end_col in keys)


@pytest.mark.parametrize(("body", "expected"), [
    ("for i in range(k):\n        s += a[k - i - 1]", ["k - i - 1"]),
    ("for i in range(len(a)):\n        s += a[len(a) - 1 - i] + a[i]", ["i", "len(a) - 1 - i"]),
    ("for i in range(1, a.shape[0]):\n        s += a[i - 1]", ["i - 1"]),
    ("for i in range(k - 1, -1, -1):\n        s += a[i]", ["i"]),
    ("for j in range(1, k):\n        for i in range(j):\n            s += a[j - i - 1]",
     ["j - i - 1"]),
    ("for i in range(0, k, 2):\n        s += a[2 * i + N]", ["2 * i + N"]),
])
def test_indices_the_loop_bounds_keep_non_negative_are_proved(body: str,
                                                              expected: list[str]) -> None:
    source = f"def k(a, k):\n    s = 0.0\n    {body}\n    return s\n"
    assert proved(source, "float64[:], int64") == expected


@pytest.mark.parametrize("body", [
    "for i in range(k):\n        s += a[i - 1]",  # a[-1] when i == 0
    "for i in range(k):\n        s += a[k - i - 2]",  # -1 on the last iteration
    "for i in range(k):\n        k = k - 1\n        s += a[k - i]",  # k changes in the loop
    "for i in range(k):\n        i = i - 2\n        s += a[i]",  # the loop variable changes
    "for i in range(k, -2, -1):\n        s += a[i]",  # down to -1
    "for i in range(k):\n        s += a[m - i]",  # m has no bounds
    "while k > 0:\n        k -= 1\n        for i in range(k):\n            s += a[k - i - 1]",
    "for i in range(k):\n        s += a[-i]",
])
def test_indices_that_can_be_negative_are_not(body: str) -> None:
    source = f"def k(a, k, m):\n    s = 0.0\n    {body}\n    return s\n"
    assert proved(source, "float64[:], int64, int64") == []


def test_a_proved_index_compiles_without_a_select() -> None:
    source = "def k(y, z, n):\n    for i in range(n):\n        z[i] = y[i] + y[n - i - 1]\n"
    ir = kernel(source).stages("float64[::1], float64[::1], int64").compilable.llvm_ir
    assert " select " not in ir


# --- random loop nests against CPython -----------------------------------------------------

@st.composite
def loop_nests(draw: st.DrawFn) -> str:
    """Two nested range loops with affine bounds and affine indices into ``a``."""
    def affine(names: list[str]) -> str:
        terms = [str(draw(st.integers(-3, 3)))]
        for name in names:
            c = draw(st.integers(-2, 2))
            if c:
                terms.append(f"{c} * {name}")
        return " + ".join(terms)
    outer = draw(st.sampled_from(["range(n)", "range(1, n)", "range(n - 1, -1, -1)",
                                  "range(2, n, 2)", "range(n, -1, -1)"]))
    inner = draw(st.sampled_from(["range(i)", "range(i, n)", "range(1, i + 1)",
                                  "range(i - 1, -1, -1)", "range(n - i)"]))
    index = affine(["i", "j", "n"])
    return ("def k(a, n):\n    s = 0.0\n    for i in " + outer + ":\n        for j in "
            + inner + f":\n            s += a[({index}) % (2 * n) - n] + a[{index}]\n"
            "    return s\n")


@settings(max_examples=40, deadline=None)
@given(loop_nests(), st.integers(1, 6))
def test_random_loop_nests_index_as_cpython(source: str, n: int) -> None:
    f = kernel(source, boundscheck=True)
    a = np.arange(float(3 * n + 7)) * 1.5
    try:
        expected: object = f.py_func(a, n)
    except IndexError:
        expected = IndexError
    try:
        got: object = f(a, n)
    except IndexError:
        got = IndexError
    assert got == expected, source
