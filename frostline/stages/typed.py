"""TypedProgram: every function instance of a closure with its inferred types.

A function called with different argument types becomes several instances,
each with its own LLVM symbol.  Expression types are keyed by the node's
class and source span, which identify a node of a function's AST uniquely.
"""

from __future__ import annotations

import ast
import functools

import attrs

from frostline.fingerprint import digest_all
from frostline.stages.closure import Closure
from frostline.types import Type

NodeKey = tuple[str, int, int, int, int]


def node_key(node: ast.AST) -> NodeKey:
    """The identity of a node within its function: class name and source span."""
    return (type(node).__name__, node.lineno, node.col_offset,  # type: ignore[attr-defined]
            node.end_lineno or 0, node.end_col_offset or 0)  # type: ignore[attr-defined]


@attrs.frozen
class TypedFunction:
    """One instance of a function: argument, local and return types, call targets."""

    fid: str
    symbol: str
    arg_types: tuple[Type, ...]
    return_type: Type
    locals: tuple[tuple[str, Type], ...]
    expr_types: tuple[tuple[NodeKey, Type], ...]
    call_targets: tuple[tuple[NodeKey, str], ...]
    written_params: tuple[str, ...]
    #: The exact values of constant expressions (``10**19 - 1``), by node.
    constants: tuple[tuple[NodeKey, object], ...] = ()

    @functools.cached_property
    def expr_type_map(self) -> dict[NodeKey, Type]:
        return dict(self.expr_types)

    @functools.cached_property
    def call_target_map(self) -> dict[NodeKey, str]:
        return dict(self.call_targets)

    @functools.cached_property
    def constant_map(self) -> dict[NodeKey, object]:
        return dict(self.constants)

    @functools.cached_property
    def local_map(self) -> dict[str, Type]:
        return dict(self.locals)

    def as_text(self) -> str:
        args = ", ".join(str(t) for t in self.arg_types)
        lines = [f"{self.symbol}: ({args}) -> {self.return_type}   # {self.fid}"]
        lines += [f"    {name}: {t}" for name, t in self.locals]
        lines += [f"    calls {sym} at line {key[1]}" for key, sym in self.call_targets]
        return "\n".join(lines)


@attrs.frozen
class TypedProgram:
    """The closure plus the typed instances of every function it reaches."""

    closure: Closure
    entry_symbol: str
    functions: tuple[TypedFunction, ...]

    def instance(self, symbol: str) -> TypedFunction:
        for fn in self.functions:
            if fn.symbol == symbol:
                return fn
        raise KeyError(symbol)

    @property
    def entry(self) -> TypedFunction:
        return self.instance(self.entry_symbol)

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest_all(["typed", self.closure.fingerprint])

    def as_text(self) -> str:
        return "\n\n".join(fn.as_text() for fn in self.functions)
