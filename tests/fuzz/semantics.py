"""The types the fuzzer generates, and the rules that keep CPython and frostline agreeing.

A generated kernel runs twice: as a plain function under CPython (with NumPy's
rules for NumPy values) and compiled by frostline.  The language reference
(``docs/language.md``) promises the same results except for its documented
differences, so the generator stays inside the region where both agree.  Every
rule it follows, and why:

Types
    Each value has a *fuzz type* (:class:`Scalar`, :class:`ArrayT`,
    :class:`TupleT`).  A scalar is either a Python object under CPython
    (``numpy=False``: ``int``, ``float``, ``bool``; frostline types them
    ``int64``, ``float64``, ``bool``) or a NumPy scalar (``numpy=True``).  The two
    kinds are kept apart because CPython treats Python numbers as *weak* (NEP 50)
    while frostline types Python-number *variables and arguments* as strong
    ``int64``/``float64``.  So a Python number only meets a NumPy value of type
    ``int64`` or ``float64`` (where weak and strong promotion coincide); a narrower
    NumPy value only meets literals or module globals (weak in both), other NumPy
    values, or explicit casts (:func:`promote`).  ``np.bool_`` never takes part in
    arithmetic or ``~``/unary minus: NumPy's ``True + True`` is ``True`` and
    ``~np.True_`` is ``False``, frostline gives ``2`` and ``-2``.

One type per variable
    A variable, helper parameter, tuple item or return value has exactly one fuzz
    type; every value assigned to it has exactly that type.  (frostline would unify
    an ``int`` and a ``float`` to ``float64`` where CPython keeps whichever came
    last.)  ``and``/``or``, ``x if c else y`` and ``min``/``max`` in value position
    take operands of one type.  Annotations ``x: T = e`` only annotate an ``e`` of
    type ``T`` (CPython ignores annotations; frostline converts).

Integers
    frostline ints are fixed-width and wrap, Python ints do not.  Every Python int
    has a magnitude bound in bits (:attr:`Expr.bits`); an expression whose bound
    passes :data:`INT_LIMIT_BITS` is reduced with ``% m`` (m < 2**20), and every
    Python int stored in a name has at most :data:`VAR_BITS` bits.  Augmented
    assignments that grow a Python int are followed by ``x %= m``.  Python ints
    are raised only to exponents 0..3 (no ``int ** negative int``), shifted left
    by at most 8, and never meet a float beyond 2**53 (``int / int`` and
    int-float comparisons are exact in CPython).  NumPy integers wrap in both, so
    they are not bounded, except where a Python int is made from them (``int()`` of
    a ``uint64``, ``math.floor``) or they are divided with ``/``.
    Casting a Python int to a narrower NumPy integer goes through ``np.int64(x)``
    (NumPy 2 raises ``OverflowError`` for an out-of-range Python int, frostline
    wraps: documented), or masks it into range first.

Division
    A divisor that may be zero only appears when both operands are Python
    numbers, where CPython raises ``ZeroDivisionError`` as frostline does; NumPy
    divisors are made non-zero (``e % k + 1``, ``e if e != 0 else T(1.5)``,
    documented difference: NumPy would return inf/nan/0).  NumPy integer divisors
    are positive, so ``MIN // -1`` never happens.

Floats to integers
    ``int()``, ``round()``, ``math.floor``/``ceil``/``trunc`` see only values
    clamped into +-1e15 with ``min``/``max`` (NaN passes through and raises
    ``ValueError`` in both) or guarded by a comparison.  NumPy casts of floats to
    integers are guarded into the target's range (NumPy leaves the rest undefined;
    frostline saturates: documented).

Stores
    ``a[i] = e`` stores a value of exactly the element's type, a Python int known
    to fit, a float into a float array, or anything into a bool array (NumPy 2
    raises ``OverflowError`` storing an out-of-range integer, frostline wraps).
    Indices are in bounds (literals, ``e % n``, ``-(e % n) - 1``, loop variables
    with a known range), except in ``boundscheck=True`` programs, which may index
    out of bounds on purpose (``IndexError`` in both).

Loops and calls
    ``range`` arguments are small (trip counts below about 12), the step is a
    non-zero literal or ``e % 3 + 1``; ``while`` loops count to a bound; nesting of
    loops, including inside called helpers, is at most three deep; recursion is
    on a counter ``n <= 5`` with a base case.  Helper defaults are Python numbers
    on Python-number parameters only.

Shifts and powers
    Shift counts are non-negative for NumPy integers (NumPy gives 0 for a
    negative count, frostline raises ``ValueError``: documented for Python ints
    only); a count at or beyond the width is fine (0 or -1 in both).  Python int
    counts may be negative (``ValueError`` in both).  NumPy integer powers may have
    a negative literal exponent (``ValueError`` in both).  Float ``**``,
    ``math.pow`` and ``np.power`` take Python floats that are kernel arguments never
    written (LLVM rewrites ``pow`` with constant operands: known), with ``abs()``
    on the base of ``**`` (CPython would return a complex number).  NumPy float
    scalars are never raised with ``**``: NumPy returns inf/nan where frostline
    raises Python's errors.

Literals and casts
    Integer literals stay inside int64 (``np.uint64(2**64 - 1)`` is a CompileError).
    A literal next to a NumPy value fits its type (NumPy raises, frostline refuses
    to compile otherwise).  ``fl.float32(x)`` is not callable under CPython, so
    frostline types appear only as annotations.  ``math.trunc`` takes Python
    numbers only and ``math.ldexp``'s exponent is a Python int (CPython refuses
    NumPy scalars there).  ``np.bool_`` values come from comparisons of NumPy
    values, bool arrays and ``np.bool_()``/``np.isnan()``; Python bools from
    comparisons of Python numbers, ``not``, ``bool()`` and ``math.isnan()``.

Functions
    ``np.sqrt`` and friends are applied to floats and to integers of 32 bits or
    more (NumPy computes ``np.sqrt(int8)`` in float16, frostline in float64:
    documented); two-argument ones (``np.arctan2``) to argument types for which
    NumPy's loop has frostline's documented result type (NumPy picks float32 for
    ``np.arctan2(int16, uint16)``), found by asking NumPy.  NumPy's own SIMD
    ``tanh`` (float64) and ``exp``/``log``/``sin``/``cos``/``tanh`` (float32)
    differ from the C library in the last bit, so they are left out (see
    :class:`Features`).  NumPy functions get at least one argument that is not a
    constant, and never two bools (reported discrepancies, see :class:`Features`).
    ``min``/``max`` take arguments of one type, with NaN ordering left to both
    implementations.

Messages
    Exception types are compared always; messages where the language promises
    CPython's: ``raise``/``assert`` messages (generated as ``fuzz-N``), ``math
    domain error`` and ``math range error``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np

#: Bits a Python int may have inside an expression before it is reduced.
INT_LIMIT_BITS = 52
#: Bits a Python int may have when it is stored in a name, passed or returned.
VAR_BITS = 21
#: The largest integer literal (a larger one is a CompileError).
I64_MAX = 2**63 - 1
#: Moduli used to reduce Python ints (all below 2**20).
REDUCERS = (1000003, 65521, 4093, 997, 256, 97, 13, 3)


@dataclass(frozen=True)
class Scalar:
    """A scalar fuzz type: a NumPy dtype name and whether CPython holds a NumPy scalar."""

    name: str
    numpy: bool

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def is_int(self) -> bool:
        return self.name.startswith(("int", "uint"))

    @property
    def is_float(self) -> bool:
        return self.name.startswith("float")

    @property
    def signed(self) -> bool:
        return self.name.startswith("int")

    @property
    def width(self) -> int:
        return 1 if self.is_bool else np.dtype(self.name).itemsize * 8

    @property
    def lo(self) -> int:
        return int(np.iinfo(self.name).min) if self.is_int else 0

    @property
    def hi(self) -> int:
        return int(np.iinfo(self.name).max) if self.is_int else 1

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.name)

    @property
    def cast(self) -> str:
        """The cast function's source: ``np.int8``, ``int``, ``bool``."""
        if not self.numpy:
            return {"int64": "int", "float64": "float", "bool": "bool"}[self.name]
        return "np.bool_" if self.is_bool else f"np.{self.name}"

    def __str__(self) -> str:
        return self.cast if self.numpy else self.cast + "(py)"


@dataclass(frozen=True)
class ArrayT:
    """An array of a dtype with a shape fixed when the program is generated."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def element(self) -> Scalar:
        return Scalar(self.dtype, True)

    def __str__(self) -> str:
        return f"{self.dtype}{list(self.shape)}"


@dataclass(frozen=True)
class TupleT:
    """A tuple of scalars (or of tuples, when unpacked in place)."""

    items: tuple[Scalar | TupleT, ...]

    @property
    def homogeneous(self) -> bool:
        return len(set(self.items)) == 1 and isinstance(self.items[0], Scalar)


Type = Scalar | ArrayT | TupleT

PY_INT = Scalar("int64", False)
PY_FLOAT = Scalar("float64", False)
PY_BOOL = Scalar("bool", False)
NP_BOOL = Scalar("bool", True)
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float32", "float64")
NP_INTS = tuple(Scalar(n, True) for n in INT_DTYPES)
NP_FLOATS = tuple(Scalar(n, True) for n in FLOAT_DTYPES)
NP_F64 = Scalar("float64", True)
NP_I64 = Scalar("int64", True)
PY_SCALARS = (PY_INT, PY_FLOAT, PY_BOOL)
NP_SCALARS = (*NP_INTS, *NP_FLOATS, NP_BOOL)
ALL_SCALARS = (*PY_SCALARS, *NP_SCALARS)
ARRAY_DTYPES = (*INT_DTYPES, *FLOAT_DTYPES, "bool")


@dataclass(frozen=True)
class Features:
    """Switches for constructs of discrepancies frostline had or has.

    The CI batch uses the defaults: constructs of fixed discrepancies on (their
    switches stay, to narrow a regression down), those of open ones off.  A test
    checks that the switches still generate what they name.
    """

    # Fixed in issue 9 (on by default):
    #: ``math.ldexp``: frostline evaluated its arguments in the wrong order.
    ldexp: bool = True
    #: ``math.lgamma``/``math.gamma``: last-ulp values, and ``lgamma(-inf)``.
    gamma: bool = True
    #: ``math.hypot``: last-ulp values.
    hypot: bool = True
    #: ``x ** y``/``math.pow`` with constant operands (LLVM rewrote ``pow``).
    const_pow: bool = True
    #: ``np.maximum``/``np.minimum`` of floats (ties of +0.0 and -0.0).
    np_min_max_float: bool = True
    #: ``int / int`` with operands beyond 2**53 (otherwise Python ints stay below).
    big_int_division: bool = True
    #: ``range(a, b, step)`` with a step that may be zero (``ValueError``).
    range_zero_step: bool = True
    #: Reading a variable assigned only in a loop's ``else`` clause after a ``break``
    #: (frostline took it as assigned: no UnboundLocalError).
    unbound_loop_else: bool = True
    #: ``np.rad2deg``/``np.degrees`` of float32 (NumPy multiplies by 180.0f / (float)pi).
    np_rad2deg_float32: bool = True
    #: NumPy functions of constant arguments (``np.floor(-28)``, ``np.sqrt(2.0)``): a
    #: strong int64/float64 NumPy scalar, as in NumPy (frostline's was weak).
    np_func_of_constants: bool = True
    #: ``np.maximum``/``minimum``/``fmax``/``fmin`` of two bools: a bool, as in NumPy.
    np_func_of_bools: bool = True
    # Open (off by default):
    #: NumPy's SIMD loops (SVML on AVX-512 hosts: nearly every transcendental function,
    #: ``np.power``, ``np.arctan2``), which differ from the C library frostline calls in
    #: the last bit.  Documented in language.md; not a defect.
    numpy_simd_ulp: bool = False

    @classmethod
    def all_on(cls) -> Features:
        """Every known discrepancy switched on (to check whether they are fixed)."""
        return cls(**{f.name: True for f in fields(cls)})


def bits_of(value: int) -> int:
    """The magnitude bound in bits of one int: ``|value| < 2**bits``."""
    return max(abs(value).bit_length(), 1)


def fits(value: int, ty: Scalar) -> bool:
    """Whether the Python int ``value`` is representable in the integer type ``ty``."""
    return ty.lo <= value <= ty.hi


def _strong_np(ty: Scalar) -> Scalar | None:
    """The NumPy type a Python number acts as next to NumPy int64/float64 values."""
    return {PY_INT: NP_I64, PY_FLOAT: NP_F64}.get(ty)


@cache
def promote(a: Scalar, b: Scalar) -> Scalar | None:
    """The fuzz type of ``a op b`` for ``+ - * // % **``, or None where CPython and
    frostline would disagree (or the operation is not generated)."""
    if a.is_bool and a.numpy or b.is_bool and b.numpy:
        return None
    if not a.numpy and not b.numpy:
        if a.is_float or b.is_float:
            return PY_FLOAT
        return PY_INT
    if not a.numpy or not b.numpy:
        py, other = (a, b) if not a.numpy else (b, a)
        strong = _strong_np(py)
        if strong is None or other not in (NP_I64, NP_F64):
            return None
        a, b = strong, other
    return Scalar(np.result_type(a.dtype, b.dtype).name, True)


@cache
def promote_bitwise(a: Scalar, b: Scalar) -> Scalar | None:
    """The fuzz type of ``a & b`` (also ``|``, ``^``), or None."""
    if a.is_float or b.is_float:
        return None
    if a.is_bool and b.is_bool:
        return NP_BOOL if a.numpy or b.numpy else PY_BOOL
    if a.is_bool or b.is_bool:
        if a.numpy != b.numpy:
            return None
        return PY_INT if not a.numpy else (b if a.is_bool else a)
    return promote(a, b)


@cache
def promote_div(a: Scalar, b: Scalar) -> Scalar | None:
    """The fuzz type of ``a / b``, or None."""
    r = promote(a, b)
    if r is None:
        return None
    if not r.numpy:
        return PY_FLOAT
    return r if r.is_float else NP_F64


def comparable(a: Scalar, b: Scalar) -> bool:
    """Whether ``a < b`` compares the same way in CPython and frostline."""
    if a.numpy and b.numpy:
        return True
    if not a.numpy and not b.numpy:
        return True
    py, other = (a, b) if not a.numpy else (b, a)
    if py.is_bool or other.is_bool:
        return False
    if other.is_int:
        return True
    return other.name == "float64"


def compare_result(a: Scalar, b: Scalar) -> Scalar:
    """The fuzz type of a comparison: np.bool_ as soon as a NumPy value takes part."""
    return NP_BOOL if a.numpy or b.numpy else PY_BOOL


def shift_result(a: Scalar, b: Scalar) -> Scalar | None:
    """The fuzz type of ``a << b``, or None (shifts are for integers)."""
    if not (a.is_int and b.is_int):
        return None
    r = promote(a, b)
    return r if r is not None and r.is_int else None


def np_float_result(ty: Scalar) -> Scalar | None:
    """The fuzz type of ``np.sqrt(x)`` and friends for an ``x`` of type ``ty``, or None.

    Integers below 32 bits are left out: NumPy computes them in float16/float32,
    frostline (documented) in float64."""
    if ty.is_bool:
        return None
    if ty.is_float:
        return Scalar(ty.name, True)
    if ty.width < 32:
        return None
    return NP_F64


def float_to_int_bounds(ty: Scalar) -> tuple[float, float]:
    """Float bounds inside which a float converts to the integer ``ty`` (with margin)."""
    if ty.signed:
        hi = float(2 ** (ty.width - 1)) * 0.9
        return -hi, hi
    return 0.0, float(2**ty.width) * 0.9
