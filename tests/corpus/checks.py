"""Checking one corpus case against CPython, shared by the differential tests of every
execution mode.

``reference(case)`` runs the kernel under CPython on fresh arguments (and checks the
corpus itself: CPython raises exactly what the case declares); ``check_outcome``
compares what frostline returned or raised with it; ``assert_same_array`` compares
the final contents of an array argument.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from corpus.kernels import NOTSET, Case

from frostline.backends import python as python_backend
from frostline.stages import Definition

#: The exceptions a corpus kernel may raise under CPython.
ALLOWED_PY_ERRORS = (ZeroDivisionError, ValueError, AssertionError, IndexError, OverflowError,
                     UnboundLocalError)


def _kind(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, tuple):
        return "tuple"
    return type(value).__name__


def assert_same_value(expected: Any, got: Any, *, rtol: float = 0.0, loose_kind: bool = False,
                      where: str = "result") -> None:
    """``got`` is ``expected``: the same kind (bool, int, float, None, tuple) and value;
    nan equals nan; ``rtol`` loosens float comparisons."""
    ek, gk = _kind(expected), _kind(got)
    if ek == "tuple":
        assert gk == "tuple", f"{where}: expected a tuple {expected!r}, got {got!r}"
        assert len(got) == len(expected), f"{where}: expected {expected!r}, got {got!r}"
        for k, (e, g) in enumerate(zip(expected, got, strict=True)):
            assert_same_value(e, g, rtol=rtol, loose_kind=loose_kind, where=f"{where}[{k}]")
        return
    if ek == "none":
        assert got is None, f"{where}: expected None, got {got!r}"
        return
    if loose_kind and ek in ("int", "float") and gk in ("int", "float"):
        pass
    else:
        assert gk == ek, f"{where}: expected {ek} {expected!r}, got {gk} {got!r}"
    if ek == "float" or gk == "float":
        e, g = float(expected), float(got)
        if math.isnan(e):
            assert math.isnan(g), f"{where}: expected nan, got {got!r}"
        elif rtol and math.isfinite(e):
            assert math.isclose(g, e, rel_tol=rtol, abs_tol=0.0), \
                f"{where}: expected {expected!r}, got {got!r} (rtol={rtol})"
        else:
            assert g == e, f"{where}: expected {expected!r}, got {got!r}"
    else:
        assert int(got) == int(expected), f"{where}: expected {expected!r}, got {got!r}"


def assert_same_array(expected: np.ndarray, got: np.ndarray, rtol: float, where: str) -> None:
    """Same shape, dtype and contents (nan equals nan; ``rtol`` for float arrays)."""
    assert got.shape == expected.shape and got.dtype == expected.dtype, \
        f"{where}: expected {expected.dtype}{list(expected.shape)}, " \
        f"got {got.dtype}{list(got.shape)}"
    if np.issubdtype(expected.dtype, np.inexact):
        if rtol:
            same = np.allclose(got, expected, rtol=rtol, atol=0.0, equal_nan=True)
        else:
            same = np.array_equal(got, expected, equal_nan=True)
    else:
        same = np.array_equal(got, expected)
    if not same:
        diff = np.argwhere(~((got == expected) | (np.isnan(got) & np.isnan(expected))
                             if np.issubdtype(expected.dtype, np.inexact) else got == expected))
        raise AssertionError(f"{where} differs at {diff[:5].tolist()}:\n"
                             f"expected {expected!r}\ngot      {got!r}")


def arrays_of(args: tuple) -> list[tuple[str, np.ndarray]]:
    """Every array argument, plus the array it is a view of (writes must stay in bounds)."""
    out = []
    for k, a in enumerate(args):
        if isinstance(a, np.ndarray):
            out.append((f"arg{k}", a))
            if isinstance(a.base, np.ndarray):
                out.append((f"arg{k}.base", a.base))
    return out


def run_python(fn: Any, args: tuple) -> tuple[Any, BaseException | None]:
    """The kernel's result or exception under CPython (NumPy warnings silenced)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return python_backend.run(Definition(fn), *args), None
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return None, exc


def run_compiled(fn: Any, args: tuple) -> tuple[Any, BaseException | None]:
    """``fn(*args)``'s result or exception."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001
        return None, exc


@dataclass(frozen=True)
class Reference:
    """CPython's outcome of a case: its arguments after the call, its result or error."""

    args: tuple
    result: Any
    exc: BaseException | None


def reference(case: Case) -> Reference:
    """Run the case under CPython, checking that it raises exactly what it declares."""
    args = case.args_factory()
    result, exc = run_python(case.fn, args)
    if case.raises is None:
        assert exc is None, f"corpus bug: CPython raised {exc!r}"
    else:
        assert type(exc) is case.raises, \
            f"corpus bug: CPython should raise {case.raises.__name__}, got {exc!r}"
        assert isinstance(exc, ALLOWED_PY_ERRORS)
    return Reference(args, result, exc)


def expected_exception(case: Case, ref: Reference, *, documented: bool = True
                       ) -> type[BaseException] | None:
    """The exception type frostline must raise, None for a value.

    ``documented``: the case's documented deliberate differences from CPython apply
    (they are differences of compiled code; code running as Python behaves as CPython).
    """
    if documented and case.expected_raises is not None:
        return case.expected_raises
    if documented and case.expected is not NOTSET:
        return None
    return type(ref.exc) if ref.exc is not None else None


def check_outcome(case: Case, ref: Reference, got: Any, got_exc: BaseException | None, *,
                  documented: bool = True, where: str = "result") -> None:
    """frostline's result ``got`` or exception ``got_exc`` is CPython's (or documented)."""
    expect_exc_type = expected_exception(case, ref, documented=documented)
    if expect_exc_type is not None:
        assert got_exc is not None, \
            f"{where}: expected {expect_exc_type.__name__}, frostline returned {got!r}"
        assert type(got_exc) is expect_exc_type, \
            f"{where}: expected {expect_exc_type.__name__}, frostline raised {got_exc!r}"
        if case.check_message and ref.exc is not None and case.expected_raises is None:
            assert str(got_exc) == str(ref.exc), \
                f"{where}: message: expected {str(ref.exc)!r}, got {str(got_exc)!r}"
        return
    if got_exc is not None:
        raise AssertionError(
            f"{where}: frostline raised {type(got_exc).__name__}: {got_exc}") from got_exc
    documented_value = documented and case.expected is not NOTSET
    expected = case.expected if documented_value else ref.result
    assert_same_value(expected, got, rtol=case.rtol, loose_kind=case.loose_kind, where=where)


def check_arrays(ref: Reference, args: tuple, rtol: float) -> None:
    """Every array argument (and the array it views) ends as CPython left it."""
    for (name, want), (_, have) in zip(arrays_of(ref.args), arrays_of(args), strict=True):
        assert_same_array(want, have, rtol, f"{name} after the call")
