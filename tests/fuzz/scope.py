"""What a generated function can see: its variables, the program's globals and helpers,
and :class:`Expr`, what the generator knows about a generated expression.

The expression generator (``expressions.py``) reads a :class:`Scope`; the statement
generator (``statements.py``) also updates it as it emits assignments and blocks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .semantics import ArrayT, Features, Scalar, TupleT, Type


@dataclass(frozen=True)
class Expr:
    """Generated source text and what the generator knows about its value."""

    text: str
    ty: Type
    #: For integers: ``|value| < 2**bits`` (the type's width for NumPy integers).
    bits: int = 64
    #: No helper calls: evaluating it twice (in a guard) changes nothing.
    pure: bool = True
    #: A bare literal or global Python number: weak under NEP 50 in both.
    weak: bool = False


@dataclass
class Var:
    """A local name of one fuzz type for the whole function."""

    name: str
    ty: Type
    #: False for loop counters of ``while`` loops, index loop variables and the
    #: opaque float arguments: statements never assign them.
    writable: bool = True
    #: The values a read-only ``for`` variable takes (its ``range``), if known.
    interval: tuple[int, int] | None = None
    #: A kernel argument that is never written: LLVM cannot constant-fold it.
    opaque: bool = False


@dataclass(frozen=True)
class Param:
    """A parameter of a generated function; ``default`` is source text or None."""

    name: str
    ty: Type
    default: str | None = None


@dataclass
class HelperSig:
    """A generated module-level helper function, as its callers see it."""

    name: str
    params: tuple[Param, ...]
    #: None for a helper that returns nothing (called as a statement only).
    ret: Scalar | TupleT | None
    #: Loop nesting it runs (its own plus its callees'), bounding callers' nesting.
    cost: int = 0
    recursive: bool = False


@dataclass(frozen=True)
class Global:
    """A module global of the generated source: a number, a tuple or a read-only array."""

    name: str
    ty: Type
    value: object


@dataclass
class ProgramContext:
    """Program-wide generation state shared by every function."""

    rng: random.Random
    features: Features
    boundscheck: bool
    globals: list[Global] = field(default_factory=list)
    helpers: list[HelperSig] = field(default_factory=list)
    #: Array types that exist in the kernel (its arguments and their rows):
    #: helpers take array parameters of these types only.
    array_types: list[ArrayT] = field(default_factory=list)
    _messages: int = 0

    def message(self) -> str:
        """A fresh exception message: which raise fired is part of the outcome."""
        self._messages += 1
        return f"fuzz-{self._messages}"


class Scope:
    """The variables of one function being generated, and what is assigned where."""

    #: Loop nesting allowed in one run, counting loops inside called helpers.
    MAX_LOOPS = 3

    def __init__(self, program: ProgramContext, params: tuple[Param, ...],
                 callable_helpers: list[HelperSig], self_sig: HelperSig | None = None,
                 is_kernel: bool = False):
        self.program = program
        self.rng = program.rng
        self.vars: dict[str, Var] = {}
        self.assigned: set[str] = set()
        self.helpers = callable_helpers
        self.self_sig = self_sig
        self.is_kernel = is_kernel
        self.loop_depth = 0
        self.in_loop = False
        #: Names first assigned in a loop's ``else`` clause (see Features.unbound_loop_else).
        self.loop_else_names: set[str] = set()
        self._counter = 0
        for p in params:
            self.vars[p.name] = Var(p.name, p.ty)
            self.assigned.add(p.name)

    def fresh(self, prefix: str) -> str:
        """A new local name (prefixes are distinct from globals' and helpers')."""
        self._counter += 1
        return f"{prefix}{self._counter}"

    def declare(self, name: str, ty: Type, **kwargs: object) -> Var:
        var = Var(name, ty, **kwargs)  # type: ignore[arg-type]
        self.vars[name] = var
        return var

    def readable(self, ty: Type) -> list[Var]:
        """Definitely assigned variables of exactly this type."""
        return [v for v in self.vars.values() if v.ty == ty and v.name in self.assigned]

    def maybe_unassigned(self, ty: Type) -> list[Var]:
        """Variables of this type that some path leaves unassigned here."""
        skip = set() if self.program.features.unbound_loop_else else self.loop_else_names
        return [v for v in self.vars.values() if v.ty == ty and v.name not in self.assigned
                and v.name not in skip]

    def writable(self, ty: Type | None = None) -> list[Var]:
        """Variables an assignment may target (of this type, or any scalar)."""
        return [v for v in self.vars.values() if v.writable
                and (v.ty == ty if ty is not None else isinstance(v.ty, Scalar))]

    def arrays(self) -> list[Var]:
        """Array variables (arguments and row views) that are assigned here."""
        return [v for v in self.vars.values() if isinstance(v.ty, ArrayT)
                and v.name in self.assigned]

    def tuples(self) -> list[Var]:
        return [v for v in self.vars.values() if isinstance(v.ty, TupleT)
                and v.name in self.assigned]

    def loop_budget(self) -> int:
        """How much loop nesting a call made here may still run."""
        return self.MAX_LOOPS - self.loop_depth

    def calls(self, ret: Type | None = None, *, any_ret: bool = False) -> list[HelperSig]:
        """Helpers callable here whose loops fit, returning ``ret`` (or anything)."""
        out = [h for h in self.helpers if h.cost <= self.loop_budget()
               and (any_ret or h.ret == ret)]
        return out
