"""Write tracking: which array parameters a program may write, through any alias.

An array reaches a kernel as a parameter (or a frozen global); from there it
can be held by variables, tuples, unpacked names, conditional expressions,
subscripts (row views), and passed into callees and returned from them.  Each
value is given the set of *origins* it may view: the parameter names and
globals (``"global T"``) it may share memory with.  The analysis is
flow-insensitive and tuple-insensitive: a variable's origins are the union
over every assignment to it anywhere in the function, and a tuple's origins
the union over its items, so loops and branches need no special care.  An
expression whose type holds no array has no origins; an expression of a kind
not named here takes the union of its operands' origins.  Everything the
analysis cannot prove read-only therefore counts as written.

A write is a store into an element (``a[i] = x``, ``a[i] += x``, also inside
unpacking targets), an augmented assignment to a name holding an array, or
passing an array to a callee parameter that is written.  Per instance the
analysis keeps a summary: the parameters it writes and the origins its return
value may view (parameters of the instance, or globals); summaries are
iterated to a fixed point over the whole program, so recursion is covered.

Writing an origin that is a frozen global array is a CompileError at the write.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

import attrs

from frostline import types as t
from frostline.stages.ast import ArrayConstant, Constant, FunctionAST, ProgramAST
from frostline.stages.typed import NodeKey, node_key
from frostline.toolchain.typing.rules import bind_arguments, dotted_name, located_error

Origins = frozenset[str]
_NONE: Origins = frozenset()
_GLOBAL = "global "


@attrs.frozen
class InstanceTypes:
    """What write tracking needs of one typed instance."""

    fid: str
    symbol: str
    arg_types: tuple[t.Type, ...]
    expr_types: Mapping[NodeKey, t.Type]
    call_targets: Mapping[NodeKey, str]


@attrs.frozen
class Summary:
    """An instance's effect on its arguments: the parameters it writes, and the
    origins (its parameters, or globals) its return value may view."""

    written: frozenset[str] = frozenset()
    returns: Origins = _NONE


def holds_array(ty: t.Type | None) -> bool:
    """Whether a value of this type can hold an array (None: unknown, so it may)."""
    if ty is None or isinstance(ty, t.ArrayType):
        return True
    if isinstance(ty, t.TupleType):
        return any(holds_array(item) for item in ty.items)
    return False


def written_parameters(program: ProgramAST,
                       instances: Iterable[InstanceTypes]) -> dict[str, Summary]:
    """The summary of every instance, at the program's fixed point."""
    by_symbol = {inst.symbol: inst for inst in instances}
    summaries = {symbol: Summary() for symbol in by_symbol}
    changed = True
    while changed:
        changed = False
        for symbol, inst in by_symbol.items():
            new = _FunctionWrites(program, inst, by_symbol, summaries).run()
            if new != summaries[symbol]:
                summaries[symbol] = new
                changed = True
    return summaries


class _FunctionWrites:
    """The origins of one instance's variables and what it writes and returns."""

    def __init__(self, program: ProgramAST, inst: InstanceTypes,
                 instances: Mapping[str, InstanceTypes], summaries: Mapping[str, Summary]):
        self.program = program
        self.fn = program.function(inst.fid)
        self.inst = inst
        self.instances = instances
        self.summaries = summaries
        self.origins: dict[str, Origins] = {p: frozenset([p]) for p in self.fn.params}
        self.written: set[str] = set()
        self.returns: set[str] = set()

    def run(self) -> Summary:
        while True:  # origins only grow, over a finite set: this ends
            before = dict(self.origins)
            for node in ast.walk(self.fn.tree):
                self.visit(node)
            if self.origins == before:
                break
        params = set(self.fn.params)
        return Summary(frozenset(w for w in self.written if w in params),
                       frozenset(r for r in self.returns
                                 if r in params or r.startswith(_GLOBAL)))

    # --- statements and calls ---------------------------------------------------------

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            value = self.of(node.value)
            for target in node.targets:
                self.bind(target, value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.bind(node.target, self.of(node.value))
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Subscript):
                self.write(node.target.value, node.target)
            elif holds_array(self.type_of(node)):  # in place on an array
                self.write(node.target, node)
        elif isinstance(node, ast.Return) and node.value is not None:
            self.returns |= self.of(node.value)
        elif isinstance(node, ast.Call):
            self.call_writes(node)

    def bind(self, target: ast.expr, value: Origins) -> None:
        """Assignment of a value viewing ``value`` to ``target``."""
        if isinstance(target, ast.Name):
            self.origins[target.id] = self.origins.get(target.id, _NONE) | value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt, value)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value)
        elif isinstance(target, ast.Subscript):
            self.write(target.value, target)

    def call_writes(self, node: ast.Call) -> None:
        """A callee that writes a parameter writes whatever the argument views."""
        callee, bound = self.callee(node)
        if callee is None:
            return
        summary = self.summaries[callee]
        for param, arg in zip(self.function_of(callee).params, bound, strict=True):
            if param in summary.written and isinstance(arg, ast.expr):
                self.write(arg, node)

    def write(self, array: ast.expr, at: ast.AST) -> None:
        for origin in self.of(array):
            if origin.startswith(_GLOBAL):
                raise located_error(self.fn, at, f"'{origin[len(_GLOBAL):]}' is a global array "
                                    "frozen into the compiled code and cannot be written")
            self.written.add(origin)

    def callee(self, node: ast.Call) -> tuple[str | None, list[ast.expr | Constant]]:
        symbol = self.inst.call_targets.get(node_key(node))
        if symbol is None:
            return None, []
        bound = bind_arguments(self.function_of(symbol), node)
        assert not isinstance(bound, str), "typing bound this call"
        return symbol, bound

    def function_of(self, symbol: str) -> FunctionAST:
        return self.program.function(self.instances[symbol].fid)

    # --- expressions ------------------------------------------------------------------

    def type_of(self, node: ast.AST) -> t.Type | None:
        return self.inst.expr_types.get(node_key(node)) if hasattr(node, "lineno") else None

    def of(self, node: ast.expr) -> Origins:
        """The origins of the arrays the value of ``node`` may view."""
        if not holds_array(self.type_of(node)):
            return _NONE
        if isinstance(node, ast.Name):
            if node.id in self.fn.local_names:
                return self.origins.get(node.id, _NONE)
            return self.global_origin(node)
        if isinstance(node, ast.Attribute):
            dotted = dotted_name(node)
            if dotted is not None and dotted.split(".")[0] not in self.fn.local_names:
                return self.global_origin(node)
            return self.of(node.value)
        if isinstance(node, ast.Subscript):
            return self.of(node.value)
        if isinstance(node, ast.Call):
            callee, bound = self.callee(node)
            if callee is not None:
                returns = self.summaries[callee].returns
                params = self.function_of(callee).params
                found = {r for r in returns if r.startswith(_GLOBAL)}
                for param, arg in zip(params, bound, strict=True):
                    if param in returns and isinstance(arg, ast.expr):
                        found |= self.of(arg)
                return frozenset(found)
            return self.union(node.args + [kw.value for kw in node.keywords])
        if isinstance(node, ast.IfExp):
            return self.of(node.body) | self.of(node.orelse)
        return self.union([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)])

    def union(self, nodes: Iterable[ast.expr]) -> Origins:
        found: set[str] = set()
        for n in nodes:
            found |= self.of(n)
        return frozenset(found)

    def global_origin(self, node: ast.expr) -> Origins:
        value = self.fn.lookup(dotted_name(node) or "")
        if isinstance(value, ArrayConstant):
            return frozenset([_GLOBAL + (dotted_name(node) or "?")])
        return _NONE
