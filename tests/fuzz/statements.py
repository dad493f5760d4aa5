"""Random statements and function bodies.

:class:`FunctionGen` writes one function: it picks statement productions
(``_s_<name>`` methods, weighted by :data:`STATEMENTS`), emits their source lines
and keeps the :class:`~tests.fuzz.scope.Scope` up to date: which variables exist,
with which type, and which are assigned on every path to the current line.
"""

from __future__ import annotations

from . import semantics as s
from .expressions import ExprGen
from .scope import Expr, HelperSig, Param, ProgramContext, Scope
from .semantics import NP_BOOL, PY_BOOL, PY_FLOAT, PY_INT, ArrayT, Scalar, TupleT

#: Exceptions a generated ``raise`` names (FuzzError is defined by the program).
RAISABLE = ("ValueError", "RuntimeError", "ZeroDivisionError", "OverflowError", "FuzzError",
            "ArithmeticError", "KeyError")
#: Python int operators that may grow a value: the statement is followed by ``%=``.
GROWING = ("+", "-", "*", "<<")


def annotation(ty: Scalar, rng: object) -> str:
    """Source of an annotation that declares exactly ``ty``."""
    if not ty.numpy:
        return ty.cast
    names = [ty.cast, f'"{ty.name}"' if not ty.is_bool else '"bool_"',
             "fl.bool_" if ty.is_bool else f"fl.{ty.name}"]
    return rng.choice(names)  # type: ignore[attr-defined]


class FunctionGen:
    """Generates one function of the program."""

    def __init__(self, program: ProgramContext, name: str, params: tuple[Param, ...],
                 ret: Scalar | TupleT | None, helpers: list[HelperSig], *, budget: int,
                 max_block_depth: int, max_loops: int, is_kernel: bool = False):
        self.program = program
        self.rng = program.rng
        self.name = name
        self.params = params
        self.ret = ret
        self.scope = Scope(program, params, helpers, is_kernel=is_kernel)
        self.scope.MAX_LOOPS = max_loops
        self.ex = ExprGen(self.scope)
        self.lines: list[str] = []
        self.indent = 1
        self.budget = budget
        self.max_block_depth = max_block_depth
        #: The loop nesting this function runs, including its callees' (HelperSig.cost).
        self.cost = 0

    # ------------------------------------------------------------------ plumbing

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def depth(self) -> int:
        """Expression depth for the next statement."""
        return self.rng.choice((1, 2, 2, 3))

    def source(self) -> str:
        """Generate the whole function: signature, body, final return."""
        params = ", ".join(p.name if p.default is None else f"{p.name}={p.default}"
                           for p in self.params)
        if self.rng.random() < 0.15:
            self.emit('"""A generated kernel."""')
        self.body(self.budget, 0)
        self.final_return()
        return "\n".join([f"def {self.name}({params}):", *self.lines]) + "\n"

    def body(self, n: int, depth: int) -> None:
        for _ in range(n):
            if self.budget <= 0:
                break
            self.budget -= 1
            self.statement(depth)

    def block(self, depth: int, n: int | None = None) -> set[str]:
        """An indented block; returns the names assigned on every path through it."""
        saved = set(self.scope.assigned)
        self.indent += 1
        start = len(self.lines)
        self.body(n if n is not None else self.rng.randint(1, 3), depth + 1)
        if len(self.lines) == start:
            self.emit("pass")
        self.indent -= 1
        assigned = self.scope.assigned
        self.scope.assigned = saved
        return assigned

    def statement(self, depth: int) -> None:
        names, weights = zip(*STATEMENTS, strict=True)
        for _ in range(10):
            name = self.rng.choices(names, weights)[0]
            if getattr(self, name)(depth):
                return
        self._s_assign_new(depth)

    def final_return(self) -> None:
        if self.ret is None:
            if self.rng.random() < 0.5:
                self.emit("return")
            return
        self.emit(f"return {self.return_value(self.ret)}")

    def return_value(self, ty: Scalar | TupleT) -> str:
        if isinstance(ty, TupleT) and self.rng.random() < 0.6:
            return ", ".join(self.ex.stored(t, self.depth()).text for t in ty.items)
        return self.ex.stored(ty, self.depth()).text

    def _scalar_type(self) -> Scalar:
        return self.rng.choice((PY_INT, PY_INT, PY_FLOAT, PY_FLOAT, PY_BOOL, *s.NP_SCALARS))

    def _target(self, ty: Scalar) -> str:
        """A name to assign a value of ``ty``: an existing writable one or a new one."""
        old = self.scope.writable(ty)
        if old and self.rng.random() < 0.5:
            name = self.rng.choice(old).name
        else:
            name = self.scope.fresh("v")
            self.scope.declare(name, ty)
        return name

    def _note_call_cost(self, text: str) -> None:
        for h in self.scope.helpers:
            if f"{h.name}(" in text:
                self.cost = max(self.cost, self.scope.loop_depth + h.cost)

    def _emit(self, line: str) -> None:
        self._note_call_cost(line)
        self.emit(line)

    # ---------------------------------------------------------------- assignments

    def _s_assign_new(self, depth: int) -> bool:
        ty = self._scalar_type()
        e = self.ex.stored(ty, self.depth())
        r = self.rng.random()
        if r < 0.1:
            a, b = self.scope.fresh("v"), self.scope.fresh("v")
            self.scope.declare(a, ty)
            self.scope.declare(b, ty)
            self._emit(f"{a} = {b} = {e.text}")
            self.scope.assigned |= {a, b}
            return True
        name = self.scope.fresh("v")
        self.scope.declare(name, ty)
        if r < 0.2:
            self._emit(f"{name}: {annotation(ty, self.rng)} = {e.text}")
        elif r < 0.22:  # declared, assigned later or never: reads may be unbound
            self.emit(f"{name}: {annotation(ty, self.rng)}")
            return True
        else:
            self._emit(f"{name} = {e.text}")
        self.scope.assigned.add(name)
        return True

    def _s_assign(self, depth: int) -> bool:
        old = self.scope.writable()
        if not old:
            return False
        v = self.rng.choice(old)
        e = self.ex.stored(v.ty, self.depth())
        self._emit(f"{v.name} = {e.text}")
        self.scope.assigned.add(v.name)
        return True

    def _s_augassign(self, depth: int) -> bool:
        old = [v for v in self.scope.writable() if v.name in self.scope.assigned]
        if not old:
            return False
        v = self.rng.choice(old)
        ty = v.ty
        assert isinstance(ty, Scalar)
        op_rhs = self.augmented(ty, self.depth())
        if op_rhs is None:
            return False
        op, rhs = op_rhs
        self._emit(f"{v.name} {op}= {rhs.text}")
        if ty == PY_INT and op in GROWING:
            self.emit(f"{v.name} %= {self.rng.choice(s.REDUCERS[:4])}")
        return True

    def augmented(self, ty: Scalar, depth: int) -> tuple[str, Expr] | None:
        """An operator and right operand for ``x op= rhs`` that keep ``x``'s type."""
        rng = self.rng
        ex = self.ex
        if ty.is_bool:
            if ty.numpy:
                return rng.choice("&|^"), ex.scalar(rng.choice((PY_BOOL, NP_BOOL)), depth)
            return rng.choice("&|^"), ex.scalar(PY_BOOL, depth)
        if ty == PY_INT:
            op = rng.choice(("+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"))
            if op in ("<<", ">>"):
                return op, Expr(str(rng.randrange(9 if op == "<<" else 40)), PY_INT, 6)
            return op, ex.stored(rng.choice((PY_INT, PY_INT, PY_BOOL)), depth)
        if ty == PY_FLOAT:
            op = rng.choice(("+", "-", "*", "/", "//", "%"))
            return op, ex.scalar(rng.choice((PY_FLOAT, PY_INT)), depth)
        ops = ["+", "-", "*", "//", "%"] + (["&", "|", "^", "<<", ">>", "**"] if ty.is_int
                                            else ["/"])
        op = rng.choice(ops)
        if op in ("//", "%", "/"):
            return op, ex._divisor(ty, depth, False, python=False)
        if op == "**":
            k = rng.choice([k for k in (3, 5, 9) if k <= ty.hi])
            return op, Expr(f"({ex.scalar(ty, depth).text} % {k})", ty)
        if op in ("<<", ">>"):
            return op, Expr(str(rng.randint(0, min(ty.width + 3, 127))), PY_INT, 7, weak=True)
        w = ex.weak(ty) if rng.random() < 0.3 else None
        if w is not None and not (ty.is_int and w.ty == PY_FLOAT):
            return op, w
        return op, ex.scalar(ty, depth)

    def _some_array(self) -> tuple[str, ArrayT] | None:
        """A random array variable in scope (its name and type), if there is one."""
        arrays = self.scope.arrays()
        if not arrays:
            return None
        v = self.rng.choice(arrays)
        assert isinstance(v.ty, ArrayT)
        return v.name, v.ty

    def _s_store(self, depth: int) -> bool:
        found = self._some_array()
        if found is None:
            return False
        name, ty = found
        target = self.ex.element(name, ty, self.depth(), False).text
        value = self.storable(ty.element, self.depth())
        self._emit(f"{target} = {value.text}")
        return True

    def storable(self, elem: Scalar, depth: int) -> Expr:
        """A value NumPy and frostline store the same way into an ``elem`` array."""
        rng = self.rng
        r = rng.random()
        ex = self.ex
        if r < 0.6:
            return ex.scalar(elem, depth)
        if elem.is_bool:
            return ex.scalar(rng.choice(s.ALL_SCALARS), depth)
        if elem.is_float:
            return ex.stored(rng.choice((PY_FLOAT, PY_INT, *s.NP_FLOATS, *s.NP_INTS)), depth)
        k = rng.choice([k for k in (2, 10, 100, 1000, 100000) if k <= elem.hi])
        e = ex.scalar(PY_INT, depth)
        return Expr(f"({e.text} % {k})", PY_INT, s.bits_of(k))

    def _s_augstore(self, depth: int) -> bool:
        found = self._some_array()
        if found is None:
            return False
        name, ty = found
        op_rhs = self.augmented(ty.element, self.depth())
        if op_rhs is None:
            return False
        target = self.ex.element(name, ty, self.depth(), False).text
        self._emit(f"{target} {op_rhs[0]}= {op_rhs[1].text}")
        return True

    def _s_row(self, depth: int) -> bool:
        """``r = m[i]`` (a row view), or ``r = a``, ``r = x if c else y``: an array variable."""
        matrices = [v for v in self.scope.arrays() if len(v.ty.shape) == 2]  # type: ignore[union-attr]
        if not matrices:
            return False
        mt = self.rng.choice(matrices).ty
        assert isinstance(mt, ArrayT)
        row = ArrayT(mt.dtype, mt.shape[1:])
        old = [v for v in self.scope.vars.values() if v.ty == row and v.name.startswith("r")]
        name = self.rng.choice(old).name if old and self.rng.random() < 0.3 else None
        value = self.ex.array(row, 2)
        if name is None:
            name = self.scope.fresh("r")
            self.scope.declare(name, row, writable=False)
        self._emit(f"{name} = {value}")
        self.scope.assigned.add(name)
        return True

    # --------------------------------------------------------------------- tuples

    def _tuple_type(self, nested: bool = True) -> TupleT:
        n = self.rng.randint(1, 4)
        if self.rng.random() < 0.4:
            return TupleT((self._scalar_type(),) * n)
        items: list[Scalar | TupleT] = [self._scalar_type() for _ in range(n)]
        if nested and self.rng.random() < 0.15:
            items[self.rng.randrange(n)] = self._tuple_type(nested=False)
        return TupleT(tuple(items))

    def _s_tuple(self, depth: int) -> bool:
        old = [v for v in self.scope.vars.values() if isinstance(v.ty, TupleT)]
        if old and self.rng.random() < 0.3:
            v = self.rng.choice(old)
        else:
            v = self.scope.declare(self.scope.fresh("t"), self._tuple_type())
        assert isinstance(v.ty, TupleT)
        self._emit(f"{v.name} = {self.ex.tuple_value(v.ty, self.depth()).text}")
        self.scope.assigned.add(v.name)
        return True

    def _s_unpack(self, depth: int) -> bool:
        rng = self.rng
        r = rng.random()
        ex = self.ex
        if r < 0.2:
            swap = self._swap()
            if swap is not None:
                self._emit(swap)
                return True
        tt = rng.choice([v.ty for v in self.scope.tuples()] or [self._tuple_type()])
        assert isinstance(tt, TupleT)
        if r < 0.35 and len(tt.items) >= 2:  # nested: (a, b), c = (x, y), z
            inner = TupleT(tt.items[:2])
            rest = tt.items[2:]
            value = ex.tuple_value(inner, self.depth())
            rest_values = [ex.stored(t, self.depth()) for t in rest]
            targets = [f"({self._target(tt.items[0])}, {self._target(tt.items[1])})"]
            targets += [self._target(t) for t in rest]  # type: ignore[arg-type]
            values = [value.text, *(e.text for e in rest_values)]
            self._emit(f"{', '.join(targets)} = {', '.join(values)}")
            self.scope.assigned |= {n.strip("() ") for t in targets for n in t.split(",")}
            return True
        value = ex.tuple_value(tt, self.depth())
        targets = [self._target(t) for t in tt.items]  # type: ignore[arg-type]
        self._emit(f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {value.text}")
        self.scope.assigned |= set(targets)
        return True

    def _swap(self) -> str | None:
        """``x, y = y, x`` or ``a[i], b[j] = b[j], a[i]``."""
        rng = self.rng
        if rng.random() < 0.5:
            arrays = self.scope.arrays()
            if arrays:
                a = rng.choice(arrays)
                same = [b for b in arrays if b.ty.dtype == a.ty.dtype]  # type: ignore[union-attr]
                b = rng.choice(same)
                x = self.ex.element(a.name, a.ty, 1, True).text  # type: ignore[arg-type]
                y = self.ex.element(b.name, b.ty, 1, True).text  # type: ignore[arg-type]
                return f"{x}, {y} = {y}, {x}"
        old = [v for v in self.scope.writable() if v.name in self.scope.assigned]
        if len(old) < 2:
            return None
        x = rng.choice(old)
        same = [v for v in old if v.ty == x.ty and v is not x]
        if not same:
            return None
        y = rng.choice(same)
        return f"{x.name}, {y.name} = {y.name}, {x.name}"

    # ------------------------------------------------------------- control flow

    def _s_if(self, depth: int) -> bool:
        if depth >= self.max_block_depth:
            return False
        self._emit(f"if {self.ex.condition(self.depth()).text}:")
        branches = [self.block(depth)]
        while self.rng.random() < 0.3:
            self._emit(f"elif {self.ex.condition(self.depth()).text}:")
            branches.append(self.block(depth))
        if self.rng.random() < 0.5:
            self.emit("else:")
            branches.append(self.block(depth))
            self.scope.assigned |= set.intersection(*branches)
        return True

    def _loop_body(self, depth: int, else_clause: bool) -> None:
        saved_in_loop = self.scope.in_loop
        self.scope.loop_depth += 1
        self.scope.in_loop = True
        self.cost = max(self.cost, self.scope.loop_depth)
        self.block(depth, self.rng.randint(1, 4))
        self.scope.loop_depth -= 1
        self.scope.in_loop = saved_in_loop
        if else_clause:
            self.emit("else:")
            self.scope.loop_else_names |= self.block(depth) - self.scope.assigned

    def _s_for(self, depth: int) -> bool:
        if depth >= self.max_block_depth or self.scope.loop_budget() <= 0:
            return False
        rng = self.rng
        ex = self.ex
        form = rng.choice((1, 2, 3, 3))
        if form == 1:
            stop, _, hi = ex.small_int(-1, 9, 1)
            args, interval = stop, (0, hi - 1)
        elif form == 2:
            start, lo, _ = ex.small_int(-3, 4, 1)
            stop, _, hi = ex.small_int(-2, 9, 1)
            args, interval = f"{start}, {stop}", (lo, hi - 1)
        elif rng.random() < 0.5:
            start, lo, _ = ex.small_int(-3, 4, 1)
            stop, _, hi = ex.small_int(-2, 9, 1)
            step = self._step(positive=True)
            args, interval = f"{start}, {stop}, {step}", (lo, hi - 1)
        else:
            start, _, hi = ex.small_int(0, 9, 1)
            stop, lo, _ = ex.small_int(-3, 3, 1)
            step = self._step(positive=False)
            args, interval = f"{start}, {stop}, {step}", (lo + 1, hi)
        name = self.scope.fresh("i")
        if rng.random() < 0.7:  # read-only, so indexing with it stays in bounds
            self.scope.declare(name, PY_INT, writable=False, interval=interval)
        else:
            self.scope.declare(name, PY_INT)
        self._emit(f"for {name} in range({args}):")
        self.scope.assigned.add(name)
        self._loop_body(depth, rng.random() < 0.25)
        self.scope.assigned.discard(name)
        return True

    def _step(self, positive: bool) -> str:
        rng = self.rng
        if self.program.features.range_zero_step and rng.random() < 0.2:
            return f"({self.ex.scalar(PY_INT, 1).text} % 3)"  # 0: ValueError in both
        if rng.random() < 0.6:
            k = rng.randint(1, 3)
            return str(k) if positive else f"(-{k})"
        e = self.ex.scalar(PY_INT, 1).text
        return f"({e} % 3 + 1)" if positive else f"(-({e} % 3) - 1)"

    def _s_while(self, depth: int) -> bool:
        if depth >= self.max_block_depth or self.scope.loop_budget() <= 0:
            return False
        rng = self.rng
        bound = rng.randint(0, 6)
        w = self.scope.fresh("w")
        self.scope.declare(w, PY_INT, writable=False, interval=(0, bound + 1))
        self.emit(f"{w} = 0")
        self.scope.assigned.add(w)
        r = rng.random()
        if r < 0.3:
            self.emit("while True:")
            self.emit(f"    {w} += 1")
            self.emit(f"    if {w} > {bound}:")
            self.emit("        break")
        else:
            cond = f" and {self.ex.condition(1, pure=True).text}" if r < 0.7 else ""
            self._emit(f"while {w} < {bound}{cond}:")
            self.emit(f"    {w} += 1")
        self._loop_body(depth, rng.random() < 0.25)
        return True

    def _s_break(self, depth: int) -> bool:
        if not self.scope.in_loop:
            return False
        word = self.rng.choice(("break", "continue"))
        if self.rng.random() < 0.85:
            self._emit(f"if {self.ex.condition(self.depth()).text}:")
            self.emit(f"    {word}")
        else:
            self.emit(word)
        return True

    def _s_return(self, depth: int) -> bool:
        if depth == 0 and self.rng.random() < 0.7:
            return False
        self._emit(f"if {self.ex.condition(self.depth()).text}:")
        value = "" if self.ret is None else " " + self.return_value(self.ret)
        self.indent += 1
        self._emit(f"return{value}")
        self.indent -= 1
        return True

    # ----------------------------------------------------------------- exceptions

    def _exception(self) -> str:
        cls = self.rng.choice(RAISABLE)
        if self.rng.random() < 0.2:
            return cls
        return f'{cls}("{self.program.message()}")'

    def _s_raise(self, depth: int) -> bool:
        self._emit(f"if {self.ex.condition(self.depth()).text}:")
        self.emit(f"    raise {self._exception()}")
        return True

    def _s_assert(self, depth: int) -> bool:
        cond = self.ex.condition(self.depth()).text
        if self.rng.random() < 0.8:
            self._emit(f'assert {cond}, "{self.program.message()}"')
        else:
            self._emit(f"assert {cond}")
        return True

    # ------------------------------------------------------------------- others

    def _s_call(self, depth: int) -> bool:
        helpers = [h for h in self.scope.calls(any_ret=True) if self.ex.can_call(h)]
        if not helpers:
            return False
        self._emit(self.ex.call_text(self.rng.choice(helpers), self.depth()))
        return True

    def _s_expr(self, depth: int) -> bool:
        e = self.ex.scalar(self._scalar_type(), self.depth())
        self._emit(e.text)
        return True

    def _s_pass(self, depth: int) -> bool:
        self.emit("pass")
        return True


STATEMENTS: tuple[tuple[str, float], ...] = (
    ("_s_assign_new", 6.0),
    ("_s_assign", 4.0),
    ("_s_augassign", 4.0),
    ("_s_store", 5.0),
    ("_s_augstore", 3.0),
    ("_s_row", 0.8),
    ("_s_tuple", 1.5),
    ("_s_unpack", 1.5),
    ("_s_if", 4.0),
    ("_s_for", 4.0),
    ("_s_while", 1.5),
    ("_s_break", 2.0),
    ("_s_return", 1.0),
    ("_s_raise", 0.8),
    ("_s_assert", 0.8),
    ("_s_call", 1.5),
    ("_s_expr", 0.4),
    ("_s_pass", 0.2),
)
