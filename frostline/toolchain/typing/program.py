"""Typing a whole program: one instance per (function, argument types), to a fixed point.

Types flow from the signature into the entry function and from call sites into
callees.  Recursive calls whose result is not known yet have type ``UNKNOWN``
and the program is typed again until every return type settles.
"""

from __future__ import annotations

import ast

import attrs

from frostline import types as t
from frostline.errors import CompileError
from frostline.stages.closure import Closure
from frostline.stages.typed import TypedFunction, TypedProgram
from frostline.toolchain.depth import room_for
from frostline.toolchain.typing.function import FunctionTyper
from frostline.toolchain.typing.rules import (
    MAX_ROUNDS,
    UNKNOWN,
    MaybeType,
    Unknown,
    can_cast,
    located_error,
)
from frostline.toolchain.writes import InstanceTypes, written_parameters


@attrs.define
class _Instance:
    fid: str
    symbol: str
    arg_types: tuple[t.Type, ...]
    return_type: MaybeType = UNKNOWN
    locals: dict[str, t.Type] = attrs.Factory(dict)
    exprs: dict = attrs.Factory(dict)
    constants: dict = attrs.Factory(dict)
    calls: dict = attrs.Factory(dict)
    unknown_nodes: list[ast.AST] = attrs.Factory(list)


class ProgramTyper:
    """Types every function instance reachable from the closure's entry."""

    def __init__(self, closure: Closure):
        self.closure = closure
        self.program = closure.program
        self.instances: dict[tuple[str, tuple[t.Type, ...]], _Instance] = {}
        self.active: set[tuple[str, tuple[t.Type, ...]]] = set()
        self.seen: set[tuple[str, tuple[t.Type, ...]]] = set()
        self.changed = False

    def run(self) -> TypedProgram:
        entry = self.program.entry_function
        sig = self.closure.signature
        if len(sig.args) != len(entry.params):
            raise CompileError(
                f"signature has {len(sig.args)} argument types but {entry.name}() takes "
                f"{len(entry.params)} parameters", entry.filename, entry.line_offset + 1)
        arg_types = tuple(t.concrete(a) for a in sig.args)
        for a in arg_types:
            if isinstance(a, t.NoneType):
                raise CompileError("arguments cannot be None", entry.filename,
                                   entry.line_offset + 1)
        for _ in range(MAX_ROUNDS):
            self.seen = set()
            self.changed = False
            self.type_instance(entry.fid, arg_types)
            if not self.changed:
                break
        root = self.instances[(entry.fid, arg_types)]
        # Instances made while local types were still settling may be unused now.
        live = self.reachable(root)
        for inst in live:
            fn = self.program.function(inst.fid)
            if inst.unknown_nodes or isinstance(inst.return_type, Unknown):
                node = inst.unknown_nodes[0] if inst.unknown_nodes else fn.tree
                raise located_error(fn, node, f"cannot infer a type here: {fn.name}() depends "
                                    "on its own result with no path that returns a value of "
                                    "a known type")
        if sig.return_type is not None and not can_cast(root.return_type, sig.return_type):
            raise located_error(entry, entry.tree, f"{entry.name}() returns {root.return_type}, "
                                f"which cannot be converted to the declared {sig.return_type}")
        writes = written_parameters(self.program, [
            InstanceTypes(i.fid, i.symbol, i.arg_types, i.exprs, i.calls) for i in live])
        functions = tuple(
            TypedFunction(
                fid=i.fid, symbol=i.symbol, arg_types=i.arg_types,
                return_type=(sig.return_type if i is root and sig.return_type is not None
                             else t.concrete(i.return_type)),  # type: ignore[arg-type]
                locals=tuple(sorted(i.locals.items())),
                expr_types=tuple(i.exprs.items()), call_targets=tuple(i.calls.items()),
                constants=tuple(i.constants.items()),
                written_params=tuple(sorted(writes[i.symbol].written)))
            for i in live)
        return TypedProgram(self.closure, root.symbol, functions)

    def reachable(self, root: _Instance) -> list[_Instance]:
        """The instances the root calls, transitively, in a stable order."""
        by_symbol = {i.symbol: i for i in self.instances.values()}
        order, stack, seen = [], [root], {root.symbol}
        while stack:
            inst = stack.pop()
            order.append(inst)
            for symbol in inst.calls.values():
                if symbol not in seen:
                    seen.add(symbol)
                    stack.append(by_symbol[symbol])
        return sorted(order, key=lambda i: i.symbol)

    def type_instance(self, fid: str, arg_types: tuple[t.Type, ...]) -> _Instance:
        key = (fid, arg_types)
        inst = self.instances.get(key)
        if inst is None:
            fn = self.program.function(fid)
            inst = _Instance(fid, f"{fn.name}.{len(self.instances)}", arg_types)
            self.instances[key] = inst
        if key in self.active or key in self.seen:
            return inst
        self.seen.add(key)
        self.active.add(key)
        before = inst.return_type
        FunctionTyper(self, self.program.function(fid), inst).run()
        self.active.discard(key)
        if inst.return_type != before:
            self.changed = True
        return inst


def infer_types(closure: Closure) -> TypedProgram:
    """The typing step: Closure -> TypedProgram."""
    with room_for(closure.program.functions):
        return ProgramTyper(closure).run()
