"""Results are the same in every execution mode: the differential corpus, and properties
of ``f.run``.

Single calls run each corpus case under ``python``, ``per_function``, ``whole`` and
``auto``; batches run it through ``f.run`` under ``run`` and ``auto``, as a batch of 1
to 3 identical calls.  Everything is compared with CPython as in test_differential:
results, exceptions, and the final contents of every array argument (for a batch:
of every row).

The corpus documents a few deliberate differences of compiled code from CPython
(int64 wrap-around, ``int ** negative int``); they hold where the case's kernel is
compiled (``whole``, ``auto``, ``run``), not where it runs as Python (``python``, and
``per_function``, which compiles only the kernels a function calls: none of those
cases calls one).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from corpus.checks import (
    Reference,
    arrays_of,
    assert_same_array,
    check_arrays,
    check_outcome,
    reference,
    run_compiled,
)
from corpus.kernels import CASES, Case
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import frostline as fl

#: Modes whose single calls run the case's kernel compiled.
_COMPILED = {"whole", "auto", "run"}

_DISPATCHERS: dict[tuple[Any, ...], Any] = {}


def dispatcher(case: Case, mode: str) -> Any:
    """One jit function per kernel, options and mode, shared by the cases."""
    key = (case.fn, tuple(sorted(case.options.items())), mode)
    if key not in _DISPATCHERS:
        _DISPATCHERS[key] = fl.jit(case.fn, mode=mode, **case.options)
    return _DISPATCHERS[key]


def fallbacks(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, fl.FallbackWarning)]


# ---------------------------------------------------------------------------
# Single calls
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["python", "per_function", "whole", "auto"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_corpus_single_call(case: Case, mode: str) -> None:
    ref = reference(case)
    args = case.args_factory()
    f = dispatcher(case, mode)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        got, got_exc = run_compiled(f, args)
    assert not fallbacks(caught), f"the {mode} call fell back: {fallbacks(caught)}"
    check_outcome(case, ref, got, got_exc, documented=mode in _COMPILED)
    check_arrays(ref, args, case.rtol)


# ---------------------------------------------------------------------------
# Batches: f.run
# ---------------------------------------------------------------------------


def _memory(root: np.ndarray) -> np.ndarray:
    """The bytes of a contiguous array, in memory order."""
    assert root.flags.c_contiguous or root.flags.f_contiguous, \
        "corpus arrays are views of contiguous arrays"
    return root.reshape(-1, order="A").view(np.uint8)


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def _rows(memory: np.ndarray, like: np.ndarray, offset: int) -> np.ndarray:
    """A batch whose row ``k`` is ``like``'s layout over row ``k`` of ``memory``."""
    return np.ndarray((memory.shape[0], *like.shape), like.dtype, buffer=memory,
                      offset=offset, strides=(memory.strides[0], *like.strides))


def batch_of(args: tuple, n: int) -> tuple[tuple, list[np.ndarray]]:
    """The case's arguments as ``n`` identical calls, and the batched arrays to check.

    Every row of a batched array has the layout of the case's array (views, Fortran
    order, negative strides) and is a fresh copy of it, over a fresh copy of the array
    it views; arguments that share memory still share it, row by row.  Scalars are
    given once, or, when the case has no array, per element as 1-D arrays.  The
    second result is parallel to ``arrays_of(args)``.
    """
    if not any(isinstance(a, np.ndarray) for a in args):
        return tuple(np.full(n, a, dtype=np.asarray(a).dtype) for a in args), []
    memories: dict[int, np.ndarray] = {}  # id(root) -> n copies of its bytes
    batched, checked = [], []
    for a in args:
        if not isinstance(a, np.ndarray):
            batched.append(a)
            continue
        root = a.base if isinstance(a.base, np.ndarray) else a
        if id(root) not in memories:
            memories[id(root)] = np.repeat(_memory(root)[None], n, axis=0)
        memory = memories[id(root)]
        rows = _rows(memory, a, _address(a) - _address(root))
        batched.append(rows)
        checked.append(rows)
        if root is not a:
            checked.append(_rows(memory, root, 0))
    return tuple(batched), checked


def element(results: Any, k: int) -> Any:
    """Call ``k``'s result from what ``f.run`` returned."""
    if results is None:
        return None
    if isinstance(results, tuple):
        return tuple(column[k] for column in results)
    return results[k]


def _run_params() -> list[Any]:
    return [pytest.param(case, mode, 1 + k % 3, id=f"{case.id}-{mode}")
            for k, case in enumerate(CASES) if case.args_factory()
            for mode in ("run", "auto")]


@pytest.mark.parametrize(("case", "mode", "n"), _run_params())
def test_corpus_run(case: Case, mode: str, n: int) -> None:
    ref = reference(case)
    args, arrays = batch_of(case.args_factory(), n)
    f = dispatcher(case, mode)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        got, got_exc = run_compiled(f.run, args)
    check_run(case, ref, n, got, got_exc, arrays, fallbacks(caught))


def check_run(case: Case, ref: Reference, n: int, got: Any, got_exc: BaseException | None,
              arrays: list[np.ndarray], fell_back: list[str]) -> None:
    assert not fell_back, f"f.run fell back: {fell_back}"
    if got_exc is None:
        assert isinstance(got, tuple | np.ndarray | None), f"f.run returned {got!r}"
        for k in range(n):
            check_outcome(case, ref, element(got, k), None, where=f"result of call {k}")
    else:
        check_outcome(case, ref, None, got_exc)
    raised = got_exc is not None  # then only call 0 ran
    fresh = case.args_factory()
    for (name, after), (_, before), rows in zip(arrays_of(ref.args), arrays_of(fresh), arrays,
                                                strict=True):
        for k in range(n):
            want = before if raised and k else after
            assert_same_array(want, rows[k], case.rtol, f"{name} row {k} after the run")


# ---------------------------------------------------------------------------
# Properties of f.run
# ---------------------------------------------------------------------------

SMALL = settings(max_examples=60, deadline=None)

batch_lengths = st.integers(0, 6)
finite = st.floats(-1e6, 1e6, allow_nan=False)
small_ints = st.integers(-(2**31), 2**31)


def python_loop(fn: Any, batch: tuple, batched: tuple[bool, ...], n: int) -> list[Any]:
    return [fn(*(a[k] if b else a for a, b in zip(batch, batched, strict=True)))
            for k in range(n)]


def polynomial(x, y):
    return 3.0 * x * x - y * x + 0.5


def divmod_pair(a, b):
    return a // b, a % b, a * b


def row_stats(row, scale):
    lo = row[0]
    total = 0.0
    for i in range(row.shape[0]):
        total += row[i] * scale
        lo = min(lo, row[i])
    return total, lo


def scale_row_in_place(row, factor):
    for i in range(row.shape[0]):
        row[i] = row[i] * factor + i


RUN = {fn: fl.jit(fn, mode="run")
       for fn in (polynomial, divmod_pair, row_stats, scale_row_in_place)}


@given(n=batch_lengths, data=st.data())
@SMALL
def test_run_of_scalar_kernel_is_a_python_loop(n: int, data: st.DataObject) -> None:
    xs = data.draw(hnp.arrays(np.float64, n, elements=finite))
    y = data.draw(st.one_of(finite, hnp.arrays(np.float64, n, elements=finite)))
    got = RUN[polynomial].run(xs, y)
    batched = (True, isinstance(y, np.ndarray))
    want = python_loop(polynomial, (xs, y), batched, n)
    assert got.dtype == np.float64 and got.tolist() == want


@given(n=batch_lengths, data=st.data())
@SMALL
def test_run_of_tuple_kernel_is_a_python_loop(n: int, data: st.DataObject) -> None:
    nonzero = small_ints.filter(bool)
    a = data.draw(hnp.arrays(np.int64, n, elements=small_ints))
    b = data.draw(st.one_of(nonzero, hnp.arrays(np.int64, n, elements=nonzero)))
    got = RUN[divmod_pair].run(a, b)
    want = python_loop(divmod_pair, (a.tolist(), b if isinstance(b, int) else b.tolist()),
                       (True, not isinstance(b, int)), n)
    assert [c.dtype for c in got] == [np.int64] * 3
    assert list(zip(*(c.tolist() for c in got), strict=True)) == want


@given(shape=st.tuples(batch_lengths, st.integers(1, 5)), data=st.data())
@SMALL
def test_run_of_row_reduction_is_a_python_loop(shape: tuple[int, int],
                                               data: st.DataObject) -> None:
    rows = data.draw(hnp.arrays(np.float64, shape, elements=finite))
    scale = data.draw(finite)
    total, lo = RUN[row_stats].run(rows, scale)
    want = python_loop(row_stats, (rows, scale), (True, False), shape[0])
    assert list(zip(total.tolist(), lo.tolist(), strict=True)) == want


@given(shape=st.tuples(batch_lengths, st.integers(0, 5)), fortran=st.booleans(),
       data=st.data())
@SMALL
def test_run_writes_rows_in_place_as_a_python_loop(shape: tuple[int, int], fortran: bool,
                                                   data: st.DataObject) -> None:
    rows = data.draw(hnp.arrays(np.float64, shape, elements=finite))
    rows = np.asfortranarray(rows) if fortran else rows
    factor = data.draw(st.one_of(finite, hnp.arrays(np.float64, shape[0], elements=finite)))
    want = rows.copy()
    python_loop(scale_row_in_place, (want, factor),
                (True, isinstance(factor, np.ndarray)), shape[0])
    assert RUN[scale_row_in_place].run(rows, factor) is None
    assert rows.tolist() == want.tolist()
