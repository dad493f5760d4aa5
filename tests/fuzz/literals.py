"""Literal productions: Python and NumPy constants, and weak (NEP 50) literals.

A mixin of :class:`~tests.fuzz.expressions.ExprGen`.  Integer literals stay within
int64 and, next to a NumPy value, within its type; float literals include the
special values (``math.inf``, ``math.nan``, ``-0.0``, ``5e-324``) and the module
constants of ``math`` and ``numpy``.
"""

from __future__ import annotations

from typing import Any

from . import semantics as s
from .scope import Expr
from .semantics import PY_FLOAT, PY_INT, Scalar

SPECIAL_FLOAT_TEXT = ("math.inf", "-math.inf", "math.nan", "math.pi", "math.e", "math.tau",
                      "np.pi", "np.inf", "np.nan", "-0.0", "0.0", "1e-3", "1e300", "5e-324",
                      "0.1", "2.5", "-2.5", "0.5", "1.5", "3.0", "-7.0", "1e16")


class LiteralProductions:
    """Constants; mixed into ExprGen."""

    rng: Any
    scope: Any

    def literal(self, ty: Scalar) -> Expr:
        """A constant of fuzz type ``ty``: a Python literal, or ``np.T(literal)``."""
        if ty.is_bool:
            value = self.rng.random() < 0.5
            if not ty.numpy:
                return Expr(str(value), ty, 1)
            text = self.rng.choice((f"np.{value}_", f"np.bool_({value})"))
            return Expr(text, ty, 1)
        if ty.is_int:
            value = self._int_value(ty)
            text = self._int_text(value)
            if ty.numpy:
                text = f"{ty.cast}({text})"
            return Expr(text, ty, s.bits_of(value) if not ty.numpy else ty.width)
        text = self._float_text()
        return Expr(f"{ty.cast}({text})" if ty.numpy else text, ty, 0)

    def weak(self, ty: Scalar, kind: str = "same") -> Expr | None:
        """A bare literal or global number that is weak next to ``ty`` and keeps its type.

        ``kind`` "float" asks for a float literal (next to a NumPy int it makes float64).
        """
        if ty.is_bool:
            return None
        if kind == "float" or (ty.is_float and self.rng.random() < 0.6):
            glob = [g for g in self.scope.program.globals if g.ty == PY_FLOAT]
            if glob and self.rng.random() < 0.2:
                return Expr(self.rng.choice(glob).name, PY_FLOAT, weak=True)
            return Expr(self._float_text(), PY_FLOAT, 0, weak=True)
        glob = [g for g in self.scope.program.globals if g.ty == PY_INT
                and s.fits(g.value, ty if ty.is_int else PY_INT)]  # type: ignore[arg-type]
        if glob and self.rng.random() < 0.2:
            g = self.rng.choice(glob)
            return Expr(g.name, PY_INT, s.bits_of(g.value), weak=True)  # type: ignore[arg-type]
        value = self._int_value(ty if ty.is_int else PY_INT, small=True)
        return Expr(self._int_text(value), PY_INT, s.bits_of(value), weak=True)

    def _int_value(self, ty: Scalar, small: bool = False) -> int:
        r = self.rng.random()
        lo, hi = max(ty.lo, -(2**20)), min(ty.hi, 2**20)
        if small or r < 0.7:
            return min(max(self.rng.randint(-9, 20), ty.lo), ty.hi)
        if r < 0.9 or not ty.numpy:
            return self.rng.randint(max(lo, -1000), min(hi, 1000))
        top = min(ty.hi, s.I64_MAX)  # a literal outside int64 is a CompileError
        return self.rng.choice((ty.lo, top, ty.lo + 1, top - 1))

    def _int_text(self, value: int) -> str:
        r = self.rng.random()
        if 0 <= value and r < 0.1:
            return hex(value)
        if abs(value) >= 1000 and r < 0.4:
            return f"{value:_}" if value >= 0 else f"(-{-value:_})"
        return str(value) if value >= 0 else f"({value})"

    def _float_text(self) -> str:
        if self.rng.random() < 0.4:
            text = self.rng.choice(SPECIAL_FLOAT_TEXT)
        else:
            text = repr(round(self.rng.gauss(0.0, 10.0), self.rng.randint(0, 3)))
        return f"({text})" if text.startswith("-") else text
