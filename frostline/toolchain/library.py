"""The builtin, ``math`` and NumPy functions of the language: arity, result type, errors.

Typing reads this table for result types; code generation reads it for the
error checks.  ``math`` functions keep Python's errors (``math.sqrt(-1)`` raises
``ValueError``), NumPy functions keep NumPy's (``np.sqrt(-1.0)`` is ``nan``).
"""

from __future__ import annotations

import attrs

from frostline import types as t
from frostline.toolchain import creation, joins, reductions, ufuncs


@attrs.frozen
class LibraryFunction:
    """A function of the language.

    ``result``: 'float' (always float64), 'ufunc' (float32 stays float32, ints become
    float64), 'rounding' (like 'ufunc', but integers and bools keep their type, as in
    NumPy 2), 'same' (NumPy promotion of the arguments, ints stay ints), 'bool', 'int'.
    ``check``: '' (none), 'domain' (nan or inf from finite arguments is ValueError),
    'overflow' (inf from finite arguments is OverflowError, nan is ValueError),
    'gamma' (non-positive integers are ValueError, else as 'overflow'), 'toint'
    (float to int: nan is ValueError, inf is OverflowError).
    """

    name: str
    min_args: int
    max_args: int
    result: str
    check: str = ""


def _table(*entries: LibraryFunction) -> dict[str, LibraryFunction]:
    return {e.name: e for e in entries}


F = LibraryFunction
LIBRARY: dict[str, LibraryFunction] = _table(
    F("builtins.abs", 1, 1, "same"),
    F("builtins.min", 2, 64, "same"),
    F("builtins.max", 2, 64, "same"),
    F("builtins.round", 1, 1, "int", "toint"),
    F("math.sqrt", 1, 1, "float", "domain"),
    F("math.exp", 1, 1, "float", "overflow"),
    F("math.expm1", 1, 1, "float", "overflow"),
    F("math.exp2", 1, 1, "float", "overflow"),
    F("math.log", 1, 2, "float", "domain"),
    F("math.log2", 1, 1, "float", "domain"),
    F("math.log10", 1, 1, "float", "domain"),
    F("math.log1p", 1, 1, "float", "domain"),
    F("math.sin", 1, 1, "float", "domain"),
    F("math.cos", 1, 1, "float", "domain"),
    F("math.tan", 1, 1, "float", "domain"),
    F("math.asin", 1, 1, "float", "domain"),
    F("math.acos", 1, 1, "float", "domain"),
    F("math.atan", 1, 1, "float"),
    F("math.atan2", 2, 2, "float"),
    F("math.sinh", 1, 1, "float", "overflow"),
    F("math.cosh", 1, 1, "float", "overflow"),
    F("math.tanh", 1, 1, "float"),
    F("math.asinh", 1, 1, "float"),
    F("math.acosh", 1, 1, "float", "domain"),
    F("math.atanh", 1, 1, "float", "domain"),
    F("math.floor", 1, 1, "int", "toint"),
    F("math.ceil", 1, 1, "int", "toint"),
    F("math.trunc", 1, 1, "int", "toint"),
    F("math.fabs", 1, 1, "float"),
    F("math.copysign", 2, 2, "float"),
    F("math.fmod", 2, 2, "float", "domain"),
    F("math.hypot", 1, 64, "float"),  # CPython returns inf here, no OverflowError
    F("math.pow", 2, 2, "float", "overflow"),
    F("math.isnan", 1, 1, "bool"),
    F("math.isinf", 1, 1, "bool"),
    F("math.isfinite", 1, 1, "bool"),
    F("math.erf", 1, 1, "float"),
    F("math.erfc", 1, 1, "float"),
    F("math.gamma", 1, 1, "float", "gamma"),
    F("math.lgamma", 1, 1, "float", "gamma"),
    F("math.degrees", 1, 1, "float"),
    F("math.radians", 1, 1, "float"),
    F("math.ldexp", 2, 2, "float", "overflow"),
    F("math.gcd", 2, 2, "int"),
    F("math.cbrt", 1, 1, "float"),
    *(F(f"numpy.{n}", 1, 1, "ufunc") for n in (
        "sqrt", "exp", "expm1", "exp2", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
        "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
        "rint", "fabs", "cbrt", "deg2rad", "rad2deg", "degrees", "radians")),
    *(F(f"numpy.{n}", 1, 1, "rounding") for n in ("floor", "ceil", "trunc")),
    *(F(f"numpy.{n}", 2, 2, "ufunc") for n in ("arctan2", "hypot", "copysign")),
    *(F(f"numpy.{n}", 1, 1, "same") for n in ("abs", "absolute", "sign", "square")),
    *(F(f"numpy.{n}", 2, 2, "same") for n in ("power", "minimum", "maximum", "fmin", "fmax")),
    *(F(f"numpy.{n}", 1, 1, "bool") for n in ("isnan", "isinf", "isfinite")),
)

#: dtype constructors usable as casts: ``np.float32(x)``.
CASTS: dict[str, t.ScalarType] = {
    "numpy.bool_": t.bool_, "numpy.int8": t.int8, "numpy.int16": t.int16,
    "numpy.int32": t.int32, "numpy.int64": t.int64, "numpy.uint8": t.uint8,
    "numpy.uint16": t.uint16, "numpy.uint32": t.uint32, "numpy.uint64": t.uint64,
    "numpy.float32": t.float32, "numpy.float64": t.float64, "numpy.intp": t.int64,
    "numpy.uintp": t.uint64, "numpy.double": t.float64, "numpy.single": t.float32,
    "builtins.int": t.int64, "builtins.float": t.float64, "builtins.bool": t.bool_,
}

#: NumPy functions of arrays typed in ``typing.arrays`` (besides ufuncs and reductions).
ARRAY_FUNCTIONS = ("numpy.where", "numpy.clip", "numpy.transpose", "numpy.copy",
                   "numpy.ravel", "numpy.reshape")
#: Every NumPy name of array code: those, the ufuncs (``ufuncs``) and the reductions
#: (``reductions``).
ARRAY_NAMES: tuple[str, ...] = (
    *ARRAY_FUNCTIONS,
    *creation.CREATIONS,
    *joins.JOINS,
    *(f"numpy.{n}" for n in (*ufuncs.UFUNCS, *ufuncs.ALIASES)),
    *(f"numpy.{n}" for n in (*reductions.REDUCTIONS, *reductions.ALIASES,
                             *reductions.SCANS)),
)

#: Every builtin name the language knows: library functions, casts, ``len`` and ``range``,
#: and NumPy's functions of arrays (ufuncs, reductions, ``np.where``...).
KNOWN_NAMES: tuple[str, ...] = (*LIBRARY, *CASTS, "builtins.len", "builtins.range",
                                *ARRAY_NAMES)


def result_type(fn: LibraryFunction, args: list[t.Type]) -> t.Type:
    """The result type of a call of ``fn`` with arguments of the given scalar types.

    A NumPy function returns a NumPy scalar, never a weak value: ``np.floor(-28)`` is
    an ``int64``, ``np.sqrt(2.0)`` a ``float64``, whatever they meet next."""
    result = _result_type(fn, args)
    return t.concrete(result) if fn.name.startswith("numpy.") else result


#: NumPy functions with a bool loop: of bools they return a bool.
_NUMPY_BOOL_LOOPS = frozenset(f"numpy.{name}" for name in (
    "abs", "absolute", "maximum", "minimum", "fmax", "fmin"))


def _result_type(fn: LibraryFunction, args: list[t.Type]) -> t.Type:
    if fn.result == "bool":
        return t.bool_
    if fn.result == "int":
        return t.int64
    if fn.result == "float":
        return t.float64
    promoted = args[0]
    for a in args[1:]:
        promoted = t.promote(promoted, a)
    if fn.result == "same":
        if isinstance(promoted, t.ScalarType) and promoted.is_bool:
            if fn.name in ("builtins.min", "builtins.max") or fn.name in _NUMPY_BOOL_LOOPS:
                return t.bool_
            # np.square and np.power of bools use NumPy's smallest integer loop;
            # Python's abs(True) is the int 1.
            return t.int8 if fn.name.startswith("numpy.") else t.int64
        return promoted
    concrete = t.concrete(promoted)
    assert isinstance(concrete, t.ScalarType)
    if concrete.is_float or fn.result == "rounding":
        return promoted
    return t.float64
