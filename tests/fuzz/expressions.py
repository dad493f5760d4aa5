"""Random expressions of a requested fuzz type: leaves, operators and conditions.

:class:`ExprGen` generates top-down: ``scalar(ty, depth)`` returns source text whose
value has fuzz type ``ty`` under CPython and frostline alike (the rules are in
``semantics.py``).  Each production is a method ``_p_<name>(ty, depth, pure)``
that returns an :class:`Expr` or None where it cannot make ``ty``; the table
:data:`PRODUCTIONS` weights them.  New productions (array expressions, slices)
are new methods and table rows.  The calls to builtins, casts, ``math``, NumPy and
generated helpers live in ``calls.py``, the constants in ``literals.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

from . import semantics as s
from .calls import CallProductions
from .literals import LiteralProductions
from .scope import Expr, Scope, Var
from .semantics import (
    INT_LIMIT_BITS,
    NP_BOOL,
    PY_BOOL,
    PY_FLOAT,
    PY_INT,
    VAR_BITS,
    ArrayT,
    Scalar,
    TupleT,
)


@cache
def pairs(rule: str, ty: Scalar) -> tuple[tuple[Scalar, Scalar], ...]:
    """Operand type pairs for which the promotion ``rule`` gives ``ty``."""
    fn = {"arith": s.promote, "div": s.promote_div, "bitwise": s.promote_bitwise,
          "shift": s.shift_result}[rule]
    return tuple((a, b) for a in s.ALL_SCALARS for b in s.ALL_SCALARS if fn(a, b) == ty)


class ExprGen(LiteralProductions, CallProductions):
    """Generates expressions in one function's :class:`Scope`."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.rng = scope.rng
        self.features = scope.program.features
        self._nesting = 0  # leaves inside leaves (indices, tuple indices): bounded

    # ----------------------------------------------------------------- entry points

    def scalar(self, ty: Scalar, depth: int, pure: bool = False) -> Expr:
        """An expression of fuzz type ``ty`` (for Python ints: at most INT_LIMIT_BITS)."""
        if depth > 0 and self.rng.random() < 0.75:
            names, weights = zip(*PRODUCTIONS, strict=True)
            for _ in range(6):
                name = self.rng.choices(names, weights)[0]
                e = getattr(self, name)(ty, depth - 1, pure)
                if e is not None:
                    assert e.ty == ty, (name, e, ty)
                    return e
        return self.leaf(ty, pure)

    def stored(self, ty: s.Type, depth: int, pure: bool = False) -> Expr:
        """A value to store in a name, pass or return: Python ints within VAR_BITS."""
        if isinstance(ty, TupleT):
            return self.tuple_value(ty, depth, pure)
        assert isinstance(ty, Scalar)
        e = self.scalar(ty, depth, pure)
        return self.fit(e, VAR_BITS) if ty == PY_INT else e

    def tuple_value(self, ty: TupleT, depth: int, pure: bool = False) -> Expr:
        """A tuple display, a tuple variable, ``a.shape`` or a helper's tuple."""
        r = self.rng.random()
        same = self.scope.readable(ty)
        if same and r < 0.3:
            return Expr(self.rng.choice(same).name, ty)
        shapes = [v for v in self.scope.arrays()
                  if ty.items == (PY_INT,) * len(v.ty.shape)]  # type: ignore[union-attr]
        if shapes and r < 0.45:
            return Expr(f"{self.rng.choice(shapes).name}.shape", ty)
        calls = [] if pure else [h for h in self.scope.calls(ty) if self.can_call(h)]
        if calls and r < 0.6:
            return Expr(self.call_text(self.rng.choice(calls), depth), ty, pure=False)
        items = [self.stored(t, depth - 1, pure) for t in ty.items]
        text = ", ".join(i.text for i in items) + ("," if len(items) == 1 else "")
        return Expr(f"({text})", ty, pure=all(i.pure for i in items))

    def condition(self, depth: int, pure: bool = False) -> Expr:
        """A value used for its truth: any scalar, typically a comparison."""
        r = self.rng.random()
        if depth > 0 and r < 0.15:
            a, b = self.condition(depth - 1, pure), self.condition(depth - 1, pure)
            op = self.rng.choice(("and", "or"))
            return Expr(f"({a.text} {op} {b.text})", PY_BOOL, pure=a.pure and b.pure)
        if depth > 0 and r < 0.2:
            a = self.condition(depth - 1, pure)
            return Expr(f"(not {a.text})", PY_BOOL, pure=a.pure)
        if r < 0.75:
            e = self.comparison(depth, pure, None)
            if e is not None:
                return e
        if r < 0.9:
            return self.scalar(self.rng.choice((PY_BOOL, NP_BOOL)), depth, pure)
        return self.scalar(self.rng.choice(s.ALL_SCALARS), depth, pure)

    def comparison(self, depth: int, pure: bool, want: Scalar | None) -> Expr | None:
        """``a < b`` or a chain ``a < b <= c`` with a result of type ``want`` (or any)."""
        for _ in range(6):
            x, y = self.rng.choice(s.ALL_SCALARS), self.rng.choice(s.ALL_SCALARS)
            if self.rng.random() < 0.4:
                y = x
            chain = [x, y]
            if self.rng.random() < 0.2:
                chain.append(self.rng.choice((y, x)))
            ok = all(s.comparable(a, b) for a, b in zip(chain, chain[1:], strict=False))
            if not ok:
                continue
            result = NP_BOOL if any(t.numpy for t in chain) else PY_BOOL
            if want is not None and result != want:
                continue
            parts = [self.scalar(t, depth, pure) for t in chain]
            ops = [self.rng.choice(("<", "<=", ">", ">=", "==", "!=")) for _ in chain[1:]]
            text = parts[0].text
            for op, p in zip(ops, parts[1:], strict=True):
                text += f" {op} {p.text}"
            return Expr(f"({text})", result, pure=all(p.pure for p in parts))
        return None

    # ------------------------------------------------------------------ Python ints

    def fit(self, e: Expr, bits: int) -> Expr:
        """``e`` reduced with ``% m`` if it may have more than ``bits`` bits.

        Python ints reduce to a Python int; NumPy integers with a weak literal
        modulus, which keeps their type (and makes them non-negative)."""
        if not isinstance(e.ty, Scalar) or not e.ty.is_int or e.bits <= bits:
            return e
        moduli = [m for m in s.REDUCERS if s.bits_of(m) <= max(bits, 2) and m <= e.ty.hi]
        m = self.rng.choice(moduli)
        if not e.ty.numpy and self.rng.random() < 0.2:
            return Expr(f"({e.text} % -{m})", e.ty, s.bits_of(m), e.pure)
        return Expr(f"({e.text} % {m})", e.ty, s.bits_of(m), e.pure)

    def _int_bits(self, var: Var) -> int:
        ty = var.ty
        assert isinstance(ty, Scalar)
        if var.interval is not None:
            return max(s.bits_of(var.interval[0]), s.bits_of(var.interval[1]))
        return VAR_BITS if not ty.numpy else ty.width

    # --------------------------------------------------------------------- leaves

    def leaf(self, ty: Scalar, pure: bool = False) -> Expr:
        """A variable, an array element, a tuple item, a shape or a literal."""
        self._nesting += 1
        try:
            options = self._leaf_options(ty, pure) if self._nesting < 4 else []
            if not options and self._nesting < 4 and self.rng.random() < 0.7:
                converted = self.convert(self._live_value(), ty)
                if converted is not None:
                    return converted
            if not options or self.rng.random() < 0.12:
                return self.literal(ty)
            return self.rng.choice(options)()
        finally:
            self._nesting -= 1

    def _leaf_options(self, ty: Scalar, pure: bool) -> list[Callable[[], Expr]]:
        """Ways to make a leaf of type ``ty`` here, generated only when chosen."""
        options: list[Callable[[], Expr]] = []

        def var(v: Var) -> Callable[[], Expr]:
            return lambda: Expr(v.name, ty, self._int_bits(v) if ty.is_int else 0)

        for v in self.scope.readable(ty):
            options += [var(v)] * 3
        if self.rng.random() < 0.04:  # may raise UnboundLocalError
            options += [var(v) for v in self.scope.maybe_unassigned(ty)]
        arrays = [(v.name, v.ty) for v in self.scope.arrays()]
        arrays += [(g.name, g.ty) for g in self.scope.program.globals if isinstance(g.ty, ArrayT)]
        for name, at in arrays:
            if ty.numpy and at.dtype == ty.name:  # type: ignore[union-attr]
                options += [partial(self.element, name, at, 1, pure)] * 2
        for g in self.scope.program.globals:
            if g.ty == ty:
                bits = s.bits_of(g.value) if ty.is_int else 0  # type: ignore[arg-type]
                options.append(partial(Expr, g.name, ty, bits))
        tuples = [(v.name, v.ty) for v in self.scope.tuples()]
        tuples += [(g.name, g.ty) for g in self.scope.program.globals if isinstance(g.ty, TupleT)]
        for name, tt in tuples:
            if any(t == ty or isinstance(t, TupleT) and ty in t.items
                   for t in tt.items):  # type: ignore[union-attr]
                options.append(partial(self.tuple_item, name, tt, ty, pure))  # type: ignore[arg-type]
        if ty == PY_INT:
            options += [partial(self._shape, v) for v in self.scope.arrays()]
            options += [partial(Expr, f"len({v.name})", PY_INT, 4) for v in self.scope.tuples()]
        return options

    def _shape(self, v: Var) -> Expr:
        shape = v.ty.shape  # type: ignore[union-attr]
        k = self.rng.randrange(len(shape))
        text = self.rng.choice((f"{v.name}.shape[{k}]", f"{v.name}.shape[{k - len(shape)}]",
                                f"len({v.name})" if k == 0 else f"{v.name}.ndim",
                                f"{v.name}.size"))
        return Expr(text, PY_INT, 8)

    def _live_value(self) -> Expr:
        """A variable or array element of any scalar type (to convert into a leaf)."""
        options = [v for v in self.scope.vars.values()
                   if isinstance(v.ty, Scalar) and v.name in self.scope.assigned]
        arrays = self.scope.arrays()
        if arrays and (not options or self.rng.random() < 0.5):
            a = self.rng.choice(arrays)
            return self.element(a.name, a.ty, 0, True)  # type: ignore[arg-type]
        if not options:
            return self.literal(self.rng.choice(s.ALL_SCALARS))
        v = self.rng.choice(options)
        ty = v.ty
        assert isinstance(ty, Scalar)
        return Expr(v.name, ty, self._int_bits(v) if ty.is_int else 0)

    def tuple_item(self, name: str, tt: TupleT, ty: Scalar, pure: bool) -> Expr | None:
        """``t[k]`` for an item of type ``ty`` (``t[k][j]`` in a nested tuple); runtime
        indices on homogeneous tuples."""
        ks = [k for k, t in enumerate(tt.items) if t == ty]
        inner = [k for k, t in enumerate(tt.items) if isinstance(t, TupleT) and ty in t.items]
        if inner and (not ks or self.rng.random() < 0.5):
            k = self.rng.choice(inner)
            return self.tuple_item(f"{name}[{k}]", tt.items[k], ty, pure)  # type: ignore[arg-type]
        if not ks:
            return None
        n = len(tt.items)
        bits = VAR_BITS if ty == PY_INT else (ty.width if ty.is_int else 0)
        if tt.homogeneous and self.rng.random() < 0.4:
            e = self.scalar(self.rng.choice((PY_INT, PY_INT, s.Scalar("int8", True))), 1, pure)
            r = self.rng.random()
            if r < 0.05:  # may be out of range: IndexError in both
                index = f"({e.text} % {n + 2})"
            elif r < 0.5 or e.ty.numpy:  # type: ignore[union-attr]
                index = f"({e.text} % {n})"
            else:
                index = f"(-1 - ({e.text} % {n}))"
            return Expr(f"{name}[{index}]", ty, bits, e.pure)
        k = self.rng.choice(ks)
        if self.rng.random() < 0.3:
            k -= n
        return Expr(f"{name}[{k}]", ty, bits)

    # -------------------------------------------------------------------- indices

    def element(self, name: str, ty: ArrayT, depth: int, pure: bool) -> Expr:
        """One element of an array: ``a[i]``, ``m[i, j]`` or ``m[i][j]``."""
        idx = [self.index(n, depth, pure, name, k) for k, n in enumerate(ty.shape)]
        if len(idx) == 2 and self.rng.random() < 0.2:
            text = f"{name}[{idx[0]}][{idx[1]}]"
        else:
            text = f"{name}[{', '.join(idx)}]"
        bits = ty.element.width if ty.element.is_int else 0
        return Expr(text, ty.element, bits, pure=pure or "(" not in text)

    def index(self, size: int, depth: int, pure: bool, array: str | None = None,
              axis: int = 0) -> str:
        """An index into a dimension of ``size`` that is in bounds (except, rarely,
        in boundscheck programs)."""
        rng = self.rng
        loops = [v for v in self.scope.vars.values() if v.interval is not None
                 and v.name in self.scope.assigned
                 and -size <= v.interval[0] and v.interval[1] < size]
        r = rng.random()
        if self.scope.program.boundscheck and r < 0.04:
            e = self.scalar(PY_INT, 0, pure)
            return f"({e.text} % {size + 3})"
        if loops and r < 0.4:
            v = rng.choice(loops)
            return v.name
        if r < 0.6 or depth <= 0:
            return str(rng.randint(-size, size - 1))
        ty = rng.choice((PY_INT, PY_INT, PY_INT, *s.NP_INTS))
        e = self.scalar(ty, depth - 1, pure)
        if ty.numpy:
            return f"({e.text} % {size})"
        modulus = str(size)
        if array is not None and rng.random() < 0.4:
            modulus = f"{array}.shape[{axis}]" if rng.random() < 0.5 or axis else f"len({array})"
        if rng.random() < 0.3:
            return f"(-({e.text} % {modulus}) - 1)"
        return f"({e.text} % {modulus})"

    def small_int(self, lo: int, hi: int, depth: int) -> tuple[str, int, int]:
        """A ``range`` argument between ``lo`` and ``hi``: source and its bounds."""
        r = self.rng.random()
        if r < 0.45:
            v = self.rng.randint(lo, hi)
            return (str(v) if v >= 0 else f"({v})"), v, v
        if r < 0.6:
            arrays = [v for v in self.scope.arrays() if lo <= v.ty.shape[0] <= hi]  # type: ignore[union-attr]
            if arrays:
                v = self.rng.choice(arrays)
                n = v.ty.shape[0]  # type: ignore[union-attr]
                return self.rng.choice((f"len({v.name})", f"{v.name}.shape[0]")), n, n
        k = hi - max(lo, 0) + 1
        ty = self.rng.choice((PY_INT, PY_INT, *s.NP_INTS))
        e = self.scalar(ty, depth, pure=False)
        base = max(lo, 0)
        if base == 0 or ty.numpy:
            return f"({e.text} % {k})", 0, k - 1
        return f"(({e.text} % {k}) + {base})", base, base + k - 1

    # ---------------------------------------------------------------- operators

    def _operands(self, ty: Scalar, rule: str, depth: int, pure: bool
                  ) -> tuple[Expr, Expr] | None:
        """Two operands whose promotion by ``rule`` is ``ty``: often both ``ty``, or
        one of them a weak literal."""
        rng = self.rng
        options = pairs(rule, ty)
        if not options:
            return None
        r = rng.random()
        if ty.numpy and r < 0.3:
            strong = [(a, b) for a, b in options if a == b == ty]
            kind = "same"
            if not strong and ty == s.NP_F64:
                strong = [(a, a) for a, _ in options if a.numpy and a.is_int]
                kind = "float"
            if strong:
                w = self.weak(ty if kind == "same" else strong[0][0], kind)
                if w is not None and not (rule == "bitwise" and w.ty == PY_FLOAT):
                    e = self.scalar(rng.choice(strong)[0], depth, pure)
                    return (e, w) if rng.random() < 0.6 else (w, e)
        same = [(a, b) for a, b in options if a == b == ty]
        a_ty, b_ty = rng.choice(same) if same and r < 0.65 else rng.choice(options)
        return self.scalar(a_ty, depth, pure), self.scalar(b_ty, depth, pure)

    def _p_arith(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if ty.is_bool:
            return None
        ops = self._operands(ty, "arith", depth, pure)
        if ops is None:
            return None
        a, b = ops
        op = self.rng.choice("+-*")
        bits = ty.width if ty.numpy else 0
        if ty == PY_INT:
            a, b = self._fit_pair(a, b, INT_LIMIT_BITS - 1, op == "*")
            bits = a.bits + b.bits if op == "*" else max(a.bits, b.bits) + 1
        return Expr(f"({a.text} {op} {b.text})", ty, bits, a.pure and b.pure)

    def _fit_pair(self, a: Expr, b: Expr, limit: int, product: bool) -> tuple[Expr, Expr]:
        """Reduce Python-int operands until their sum (product) fits ``limit`` bits."""
        def size(x: Expr, y: Expr) -> int:
            return x.bits + y.bits if product else max(x.bits, y.bits)
        while size(a, b) > limit:
            if a.bits >= b.bits and a.ty == PY_INT and a.bits > 2:
                a = self.fit(a, min(a.bits - 1, 20))
            elif b.ty == PY_INT and b.bits > 2:
                b = self.fit(b, min(b.bits - 1, 20))
            else:
                break
        return a, b

    def _p_truediv(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if not ty.is_float:
            return None
        options = pairs("div", ty)
        if not options:
            return None
        a_ty, b_ty = self.rng.choice(options)
        a = self.fit(self.scalar(a_ty, depth, pure), INT_LIMIT_BITS)
        if a_ty == PY_INT and self.features.big_int_division and self.rng.random() < 0.3:
            a = Expr(f"({self.fit(a, 20).text} * 4398046511104)", PY_INT, 62, a.pure)
        b = self._divisor(b_ty, depth, pure, python=not a_ty.numpy and not b_ty.numpy)
        return Expr(f"({a.text} / {self.fit(b, INT_LIMIT_BITS).text})", ty, 0,
                    a.pure and b.pure)

    def _p_floordiv(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if ty.is_bool:
            return None
        options = pairs("arith", ty)
        if not options:
            return None
        a_ty, b_ty = self.rng.choice([(x, y) for x, y in options if x == y == ty] or options)
        a = self.scalar(a_ty, depth, pure)
        b = self._divisor(b_ty, depth, pure, python=not a_ty.numpy and not b_ty.numpy)
        op = self.rng.choice(("//", "%"))
        bits = ty.width if ty.numpy else (a.bits + 1 if op == "//" else b.bits)
        if ty == PY_INT and bits > INT_LIMIT_BITS:
            a = self.fit(a, INT_LIMIT_BITS - 1)
            bits = a.bits + 1
        return Expr(f"({a.text} {op} {b.text})", ty, bits, a.pure and b.pure)

    def _divisor(self, ty: Scalar, depth: int, pure: bool, python: bool) -> Expr:
        """A divisor of type ``ty``; non-zero unless both operands are Python numbers
        (where a zero divisor raises ZeroDivisionError in CPython and frostline)."""
        if python and self.rng.random() < 0.7:
            return self.scalar(ty, depth, pure)
        if ty.is_bool:
            return Expr("True", ty, 1)
        if ty.is_int:
            ks = [k for k in (3, 7, 10, 100) if k < ty.hi]
            k = self.rng.choice(ks)
            e = self.scalar(ty, depth, pure)
            if ty.signed and self.rng.random() < 0.3:  # negative, down to -k
                return Expr(f"(-({e.text} % {k}) - 1)", ty, s.bits_of(k + 1), e.pure)
            return Expr(f"({e.text} % {k} + 1)", ty, s.bits_of(k + 1), e.pure)
        e = self.scalar(ty, depth, pure=True)
        one = f"{ty.cast}(1.5)" if ty.numpy else "1.5"
        return Expr(f"({e.text} if {e.text} != 0 else {one})", ty, 0)

    def _p_power(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        rng = self.rng
        if ty == PY_INT:
            base = self.fit(self.scalar(PY_INT, depth, pure), 17)
            if rng.random() < 0.5:
                exp = str(rng.randint(0, 3))
            else:
                exp = f"({self.scalar(PY_INT, depth, pure).text} % 4)"
            return Expr(f"({base.text} ** {exp})", ty, base.bits * 3 + 1, pure=base.pure)
        if ty.numpy and ty.is_int:
            base = self.scalar(ty, depth, pure)
            r = rng.random()
            if r < 0.4:
                exp = str(rng.randint(0, 6))
            elif r < 0.45 and ty.signed:  # ValueError in both
                exp = "(-1)"
            else:
                k = rng.choice([k for k in (3, 5, 9, 40) if k <= ty.hi])
                exp = f"({self.scalar(ty, depth, pure).text} % {k})"
            return Expr(f"({base.text} ** {exp})", ty, ty.width, pure=base.pure)
        if ty == PY_FLOAT:
            return self.float_power("**", depth, pure)
        return None

    def float_power(self, form: str, depth: int, pure: bool) -> Expr | None:
        """``x ** y`` (``form`` "**") or ``math.pow``/``np.power`` of Python floats.

        Without ``Features.const_pow`` both operands are opaque kernel arguments, so
        LLVM cannot rewrite ``pow`` (the known discrepancy)."""
        opaque = [v for v in self.scope.readable(PY_FLOAT) if v.opaque]
        if self.features.const_pow:
            base = self.scalar(PY_FLOAT, depth, pure)
            exp = self.scalar(PY_FLOAT, depth, pure) if self.rng.random() < 0.5 else \
                Expr(self.rng.choice(("0.5", "2.0", "(-1.0)", "3.0", "0.25", "(-0.5)")), PY_FLOAT)
            if self.rng.random() < 0.3:
                base = Expr(self.rng.choice(("2.0", "8.0", "10.0", "0.5")), PY_FLOAT)
        elif opaque:
            base, exp = (Expr(self.rng.choice(opaque).name, PY_FLOAT) for _ in range(2))
        else:
            return None
        if form == "**":
            text = f"(abs({base.text}) ** {exp.text})"
        elif form == "math":
            text = f"math.pow({base.text}, {exp.text})"
        else:
            text = f"np.power(abs({base.text}), {exp.text})"
        ty = s.NP_F64 if form == "np" else PY_FLOAT
        return Expr(text, ty, 0, base.pure and exp.pure)

    def _p_shift(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if not ty.is_int:
            return None
        rng = self.rng
        op = rng.choice(("<<", ">>"))
        if ty == PY_INT:
            if op == "<<":
                a = self.fit(self.scalar(PY_INT, depth, pure), INT_LIMIT_BITS - 8)
                bits, cap = a.bits + 8, 9
            else:
                a = self.scalar(PY_INT, depth, pure)
                bits, cap = a.bits, 70
            r = rng.random()
            if r < 0.5:
                count = str(rng.randrange(cap))
            elif r < 0.53:  # may be negative: ValueError in both
                count = f"({self.scalar(PY_INT, depth, pure).text} % 3 - 1)"
            else:
                count = f"({self.scalar(PY_INT, depth, pure).text} % {cap})"
            return Expr(f"({a.text} {op} {count})", ty, bits, a.pure)
        options = [(x, y) for x, y in pairs("shift", ty) if x.numpy and y.numpy]
        if not options:
            return None
        a_ty, c_ty = rng.choice([(x, y) for x, y in options if x == y] or options)
        a = self.scalar(a_ty, depth, pure)
        if a_ty == ty and rng.random() < 0.4:  # a weak literal count keeps a's type
            count = str(rng.randint(0, min(2 * ty.width + 2, 127)))
        else:
            k = rng.choice([k for k in (3, 8, 9, 17, 33, 65, 70) if k <= c_ty.hi])
            count = f"({self.scalar(c_ty, depth, pure).text} % {k})"
        return Expr(f"({a.text} {op} {count})", ty, ty.width, a.pure)

    def _p_bitwise(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if ty.is_float:
            return None
        ops = self._operands(ty, "bitwise", depth, pure)
        if ops is None:
            return None
        a, b = ops
        bits = max(a.bits, b.bits) + 1 if ty == PY_INT else ty.width
        op = self.rng.choice("&|^")
        return Expr(f"({a.text} {op} {b.text})", ty, bits, a.pure and b.pure)

    def _p_unary(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        rng = self.rng
        if ty.is_bool:
            if ty.numpy:
                return None
            a = self.scalar(rng.choice(s.ALL_SCALARS), depth, pure)
            return Expr(f"(not {a.text})", ty, 1, a.pure)
        if ty == PY_INT and rng.random() < 0.1:
            a = self.scalar(PY_BOOL, depth, pure)
            return Expr(f"({rng.choice('~-+')}{a.text})", ty, 2, a.pure)
        a = self.scalar(ty, depth, pure)
        op = rng.choice("-+~" if ty.is_int else "-+")
        text = f"({op}{a.text})" if rng.random() < 0.7 else f"abs({a.text})"
        return Expr(text, ty, a.bits + 1 if ty == PY_INT else a.bits, a.pure)

    def _p_select(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        """``x if c else y``, ``x and y``, ``x or y``, ``min``/``max`` of one type."""
        rng = self.rng
        r = rng.random()
        a, b = self.scalar(ty, depth, pure), self.scalar(ty, depth, pure)
        bits = max(a.bits, b.bits)
        p = a.pure and b.pure
        if r < 0.35:
            c = self.condition(depth, pure)
            return Expr(f"({a.text} if {c.text} else {b.text})", ty, bits, p and c.pure)
        if r < 0.55:
            return Expr(f"({a.text} {rng.choice(('and', 'or'))} {b.text})", ty, bits, p)
        more = [self.scalar(ty, depth - 1, pure) for _ in range(rng.choice((0, 0, 1, 2)))]
        args = ", ".join(e.text for e in (a, b, *more))
        return Expr(f"{rng.choice(('min', 'max'))}({args})", ty,
                    max(e.bits for e in (a, b, *more)), p and all(e.pure for e in more))

    def _p_compare(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        if not ty.is_bool:
            return None
        return self.comparison(depth, pure, ty)

    def _p_leaf(self, ty: Scalar, depth: int, pure: bool) -> Expr | None:
        return self.leaf(ty, pure)


PRODUCTIONS: tuple[tuple[str, float], ...] = (
    ("_p_leaf", 3.0),
    ("_p_arith", 4.0),
    ("_p_truediv", 1.0),
    ("_p_floordiv", 1.2),
    ("_p_power", 0.5),
    ("_p_shift", 0.7),
    ("_p_bitwise", 1.0),
    ("_p_unary", 1.0),
    ("_p_select", 1.2),
    ("_p_compare", 1.5),
    ("_p_cast", 2.0),
    ("_p_math", 3.0),
    ("_p_numpy", 1.2),
    ("_p_call", 1.0),
)

