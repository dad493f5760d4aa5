"""Typing calls: program functions, builtins, ``math`` and NumPy functions, casts, exceptions."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, NoReturn

from frostline import types as t
from frostline.stages.ast import (
    BuiltinRef,
    Constant,
    ExceptionRef,
    FunctionAST,
    FunctionRef,
    ModuleRef,
    TypeRef,
    Unsupported,
)
from frostline.stages.typed import node_key
from frostline.toolchain.library import ARRAY_NAMES, CASTS, LIBRARY, result_type
from frostline.toolchain.typing.rules import (
    UNKNOWN,
    MaybeType,
    Unknown,
    bind_arguments,
    constant_type,
    dotted_name,
)

if TYPE_CHECKING:
    from frostline.toolchain.typing.program import ProgramTyper


class CallTyping:
    """The call rules of ``FunctionTyper`` (a mixin: it needs ``fail``, ``expr``,
    ``is_local`` and the function being typed)."""

    fn: FunctionAST
    program: ProgramTyper
    calls: dict

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise NotImplementedError

    def unsupported(self, node: ast.AST, value: Unsupported) -> NoReturn:
        raise NotImplementedError

    def expr(self, node: ast.expr) -> MaybeType:
        raise NotImplementedError

    def is_local(self, name: str) -> bool:
        raise NotImplementedError

    def expr_Call(self, node: ast.Call) -> MaybeType:
        name = dotted_name(node.func)
        if isinstance(node.func, ast.Attribute) and (name is None or self.is_local(name)):
            base = self.expr(node.func.value)
            if isinstance(base, t.ArrayType):
                return self.array_method(node, base)  # type: ignore[attr-defined]
            if isinstance(base, Unknown):
                return UNKNOWN
            self.fail(node.func, f"a {base} has no methods in kernels")
        if name is None or self.is_local(name):
            self.fail(node.func, "only functions can be called")
        ref = self.fn.lookup(name)
        if isinstance(ref, FunctionRef):
            return self.call_function(node, ref)
        if isinstance(ref, ExceptionRef):
            self.fail(node, "exceptions can only be raised")
        if isinstance(ref, TypeRef):
            target = t.as_type(ref.type_name)
            if not isinstance(target, t.ScalarType):
                self.fail(node, f"{ref.type_name} cannot be called")
            return self.cast(node, target)
        if isinstance(ref, BuiltinRef):
            return self.call_builtin(node, ref.name)
        if isinstance(ref, ModuleRef):
            self.fail(node.func, f"module {ref.name} cannot be called")
        if isinstance(ref, Unsupported):
            self.unsupported(node.func, ref)
        self.fail(node.func, f"'{name}' is not a function")

    def cast(self, node: ast.Call, target: t.ScalarType) -> MaybeType:
        if node.keywords or len(node.args) != 1:
            self.fail(node, f"{target}() takes exactly one argument")
        arg = self.expr(node.args[0])
        if not isinstance(arg, (Unknown, t.ScalarType, t.WeakType)):
            self.fail(node.args[0], f"cannot convert a {arg} to {target}")
        return target

    def call_builtin(self, node: ast.Call, name: str) -> MaybeType:
        if name in ("builtins.range", "frostline.prange"):
            what = name.split(".")[1]
            self.fail(node, f"{what}() can only be used as the iterable of a for loop")
        if name in ARRAY_NAMES:
            return self.array_function(node, name)  # type: ignore[attr-defined]
        if node.keywords:
            self.fail(node, f"{name.split('.')[-1]}() takes no keyword arguments in kernels")
        if name in CASTS:
            return self.cast(node, CASTS[name])
        if name == "builtins.len":
            if len(node.args) != 1:
                self.fail(node, "len() takes exactly one argument")
            self.indexed = node.args[0]
            arg = self.expr(node.args[0])
            if not isinstance(arg, (Unknown, t.ArrayType, t.TupleType)):
                self.fail(node.args[0], f"a {arg} has no len()")
            return t.int64
        spec = LIBRARY[name]
        short = name.replace("builtins.", "").replace("numpy.", "np.")
        if not spec.min_args <= len(node.args) <= spec.max_args:
            self.fail(node, f"{short}() takes {spec.min_args}"
                      + (f" to {spec.max_args}" if spec.max_args != spec.min_args else "")
                      + f" arguments, got {len(node.args)}")
        args = [self.expr(a) for a in node.args]
        if any(isinstance(at, t.ArrayType) for at in args):
            return self.library_elementwise(node, name, args)  # type: ignore[attr-defined]
        for a, at in zip(node.args, args, strict=True):
            if not isinstance(at, (Unknown, t.ScalarType, t.WeakType)):
                self.fail(a, f"{short}() takes scalars, not {at}"
                          + ("; loop over the array instead" if isinstance(at, t.ArrayType)
                             else ""))
        if any(isinstance(a, Unknown) for a in args):
            return UNKNOWN
        if name == "math.gcd" or name == "math.ldexp":
            for a, at in zip(node.args[1 if name == "math.ldexp" else 0:],
                             args[1 if name == "math.ldexp" else 0:], strict=True):
                if at.kind == "f":  # type: ignore[union-attr]
                    self.fail(a, f"{short}() needs an integer here, not {at}")
        return result_type(spec, args)  # type: ignore[arg-type]

    def call_function(self, node: ast.Call, ref: FunctionRef) -> MaybeType:
        callee = self.program.program.function(ref.fid)
        bound = bind_arguments(callee, node)
        if isinstance(bound, str):
            self.fail(node, bound)
        arg_types: list[t.Type] = []
        for arg in bound:
            at = constant_type(arg.value) if isinstance(arg, Constant) else self.expr(arg)
            if isinstance(at, Unknown):
                return UNKNOWN
            if isinstance(at, t.NoneType):
                self.fail(node, "None cannot be passed to a function")
            arg_types.append(t.concrete(at))
        inst = self.program.type_instance(ref.fid, tuple(arg_types))
        self.calls[node_key(node)] = inst.symbol
        return inst.return_type
