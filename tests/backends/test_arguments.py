"""An Executable accepts exactly what its argument rules accept, on its fast path too.

The entry reads exact Python floats and ints and NumPy arrays itself; anything
else goes to its argument reporter (``loader.check_argument``), which converts
what the rules accept (NumPy scalars) or raises a TypeError naming the
parameter.  Before, the fast path took any buffer exporter as an array and any
object with ``__float__``/``__index__`` as a number.
"""

from __future__ import annotations

import array
import decimal
import enum
import fractions
from typing import Any

import numpy as np
import pytest

import frostline as fl
from frostline import types as t
from frostline.backends.llvm.loader import check_argument


def identity(x):
    return x


def first(a):
    return a[0]


class WithFloat:
    def __float__(self) -> float:
        return 2.5


class WithIndex:
    def __index__(self) -> int:
        return 7


class Small(enum.IntEnum):
    three = 3


class MyFloat(float):
    pass


class MyArray(np.ndarray):
    pass


SCALARS: list[Any] = [
    1.5, -0.0, float("nan"), 3, -(2**63), 2**63, 2**64, 10**400, True, False, Small.three,
    MyFloat(4.25), np.float64(1.25), np.float32(0.1), np.int8(-3), np.uint64(2**63),
    np.int64(-7), np.bool_(True), WithFloat(), WithIndex(), fractions.Fraction(1, 3),
    decimal.Decimal("1.5"), "1.0", None, 1 + 2j,
]
ARRAYS: list[Any] = [
    np.arange(3.0), np.arange(3.0).view(MyArray), bytearray(b"abc"), b"abc",
    memoryview(bytearray(24)).cast("d"), array.array("d", [1.0, 2.0]),
    np.arange(3, dtype=np.float32), [1.0, 2.0],
]


def outcome(call: Any) -> tuple[str, Any]:
    try:
        value = call()
    except Exception as exc:  # the outcome is the exception's type and message
        return type(exc).__name__, str(exc)
    if isinstance(value, float) and value != value:
        return "value", "nan"
    return "value", (type(value).__name__, value)


@pytest.mark.parametrize("signature", ["float64", "float32", "int64", "int8", "uint64", "bool"])
@pytest.mark.parametrize("value", SCALARS, ids=lambda v: f"{type(v).__name__}:{v!r}"[:40])
def test_a_scalar_parameter_takes_what_the_rules_take(signature: str, value: Any) -> None:
    exe = fl.jit(identity).compile(signature)
    rules = outcome(lambda: check_argument("identity", "x", t.as_type(signature), value, False))
    got = outcome(lambda: exe(value))
    if rules[0] == "value":
        converted = check_argument("identity", "x", t.as_type(signature), value, False)
        assert got == outcome(lambda: exe(converted))
        assert got[0] == "value", f"the rules accept {value!r}, the call raised {got}"
    else:
        assert got == rules, f"{value!r}: the rules say {rules}, the call gave {got}"
    assert outcome(lambda: exe.bind(value)()) == got


@pytest.mark.parametrize("value", ARRAYS, ids=lambda v: type(v).__name__)
def test_an_array_parameter_takes_numpy_arrays_only(value: Any) -> None:
    exe = fl.jit(first).compile("float64[:]")
    rules = outcome(lambda: check_argument("first", "a", t.as_type("float64[:]"), value, False))
    got = outcome(lambda: exe(value))
    if rules[0] == "value":
        assert got == ("value", ("float", float(np.asarray(value)[0])))
    else:
        assert got == rules
        assert "first() argument 'a'" in got[1]
    assert outcome(lambda: exe.bind(value)()) == got


def test_an_int_too_large_for_a_float_parameter_is_an_overflow_error_naming_it() -> None:
    exe = fl.jit(identity).compile("float64")
    with pytest.raises(OverflowError, match="identity\\(\\) argument 'x' is an int too large "
                                            "to convert to float64"):
        exe(10**400)
    assert exe(2**1023) == float(2**1023)
