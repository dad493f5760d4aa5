"""Which array indices are provably non-negative, from the bounds of the loops around them.

A negative index counts from the end, so every signed index costs a select
(``i < 0 ? i + n : i``); in a loop, that select turns a reversed access like
``y[k - i - 1]`` into masked gathers.  Code generation leaves it out where this
analysis proves the index is never negative.

The proof is over affine forms: an index that is a sum of integer constants,
int64 variables times constants, ``len(a)`` and ``a.shape[k]``.  Inside ``for v
in range(lo, hi)`` (a literal step of either sign), ``v`` lies between the
bounds, which are affine forms too; substituting each loop variable's lower
or upper bound by the sign of its coefficient, innermost first, leaves a form
over variables that are not loop variables, which is non-negative when its
constant is and every remaining term is a non-negative coefficient on a
length or extent.  ``y[k - i - 1]`` in ``for i in range(k)`` becomes
``k - (k - 1) - 1 = 0``.

The substitution is sound only while the values it equates stay the same: a
loop variable must not be assigned in its own loop's body, and any other
variable (or the array of a ``len``/``shape``) must not be assigned in the
body of any loop around the index.  Integer arithmetic wraps, but a value
that is mathematically in [0, 2**63) is the same wrapped, and one beyond it is
out of bounds either way (undefined without ``boundscheck``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import attrs

from frostline import types as t
from frostline.stages.ast import BuiltinRef, Constant, FunctionAST
from frostline.stages.typed import NodeKey, TypedFunction, node_key
from frostline.toolchain.typing.rules import constant_index


@attrs.frozen
class Linear:
    """``const + sum(coefficient * symbol)``; a symbol is a variable name, or
    ``len(a)`` / ``a.shape[k]`` (never negative)."""

    terms: tuple[tuple[str, int], ...]
    const: int

    @staticmethod
    def of(terms: dict[str, int], const: int) -> Linear:
        return Linear(tuple(sorted((s, c) for s, c in terms.items() if c)), const)

    def plus(self, other: Linear, sign: int = 1) -> Linear:
        terms = dict(self.terms)
        for s, c in other.terms:
            terms[s] = terms.get(s, 0) + sign * c
        return Linear.of(terms, self.const + sign * other.const)

    def times(self, k: int) -> Linear:
        return Linear.of({s: c * k for s, c in self.terms}, self.const * k)

    def substitute(self, symbol: str, value: Linear) -> Linear:
        terms = dict(self.terms)
        coefficient = terms.pop(symbol, 0)
        return Linear.of(terms, self.const).plus(value.times(coefficient))


@attrs.frozen
class _Loop:
    """A loop around the index: its variable's bounds (for ``for`` over a range with a
    literal step), and every name its body assigns."""

    var: str | None
    low: Linear | None
    high: Linear | None
    assigned: frozenset[str]


def nonnegative_indices(fn: FunctionAST, typed: TypedFunction) -> frozenset[NodeKey]:
    """The index expressions of array subscripts that are never negative."""
    return frozenset(_Finder(fn, typed).find(fn.tree.body, ()))


def _assigned(body: list[ast.stmt]) -> frozenset[str]:
    return frozenset(n.id for stmt in body for n in ast.walk(stmt)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))


class _Finder:
    def __init__(self, fn: FunctionAST, typed: TypedFunction):
        self.fn = fn
        self.types = typed.expr_type_map
        self.locals = typed.local_map
        self.params = dict(zip(fn.params, typed.arg_types, strict=True))

    def find(self, body: list[ast.stmt], loops: tuple[_Loop, ...]) -> Iterator[NodeKey]:
        for stmt in body:
            if isinstance(stmt, ast.For):
                yield from self.in_expressions(stmt.iter, loops)
                inner = _Loop(*self.range_bounds(stmt, loops), _assigned(stmt.body))
                yield from self.find(stmt.body, (*loops, inner))
                yield from self.find(stmt.orelse, loops)
            elif isinstance(stmt, ast.While):
                yield from self.in_expressions(stmt.test, loops)
                yield from self.find(stmt.body, (*loops, _Loop(None, None, None,
                                                               _assigned(stmt.body))))
                yield from self.find(stmt.orelse, loops)
            elif isinstance(stmt, ast.If):
                yield from self.in_expressions(stmt.test, loops)
                yield from self.find(stmt.body, loops)
                yield from self.find(stmt.orelse, loops)
            else:
                yield from self.in_expressions(stmt, loops)

    def in_expressions(self, node: ast.AST, loops: tuple[_Loop, ...]) -> Iterator[NodeKey]:
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Subscript) or \
                    not isinstance(self.types.get(node_key(sub.value)), t.ArrayType):
                continue
            indices = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
            for index in indices:
                if self.types.get(node_key(index)) in (t.int64, t.weak_int) \
                        and self.nonnegative(index, loops):
                    yield node_key(index)

    # --- the proof ---------------------------------------------------------------------

    def range_bounds(self, loop: ast.For, loops: tuple[_Loop, ...]
                     ) -> tuple[str | None, Linear | None, Linear | None]:
        """The loop variable and its lowest and highest value (or Nones)."""
        call = loop.iter
        if not isinstance(loop.target, ast.Name) or not isinstance(call, ast.Call) \
                or loop.target.id in _assigned(loop.body):
            return None, None, None
        args = call.args
        step = 1 if len(args) < 3 else constant_index(args[2])
        if not step:
            return None, None, None
        bounds = [self.linear(a) for a in args[:2]]
        if any(b is None for b in bounds):
            return None, None, None
        start, stop = (Linear((), 0), bounds[0]) if len(args) == 1 else bounds
        one = Linear((), 1)
        if step > 0:
            return loop.target.id, start, stop.plus(one, -1)  # type: ignore[union-attr]
        return loop.target.id, stop.plus(one), start  # type: ignore[union-attr]

    def nonnegative(self, index: ast.expr, loops: tuple[_Loop, ...]) -> bool:
        form = self.linear(index)
        if form is None:
            return False
        loop_vars = {loop.var: loop for loop in loops if loop.var is not None}
        # The innermost loop binding a name is the one the name refers to.
        for loop in reversed(loops):
            if loop.var is None or loop_vars.get(loop.var) is not loop:
                continue
            coefficient = dict(form.terms).get(loop.var, 0)
            if coefficient:
                bound = loop.low if coefficient > 0 else loop.high
                assert bound is not None
                form = form.substitute(loop.var, bound)
        for symbol, coefficient in form.terms:
            if symbol in loop_vars or not symbol.endswith(("]", ")")) or coefficient < 0:
                return False
        if form.const < 0:
            return False
        # Every symbol the proof used must be the same value throughout the loops.
        return all(self.stable(symbol, loops, loop_vars) for symbol in self.symbols(index, loops))

    def symbols(self, index: ast.expr, loops: tuple[_Loop, ...]) -> set[str]:
        """The variables the index and the bounds of the loops around it mention."""
        names = {n.id for n in ast.walk(index) if isinstance(n, ast.Name)}
        for loop in loops:
            for bound in (loop.low, loop.high):
                if bound is not None:
                    names |= {_base(s) for s, _ in bound.terms}
        return names

    def stable(self, name: str, loops: tuple[_Loop, ...], loop_vars: dict[str, _Loop]) -> bool:
        if name in loop_vars:
            return loop_vars[name].low is not None  # a range loop that does not assign it
        return not any(name in loop.assigned for loop in loops)

    def linear(self, node: ast.expr) -> Linear | None:
        """``node`` as an affine form over int64 names, lengths and extents, or None."""
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Linear((), node.value)
        if isinstance(node, ast.Name):
            if node.id in self.fn.local_names:
                ty = self.locals.get(node.id, self.params.get(node.id))
                return Linear(((node.id, 1),), 0) if ty == t.int64 else None
            ref = self.fn.lookup(node.id)
            if isinstance(ref, Constant) and type(ref.value) is int:
                return Linear((), ref.value)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.linear(node.operand)
            return None if inner is None else inner.times(-1 if isinstance(node.op, ast.USub)
                                                          else 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            left, right = self.linear(node.left), self.linear(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Mult):
                if not left.terms:
                    return right.times(left.const)
                return left.times(right.const) if not right.terms else None
            return left.plus(right, -1 if isinstance(node.op, ast.Sub) else 1)
        extent = self.extent(node)
        return None if extent is None else Linear(((extent, 1),), 0)

    def extent(self, node: ast.expr) -> str | None:
        """``len(a)`` or ``a.shape[k]`` of a local array ``a``, as a symbol."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name) \
                and node.func.id not in self.fn.local_names \
                and self.fn.lookup(node.func.id) == BuiltinRef("builtins.len") \
                and isinstance(self.types.get(node_key(node.args[0])), t.ArrayType):
            return f"len({node.args[0].id})"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "shape" and isinstance(node.value.value, ast.Name) \
                and isinstance(self.types.get(node_key(node.value.value)), t.ArrayType):
            k = constant_index(node.slice)
            if k is not None and k >= 0:
                return f"{node.value.value.id}.shape[{k}]"
        return None


def _base(symbol: str) -> str:
    """The variable a symbol depends on: ``a`` for ``len(a)`` and ``a.shape[1]``."""
    if symbol.startswith("len("):
        return symbol[4:-1]
    return symbol.split(".", 1)[0]
