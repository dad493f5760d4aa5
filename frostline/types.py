"""The types of the kernel language, ``typeof``, promotion and signature parsing.

A type is a frozen value: ``ScalarType`` (bool, intN, uintN, floatN),
``ArrayType`` (dtype, rank, layout), ``TupleType`` and ``NoneType``.  Integer
and float *literals* have weak types (``WeakInt``/``WeakFloat``) that take the
type of the other operand, as NumPy 2 does for Python scalars (NEP 50).
"""

from __future__ import annotations

import re

import attrs
import numpy as np


@attrs.frozen
class ScalarType:
    """A fixed-width scalar: kind is 'b' (bool), 'i', 'u' or 'f'; bits its width."""

    name: str
    kind: str
    bits: int

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"fl.{self.name}"

    def __getitem__(self, spec: object) -> ArrayType:
        """``float64[:]``, ``float64[:, ::1]`` (C) and ``float64[::1, :]`` (F) as in numba."""
        dims = spec if isinstance(spec, tuple) else (spec,)
        if not dims or not all(isinstance(d, slice) and d.start is None and d.stop is None
                               for d in dims):
            raise ValueError(f"array dimensions are written ':' or '::1', got {spec!r}")
        unit = [d.step for d in dims]
        if any(s not in (None, 1) for s in unit):
            raise ValueError(f"array dimensions are written ':' or '::1', got {spec!r}")
        return ArrayType(self, len(dims), _layout_from_unit_strides(unit))

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    @property
    def is_int(self) -> bool:
        return self.kind in "iu"

    @property
    def is_signed(self) -> bool:
        return self.kind == "i"

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def itemsize(self) -> int:
        return max(self.bits // 8, 1)

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype("bool" if self.kind == "b" else self.name)

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype, so NumPy takes a frostline type where it takes a dtype
        (``np.zeros(3, dtype=fl.float32)`` runs as Python too)."""
        return self.numpy_dtype


@attrs.frozen
class WeakType:
    """The type of a Python int or float literal: adopts the other operand's type."""

    name: str
    concrete: ScalarType

    def __str__(self) -> str:
        return f"literal {self.concrete.name}"

    @property
    def kind(self) -> str:
        return self.concrete.kind


@attrs.frozen
class ArrayType:
    """A NumPy array: element type, rank and layout ('C', 'F' or 'A' for any strides)."""

    dtype: ScalarType
    ndim: int
    layout: str = "A"

    def __str__(self) -> str:
        if self.ndim == 0:
            return f"{self.dtype.name}[()]"
        if self.layout == "C":
            dims = [":"] * (self.ndim - 1) + ["::1"]
        elif self.layout == "F":
            dims = ["::1"] + [":"] * (self.ndim - 1)
        else:
            dims = [":"] * self.ndim
        return f"{self.dtype.name}[{', '.join(dims)}]"

    def __repr__(self) -> str:
        return f"fl.{self}"

    def with_layout(self, layout: str) -> ArrayType:
        return ArrayType(self.dtype, self.ndim, layout)


@attrs.frozen
class TupleType:
    """A fixed-length tuple of values."""

    items: tuple[Type, ...]

    def __str__(self) -> str:
        inner = ", ".join(str(t) for t in self.items)
        return f"({inner},)" if len(self.items) == 1 else f"({inner})"


@attrs.frozen
class DTypeType:
    """A dtype as a value (``a.dtype``, ``np.float32``): known when compiling, it has no
    run-time value; a function taking one is compiled for that dtype."""

    dtype: ScalarType

    def __str__(self) -> str:
        return f"dtype({self.dtype.name})"


@attrs.frozen
class NoneType:
    """The type of ``None``: a function that returns nothing."""

    def __str__(self) -> str:
        return "none"


Type = ScalarType | WeakType | ArrayType | TupleType | NoneType | DTypeType

bool_ = ScalarType("bool", "b", 1)
int8 = ScalarType("int8", "i", 8)
int16 = ScalarType("int16", "i", 16)
int32 = ScalarType("int32", "i", 32)
int64 = ScalarType("int64", "i", 64)
uint8 = ScalarType("uint8", "u", 8)
uint16 = ScalarType("uint16", "u", 16)
uint32 = ScalarType("uint32", "u", 32)
uint64 = ScalarType("uint64", "u", 64)
float32 = ScalarType("float32", "f", 32)
float64 = ScalarType("float64", "f", 64)
none = NoneType()
weak_int = WeakType("int", int64)
weak_float = WeakType("float", float64)

SCALARS: dict[str, ScalarType] = {
    t.name: t
    for t in (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64)
}
ALIASES: dict[str, ScalarType] = {
    "bool_": bool_, "b1": bool_, "i1": int8, "i2": int16, "i4": int32, "i8": int64,
    "u1": uint8, "u2": uint16, "u4": uint32, "u8": uint64, "f4": float32, "f8": float64,
    "float": float64, "int": int64, "double": float64, "intp": int64, "uintp": uint64,
}


def scalar_from_dtype(dtype: np.dtype) -> ScalarType | None:
    """The scalar type of a NumPy dtype, or None when the language lacks it."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return bool_
    if dtype.kind in "iuf" and dtype.isnative:
        prefix = {"i": "int", "u": "uint", "f": "float"}[dtype.kind]
        return SCALARS.get(f"{prefix}{dtype.itemsize * 8}")
    return None


def concrete(t: Type) -> Type:
    """A weak literal type made concrete (``int64``/``float64``); other types unchanged."""
    return t.concrete if isinstance(t, WeakType) else t


def _layout_from_unit_strides(unit: list[int | None]) -> str:
    if len(unit) == 1:
        return "C" if unit[0] == 1 else "A"
    if unit[-1] == 1 and all(u is None for u in unit[:-1]):
        return "C"
    if unit[0] == 1 and all(u is None for u in unit[1:]):
        return "F"
    if all(u is None for u in unit):
        return "A"
    raise ValueError("only the first or the last dimension can be '::1'")


def typeof(value: object) -> Type:
    """The frostline type of a runtime value, as a call with it would be compiled."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, np.generic):
        scalar = scalar_from_dtype(value.dtype)
        if scalar is not None:
            return scalar
    elif isinstance(value, int):
        return int64
    elif isinstance(value, float):
        return float64
    elif isinstance(value, np.ndarray):
        scalar = scalar_from_dtype(value.dtype)
        if scalar is not None:
            return ArrayType(scalar, value.ndim, array_layout(value))
        raise TypeError(f"frostline has no type for arrays of {_dtype_name(value.dtype)} "
                        f"(arrays may hold {', '.join(SCALARS)})")
    elif isinstance(value, tuple):
        return TupleType(tuple(typeof(v) for v in value))
    raise TypeError(f"frostline has no type for {type(value).__name__} values")


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.kind in "iuf" and not dtype.isnative:
        return f"{dtype} (non-native byte order)"
    return str(dtype)


def array_layout(value: np.ndarray) -> str:
    """'C' for C-contiguous arrays (and every contiguous 1-D array), 'F', else 'A'."""
    flags = value.flags
    if flags.c_contiguous:
        return "C"
    if flags.f_contiguous:
        return "F"
    return "A"


def accepts(param: ArrayType, arg: ArrayType) -> bool:
    """Whether an argument of type ``arg`` may be passed where ``param`` is declared."""
    return (param.dtype == arg.dtype and param.ndim == arg.ndim
            and (param.layout == "A" or param.layout == arg.layout
                 or (arg.ndim <= 1 and arg.layout in "CF")))


# --- promotion -----------------------------------------------------------------------------

def _int_for(bits: int, signed: bool) -> ScalarType:
    return SCALARS[f"{'' if signed else 'u'}int{bits}"]


def promote(a: Type, b: Type) -> Type:
    """NumPy 2 promotion of two scalar types; bools take part in arithmetic as int64."""
    if isinstance(a, WeakType) and isinstance(b, WeakType):
        return weak_float if "f" in (a.kind, b.kind) else weak_int
    if isinstance(a, WeakType):
        a, b = b, a
    if isinstance(b, WeakType):
        assert isinstance(a, ScalarType)
        if a.is_bool:
            return b.concrete
        if b.kind == "f" and not a.is_float:
            return float64
        return a
    assert isinstance(a, ScalarType) and isinstance(b, ScalarType)
    return promote_scalars(a, b)


def promote_scalars(a: ScalarType, b: ScalarType) -> ScalarType:
    """NumPy's result type for two concrete scalar types."""
    if a == b:
        return a
    if a.is_bool:
        return b
    if b.is_bool:
        return a
    if a.is_float or b.is_float:
        if a.is_float and b.is_float:
            return a if a.bits >= b.bits else b
        flt, other = (a, b) if a.is_float else (b, a)
        if flt.bits == 32 and other.bits <= 16:
            return float32
        return float64
    if a.kind == b.kind:
        return a if a.bits >= b.bits else b
    signed, unsigned = (a, b) if a.is_signed else (b, a)
    if signed.bits > unsigned.bits:
        return signed
    if unsigned.bits >= 64:
        return float64
    return _int_for(unsigned.bits * 2, True)


def unify(a: Type, b: Type) -> Type | None:
    """The type a variable takes when it is assigned values of types a and b, or None."""
    a, b = concrete(a), concrete(b)
    if a == b:
        return a
    if isinstance(a, ScalarType) and isinstance(b, ScalarType):
        if a.is_bool or b.is_bool:
            other = b if a.is_bool else a
            return int64 if other.is_int or other.is_bool else other
        return promote_scalars(a, b)
    if isinstance(a, ArrayType) and isinstance(b, ArrayType):
        if a.dtype == b.dtype and a.ndim == b.ndim:
            return a.with_layout("A")
        return None
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.items) == len(b.items):
        items = [unify(x, y) for x, y in zip(a.items, b.items, strict=True)]
        if any(t is None for t in items):
            return None
        return TupleType(tuple(items))  # type: ignore[arg-type]
    return None


# --- signatures ----------------------------------------------------------------------------

@attrs.frozen
class Signature:
    """The compile-time description of a call: argument types and an optional return type."""

    args: tuple[Type, ...]
    return_type: Type | None = None

    def __str__(self) -> str:
        inner = ", ".join(str(t) for t in self.args)
        if self.return_type is None:
            return f"({inner})"
        return f"{self.return_type}({inner})"


_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<punct>::1|[\[\]():,]))")


class _SignatureParser:
    """Recursive descent over numba's signature spelling, with caret errors."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(pos + len(text[pos:]) - len(text[pos:].lstrip()),
                          "unexpected character")
            tok = m.group("name") or m.group("punct")
            self.tokens.append((tok, m.start(m.lastgroup)))
            pos = m.end()
        self.i = 0

    def fail(self, pos: int, message: str) -> None:
        raise ValueError(f"invalid signature: {message}\n  {self.text}\n  {' ' * pos}^")

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def pos(self) -> int:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else len(self.text)

    def expect(self, tok: str) -> None:
        if self.peek() != tok:
            self.fail(self.pos(), f"expected '{tok}'")
        self.i += 1

    def parse(self) -> Signature:
        if not self.tokens:
            return Signature(())
        first = self.parse_type()
        if self.peek() == "(":
            self.i += 1
            args = self.parse_list(")")
            self.expect(")")
            sig = Signature(tuple(args), first)
        else:
            rest = [first]
            while self.peek() == ",":
                self.i += 1
                rest.append(self.parse_type())
            sig = Signature(tuple(rest))
        if self.peek() is not None:
            self.fail(self.pos(), "unexpected text after the signature")
        return sig

    def parse_list(self, closer: str) -> list[Type]:
        items: list[Type] = []
        while self.peek() != closer:
            items.append(self.parse_type())
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != closer:
                self.fail(self.pos(), f"expected ',' or '{closer}'")
        return items

    def parse_type(self) -> Type:
        tok, at = self.peek(), self.pos()
        if tok == "(":
            self.i += 1
            items = self.parse_list(")")
            self.expect(")")
            return TupleType(tuple(items))
        if tok is None or not (tok[0].isalpha() or tok[0] == "_"):
            self.fail(at, "expected a type name")
        self.i += 1
        if tok in ("none", "void", "None"):
            return none
        scalar = SCALARS.get(tok) or ALIASES.get(tok)
        if scalar is None:
            self.fail(at, f"unknown type '{tok}'")
        if self.peek() != "[":
            return scalar  # type: ignore[return-value]
        self.i += 1
        if self.peek() == "(":  # float64[()]: a 0-d array
            self.i += 1
            self.expect(")")
            self.expect("]")
            return ArrayType(scalar, 0, "C")  # type: ignore[arg-type]
        unit: list[int | None] = []
        while True:
            if self.peek() == ":":
                unit.append(None)
            elif self.peek() == "::1":
                unit.append(1)
            else:
                self.fail(self.pos(), "expected ':' or '::1' for an array dimension")
            self.i += 1
            if self.peek() == ",":
                self.i += 1
                continue
            break
        at_close = self.pos()
        self.expect("]")
        try:
            layout = _layout_from_unit_strides(unit)
        except ValueError as exc:
            self.fail(at_close, str(exc))
        return ArrayType(scalar, len(unit), layout)  # type: ignore[arg-type]


def parse_signature(text: str) -> Signature:
    """Parse ``"float64, float64[:]"`` or ``"float64(float64, int64[::1])"``."""
    return _SignatureParser(text).parse()


def as_type(value: object) -> Type:
    """A type object from a frostline type, a NumPy dtype or scalar class, or a type string."""
    if isinstance(value, (ScalarType, ArrayType, TupleType, NoneType)):
        return value
    if isinstance(value, str):
        sig = parse_signature(value)
        if len(sig.args) != 1 or sig.return_type is not None:
            raise ValueError(f"expected one type, got {value!r}")
        return sig.args[0]
    if value is float:
        return float64
    if value is int:
        return int64
    if value is bool:
        return bool_
    if value is None:
        return none
    try:
        scalar = scalar_from_dtype(np.dtype(value))  # type: ignore[call-overload]
    except TypeError:
        scalar = None
    if scalar is None:
        raise TypeError(f"{value!r} is not a frostline type")
    return scalar


def make_signature(*spec: object) -> Signature:
    """A Signature from a signature string, a Signature, or type objects."""
    if len(spec) == 1 and isinstance(spec[0], Signature):
        return spec[0]
    if len(spec) == 1 and isinstance(spec[0], str):
        return parse_signature(spec[0])
    if len(spec) == 1 and isinstance(spec[0], (list, tuple)):
        spec = tuple(spec[0])
    return Signature(tuple(as_type(t) for t in spec))
