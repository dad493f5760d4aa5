"""Expression productions that are calls: casts, builtins, ``math``, NumPy, helpers.

A mixin of :class:`~tests.fuzz.expressions.ExprGen` (which provides ``scalar``,
``stored``, ``index``, ``fit`` and the random source); split out to keep each file
about one thing.  The function lists are the language reference's, minus the
known discrepancies that :class:`~tests.fuzz.semantics.Features` switches off.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from . import semantics as s
from .scope import Expr, HelperSig, Param
from .semantics import INT_LIMIT_BITS, NP_BOOL, PY_BOOL, PY_FLOAT, PY_INT, ArrayT, Scalar, TupleT

MATH_ONE = ("sqrt", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos",
            "acosh", "atanh", "exp", "expm1", "exp2", "sinh", "cosh", "atan", "tanh", "asinh",
            "fabs", "erf", "erfc", "degrees", "radians", "cbrt")
MATH_TWO = ("log", "fmod", "atan2", "copysign")
NP_FLOAT_ONE = ("sqrt", "exp", "expm1", "exp2", "log", "log2", "log10", "log1p", "sin", "cos",
                "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
                "arccosh", "arctanh", "rint", "fabs", "cbrt", "deg2rad", "rad2deg", "degrees",
                "radians")
NP_FLOAT_TWO = ("arctan2", "hypot", "copysign")
#: NumPy's own SIMD loops that differ from the C library in the last bit, on some host
#: (frostline calls the C library, as CPython's math does).  On AVX-512 hosts NumPy
#: computes nearly every transcendental function with SVML, even for scalars; the list
#: is the union over hosts, so a seed generates the same program everywhere.
_SVML = ("exp", "expm1", "exp2", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
         "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
         "cbrt")
NP_SIMD = {"float64": _SVML, "float32": _SVML}
NP_SIMD_TWO = ("arctan2",)
NP_SAME_TYPE = ("abs", "absolute", "sign", "square")
NP_ROUNDING = ("floor", "ceil", "trunc")
CAST_ALIASES = {"int64": ("np.int64", "np.intp"), "uint64": ("np.uint64", "np.uintp"),
                "float64": ("np.float64", "np.double"), "float32": ("np.float32", "np.single")}


def numpy_of(ty: Scalar) -> Scalar:
    """The NumPy type a NumPy function returns for a Python number argument."""
    return ty if ty.numpy else Scalar(ty.name, True)


_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_NOT_VALUES = frozenset(("np", "math", "fl", "int", "float", "bool", "abs", "min", "max",
                         "round", "True", "False", "and", "or", "not", "if", "else"))


def constant(text: str) -> bool:
    """Whether an expression reads no variable or argument (only literals, globals and
    functions of them), which frostline may fold into a weak literal."""
    return all(n in _NOT_VALUES or re.fullmatch(r"G\d+|TAB\d+", n)
               for n in _NAME.findall(text))


def _sample(ty: Scalar) -> Any:
    if not ty.numpy:
        return {PY_INT: 1, PY_FLOAT: 1.0, PY_BOOL: True}[ty]
    return ty.dtype.type(1)


@cache
def float_pairs(fn: str, ty: Scalar) -> list[tuple[Scalar, Scalar]]:
    """Argument types for which NumPy's ``np.<fn>(a, b)`` (two-argument float function)
    returns ``ty`` as frostline documents it: the promoted type, integers as float64.

    NumPy picks its loop by casting each argument (``np.arctan2(int16, uint16)`` is
    float32, where the promotion is int32), so the pairs come from NumPy itself."""
    out = []
    for a in s.ALL_SCALARS:
        for b in s.ALL_SCALARS:
            p = s.promote(a, b)
            if p is None or s.np_float_result(numpy_of(p)) != ty:
                continue
            result = getattr(np, fn)(_sample(a), _sample(b))
            if np.asarray(result).dtype == ty.dtype:
                out.append((a, b))
    return out


class CallProductions:
    """Productions for calls; mixed into ExprGen."""

    rng: Any
    scope: Any
    features: s.Features

    if TYPE_CHECKING:
        def scalar(self, ty: Scalar, depth: int, pure: bool = False) -> Expr: ...
        def stored(self, ty: s.Type, depth: int, pure: bool = False) -> Expr: ...
        def fit(self, e: Expr, bits: int) -> Expr: ...
        def index(self, size: int, depth: int, pure: bool, array: str | None = None,
                  axis: int = 0) -> str: ...
        def float_power(self, form: str, depth: int, pure: bool) -> Expr | None: ...

    def _expr(self, text: str, ty: Scalar, bits: int = 64, pure: bool = True) -> Expr:
        return Expr(text, ty, bits, pure)

    def _any_number(self) -> Scalar:
        """A random non-bool scalar type, Python floats and ints most often."""
        return self.rng.choice((PY_FLOAT, PY_FLOAT, PY_INT, *s.NP_INTS, *s.NP_FLOATS,
                                *s.NP_FLOATS))

    # ---------------------------------------------------------------------- guards

    def bounded_float(self, ty: Scalar, depth: int, pure: bool) -> Expr:
        """A float of type ``ty`` within +-1e15, or NaN (or, rarely, infinite): what
        ``int()``, ``round()`` and ``math.floor`` accept the same way in both."""
        r = self.rng.random()
        lo, hi, alt = ("-1e15", "1e15", "0.5") if not ty.numpy else \
            (f"{ty.cast}(-1e15)", f"{ty.cast}(1e15)", f"{ty.cast}(0.5)")
        if r < 0.5:
            e = self.scalar(ty, depth, pure)
            return self._expr(f"min(max({e.text}, {lo}), {hi})", ty, 0, e.pure)
        e = self.scalar(ty, depth, pure=True)
        inf = f" or math.isinf({e.text})" if r < 0.6 else ""
        return self._expr(f"({e.text} if abs({e.text}) < 1e15{inf} else {alt})", ty, 0)

    def _int_source(self, depth: int, pure: bool, bits: int) -> Expr:
        """An integer (Python or NumPy) of at most ``bits`` bits."""
        ty = self.rng.choice((PY_INT, PY_INT, *s.NP_INTS))
        return self.fit(self.scalar(ty, depth, pure), bits)

    # ----------------------------------------------------------------------- casts

    def _p_cast(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        rng = self.rng
        if ty == PY_INT:
            return self._to_python_int(depth, pure)
        if ty == PY_FLOAT or ty.numpy and ty.is_float:
            src = rng.choice((*s.ALL_SCALARS, PY_INT))
            e = self.scalar(src, depth, pure)
            name = ty.cast if not ty.numpy else rng.choice(CAST_ALIASES[ty.name])
            return self._expr(f"{name}({e.text})", ty, 0, e.pure)
        if ty.is_bool:
            src = rng.choice(s.ALL_SCALARS)
            if rng.random() < 0.4 and not src.is_bool:
                fn = rng.choice(("isnan", "isinf", "isfinite"))
                e = self.scalar(src, depth, pure)
                mod = "math" if not ty.numpy else "np"
                return self._expr(f"{mod}.{fn}({e.text})", ty, 1, e.pure)
            e = self.scalar(src, depth, pure)
            return self._expr(f"{ty.cast}({e.text})", ty, 1, e.pure)
        return self._to_numpy_int(ty, depth, pure)

    def _to_python_int(self, depth: int, pure: bool) -> Expr:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            src = rng.choice((*s.NP_INTS, PY_BOOL, NP_BOOL, PY_INT))
            e = self.scalar(src, depth, pure)
            if src.numpy and not src.signed and src.width == 64:
                e = self.fit(e, INT_LIMIT_BITS)
            out = self._expr(f"int({e.text})", PY_INT, min(e.bits, 64), e.pure)
            return self.fit(out, INT_LIMIT_BITS)
        fty = rng.choice((PY_FLOAT, PY_FLOAT, *s.NP_FLOATS))
        if r < 0.8:
            fn = rng.choice(("int", "round", "math.floor", "math.ceil", "math.trunc"))
            if fn == "math.trunc" and fty.numpy:
                fn = "int"  # NumPy floats have no __trunc__
            e = self.bounded_float(fty, depth, pure)
            return self._expr(f"{fn}({e.text})", PY_INT, 50, e.pure)
        if r < 0.9:
            e = self._int_source(depth, pure, INT_LIMIT_BITS)
            fn = rng.choice(("math.floor", "math.ceil", "math.trunc", "round"))
            if fn in ("round", "math.trunc") and e.ty.numpy:  # type: ignore[union-attr]
                fn = "int"  # NumPy ints have no __trunc__ (and round() keeps NumPy types)
            return self._expr(f"{fn}({e.text})", PY_INT, e.bits, e.pure)
        a, b = self._int_source(depth, pure, 62), self._int_source(depth, pure, 62)
        return self.fit(self._expr(f"math.gcd({a.text}, {b.text})", PY_INT,
                                   max(a.bits, b.bits) + 1, a.pure and b.pure), INT_LIMIT_BITS)

    def _to_numpy_int(self, ty: Scalar, depth: int, pure: bool) -> Expr:
        r = self.rng.random()
        if r < 0.4:
            src = self.rng.choice((*s.NP_INTS, NP_BOOL, PY_BOOL))
        elif r < 0.7:
            src = PY_INT
        else:
            src = self.rng.choice((PY_FLOAT, *s.NP_FLOATS))
        out = self.convert(self.scalar(src, depth, pure=src.is_float or pure), ty)
        assert out is not None
        return out

    def convert(self, e: Expr, ty: Scalar) -> Expr | None:
        """``e`` cast to ``ty`` the same way in CPython and frostline, or None.

        Floats become integers only inside a range guard, so ``e`` must be pure there."""
        src = e.ty
        assert isinstance(src, Scalar)
        rng = self.rng
        if ty.is_float or ty.is_bool:
            name = rng.choice(CAST_ALIASES.get(ty.name, (ty.cast,))) if ty.numpy else ty.cast
            return self._expr(f"{name}({e.text})", ty, 1 if ty.is_bool else 0, e.pure)
        if src.is_float:
            if not e.pure:
                return None
            if ty == PY_INT:
                lo, hi, alt = -1e15, 1e15, rng.randint(-9, 9)
                name = rng.choice(("int", "round"))
            else:
                lo, hi = s.float_to_int_bounds(ty)
                alt = rng.randint(0, min(ty.hi, 100))
                name = rng.choice(CAST_ALIASES.get(ty.name, (ty.cast,)))
            alt_text = str(alt) if ty == PY_INT else f"{name}({alt})"
            return self._expr(f"({name}({e.text}) if {lo!r} <= {e.text} <= {hi!r} "
                              f"else {alt_text})", ty, 50 if ty == PY_INT else ty.width)
        if ty == PY_INT:
            if src.numpy and not src.signed and src.width == 64:
                e = self.fit(e, INT_LIMIT_BITS)
            return self.fit(self._expr(f"int({e.text})", PY_INT, min(e.bits, 64), e.pure),
                            INT_LIMIT_BITS)
        name = rng.choice(CAST_ALIASES.get(ty.name, (ty.cast,)))
        if src != PY_INT:
            return self._expr(f"{name}({e.text})", ty, ty.width, e.pure)
        if ty.signed and e.bits < ty.width:
            text = f"{name}({e.text})"
        elif not ty.signed and ty.width < 64 and rng.random() < 0.5:
            text = f"{name}({e.text} & {ty.hi:#x})"
        else:  # NumPy 2 refuses out-of-range Python ints; np.int64 values wrap
            text = f"{name}(np.int64({e.text}))"
        return self._expr(text, ty, ty.width, e.pure)

    # ------------------------------------------------------------------------ math

    def _p_math(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if ty != PY_FLOAT:
            return None
        rng = self.rng
        feats = self.features
        fns = [(f, 1) for f in MATH_ONE] + [(f, 2) for f in MATH_TWO] + [("pow", 2)]
        fns += [("gamma", 1), ("lgamma", 1)] if feats.gamma else []
        fns += [("hypot", rng.randint(1, 4))] if feats.hypot else []
        fns += [("ldexp", 2)] if feats.ldexp else []
        fn, arity = rng.choice(fns)
        if fn == "pow":
            return self.float_power("math", depth, pure)
        args = [self.scalar(self._any_number(), depth, pure) for _ in range(arity)]
        if fn == "ldexp":  # the exponent must be a Python int in CPython
            args[1] = self.fit(self.scalar(PY_INT, depth, pure), 11)
        return self._expr(f"math.{fn}({', '.join(a.text for a in args)})", ty, 0,
                          all(a.pure for a in args))

    # ----------------------------------------------------------------------- NumPy

    def _p_numpy(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        e = self._numpy_call(ty, depth, pure)
        if e is not None and not self.features.np_func_of_constants and constant(e.text):
            return None
        return e

    def _numpy_call(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if not ty.numpy:
            return None
        rng = self.rng
        if ty.is_bool:
            if self.features.np_func_of_bools and rng.random() < 0.3:
                fn = rng.choice(("maximum", "minimum", "fmax", "fmin", "abs"))
                args = [self.scalar(rng.choice((PY_BOOL, NP_BOOL)), depth, pure)
                        for _ in range(1 if fn == "abs" else 2)]
                return self._expr(f"np.{fn}({', '.join(a.text for a in args)})", ty, 1,
                                  all(a.pure for a in args))
            e = self.scalar(self._any_number(), depth, pure)
            return self._expr(f"np.{rng.choice(('isnan', 'isinf', 'isfinite'))}({e.text})", ty,
                              1, e.pure)
        r = rng.random()
        if ty.is_float and r < 0.45:
            fns = [f for f in NP_FLOAT_ONE
                   if self.features.numpy_simd_ulp or f not in NP_SIMD[ty.name]]
            if ty.name == "float32" and not self.features.np_rad2deg_float32:
                fns = [f for f in fns if f not in ("rad2deg", "degrees")]
            srcs = [t for t in s.ALL_SCALARS if s.np_float_result(t) == ty]
            e = self.scalar(rng.choice(srcs), depth, pure)
            return self._expr(f"np.{rng.choice(fns)}({e.text})", ty, 0, e.pure)
        if r < 0.65:
            fn = rng.choice(NP_SAME_TYPE + NP_ROUNDING)
            srcs = [t for t in s.ALL_SCALARS if not t.is_bool and numpy_of(t) == ty]
            e = self.scalar(rng.choice(srcs), depth, pure)
            return self._expr(f"np.{fn}({e.text})", ty, ty.width if ty.is_int else 0, e.pure)
        if ty.is_float and r < 0.8:
            fn = rng.choice([f for f in NP_FLOAT_TWO
                             if self.features.numpy_simd_ulp or f not in NP_SIMD_TWO])
            return self._binary_numpy(fn, float_pairs(fn, ty), ty, depth, pure)
        if ty.is_int and r < 0.8:
            base = self.scalar(ty, depth, pure)
            k = rng.choice([k for k in (3, 5, 9, 40) if k <= ty.hi])
            exp = self.scalar(ty, depth, pure)
            return self._expr(f"np.power({base.text}, ({exp.text} % {k}))", ty, ty.width,
                              base.pure and exp.pure)
        if ty == s.NP_F64 and r < 0.85 and self.features.numpy_simd_ulp:
            return self.float_power("np", depth, pure)  # SVML's pow on AVX-512 hosts
        fns = ["fmin", "fmax"]
        if ty.is_int or self.features.np_min_max_float:
            fns += ["minimum", "maximum"]
        options = [(a, b) for a in s.ALL_SCALARS for b in s.ALL_SCALARS
                   if (p := s.promote(a, b)) is not None and numpy_of(p) == ty
                   and not (a.is_bool and b.is_bool)]  # (of two bools: a bool, above)
        return self._binary_numpy(rng.choice(fns), options, ty, depth, pure)

    def _binary_numpy(self, fn: str, options: list[tuple[Scalar, Scalar]], ty: Scalar,
                      depth: int, pure: bool) -> Expr | None:
        if not options:
            return None
        a_ty, b_ty = self.rng.choice(options)
        a, b = self.scalar(a_ty, depth, pure), self.scalar(b_ty, depth, pure)
        return self._expr(f"np.{fn}({a.text}, {b.text})", ty, ty.width if ty.is_int else 0,
                          a.pure and b.pure)

    # --------------------------------------------------------------------- helpers

    def _p_call(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if pure:
            return None
        options: list[tuple[HelperSig, int | None]] = []
        for h in self.scope.calls(any_ret=True):
            if not self.can_call(h):
                continue
            if h.ret == ty:
                options.append((h, None))
            elif isinstance(h.ret, TupleT):
                options += [(h, k) for k, t in enumerate(h.ret.items) if t == ty]
        if not options:
            return None
        h, k = self.rng.choice(options)
        text = self.call_text(h, depth)
        bits = s.VAR_BITS if ty == PY_INT else (ty.width if ty.is_int else 0)
        return self._expr(text if k is None else f"{text}[{k}]", ty, bits, pure=False)

    def can_call(self, h: HelperSig) -> bool:
        """Whether every array parameter of ``h`` has an argument here."""
        return all(not isinstance(p.ty, ArrayT) or self.array_sources(p.ty) for p in h.params)

    def array_sources(self, ty: ArrayT) -> list[tuple[str, ArrayT]]:
        """Arrays in scope of exactly type ``ty``, and 2-D arrays whose rows are ``ty``
        (named ``m[]``)."""
        out = []
        for v in self.scope.arrays():
            if v.ty == ty:
                out.append((v.name, v.ty))
            elif (v.ty.dtype == ty.dtype and len(v.ty.shape) == len(ty.shape) + 1
                  and v.ty.shape[1:] == ty.shape):
                out.append((v.name + "[]", v.ty))
        return out

    def array(self, ty: ArrayT, depth: int) -> str:
        """An array-valued expression of type ``ty``: an array variable, a row ``m[i]``,
        or ``x if c else y`` of those.  (Array expressions and slices to come are new
        forms here.)"""
        if depth > 0 and self.rng.random() < 0.15:
            a, b = self.array(ty, depth - 1), self.array(ty, depth - 1)
            return f"({a} if {self.condition(depth - 1).text} else {b})"  # type: ignore[attr-defined]
        name, arr = self.rng.choice(self.array_sources(ty))
        if not name.endswith("[]"):
            return name
        base = name[:-2]
        return f"{base}[{self.index(arr.shape[0], depth, False, base, 0)}]"

    def call_text(self, h: HelperSig, depth: int) -> str:
        """A call of ``h``: positional, keyword (in any order) or mixed, dropping some
        defaulted arguments.  Arguments are evaluated in source order in both."""
        rng = self.rng
        params = list(h.params)
        n_pos = rng.randint(0, len(params)) if rng.random() < 0.5 else len(params)
        positional = params[:n_pos]
        keywords = [p for p in params[n_pos:] if p.default is None or rng.random() < 0.5]
        rng.shuffle(keywords)
        parts = [self._arg(p, h, depth) for p in positional]
        parts += [f"{p.name}={self._arg(p, h, depth)}" for p in keywords]
        return f"{h.name}({', '.join(parts)})"

    def _arg(self, p: Param, h: HelperSig, depth: int) -> str:
        if isinstance(p.ty, ArrayT):
            return self.array(p.ty, depth)
        if h.recursive and p.name == "n":  # the recursion depth: at most 5
            return f"({self.scalar(PY_INT, depth).text} % 6)"
        return self.stored(p.ty, depth).text
