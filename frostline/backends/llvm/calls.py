"""Lowering calls: program functions, casts, ``len`` and library functions."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.library import float_to_int, lower_call, work_type
from frostline.stages.ast import BuiltinRef, Constant, TypeRef
from frostline.stages.typed import node_key
from frostline.toolchain.library import CASTS, LIBRARY
from frostline.toolchain.typing.rules import bind_arguments, constant_type, dotted_name

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class CallLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def expr_Call(self: FunctionLowerer, node: ast.Call) -> ir.Value:
        key = node_key(node)
        symbol = self.typed.call_target_map.get(key)
        if symbol is not None:
            return self.call_function(node, symbol)
        ref = self.fn.lookup(dotted_name(node.func) or "")
        ty = self.type_of(node)
        if not isinstance(ref, (BuiltinRef, TypeRef)):
            return self.array_call(node)  # a method of an array
        if isinstance(ref, TypeRef) or (isinstance(ref, BuiltinRef) and ref.name in CASTS):
            arg = node.args[0]
            value, aty = self.expr(arg), self.type_of(arg)
            if isinstance(ref, BuiltinRef) and ref.name == "builtins.int" \
                    and t.concrete(aty).kind == "f":  # type: ignore[union-attr]
                return float_to_int(self, value)
            return arith.cast(self, value, aty, ty)
        assert isinstance(ref, BuiltinRef)
        if ref.name == "builtins.len":
            arg = node.args[0]
            aty = self.type_of(arg)
            if isinstance(aty, t.TupleType):
                return ir.Constant(lt.i64, len(aty.items))
            return self.builder.extract_value(self.expr(arg), [1, 0])
        if isinstance(ty, t.ArrayType) or ref.name not in LIBRARY:
            return self.array_call(node)  # a reduction or transpose (arrayexpr)
        arg_types = [self.type_of(a) for a in node.args]
        values = [self.expr(a) for a in node.args]  # each once, left to right
        return self.library_element(ref.name, values, arg_types, ty)

    def library_element(self: FunctionLowerer, name: str, values: list[ir.Value],
                        arg_types: list[t.Type], ty: t.Type) -> ir.Value:
        """A library function of scalars (or of one element of each array operand)."""
        work = work_type(name, arg_types, ty)
        if name == "math.ldexp":  # a float and an int, not one work type
            args = [arith.cast(self, values[0], arg_types[0], t.float64),
                    arith.cast(self, values[1], arg_types[1], t.int64)]
        else:
            args = [arith.cast(self, v, at, work)
                    for v, at in zip(values, arg_types, strict=True)]
        result = lower_call(self, name, args, work, ty)
        result_ty = t.int64 if name in ("math.floor", "math.ceil", "math.trunc",
                                        "builtins.round") and work.is_float else work
        if LIBRARY[name].result == "bool":
            result_ty = t.bool_
        return arith.cast(self, result, result_ty, ty)

    def call_function(self: FunctionLowerer, node: ast.Call, symbol: str) -> ir.Value:
        callee_typed = self.mod.typed.instance(symbol)
        callee = self.mod.typed.closure.program.function(callee_typed.fid)
        bound = bind_arguments(callee, node)
        assert not isinstance(bound, str)
        args = []
        for arg, pty in zip(bound, callee_typed.arg_types, strict=True):
            if isinstance(arg, Constant):
                cty = constant_type(arg.value)
                args.append(arith.cast(self, self.constant(arg.value, cty), cty, pty))
            else:
                args.append(arith.cast(self, self.expr(arg), self.type_of(arg), pty))
        ret_ty = callee_typed.return_type
        out = self.alloca(lt.value(ret_ty), "call.out")
        status = self.builder.call(self.mod.functions[symbol], [out, self.stack_base, *args])
        failed = self.builder.icmp_signed("!=", status, ir.Constant(lt.i32, 0))
        fail = self.func.append_basic_block("call.failed")
        ok = self.func.append_basic_block("call.ok")
        self.builder.cbranch(failed, fail, ok)
        with self.builder.goto_block(fail):
            self.leave(status)
        self.builder.position_at_end(ok)
        return self.temporary(self.builder.load(out), ret_ty)  # arrays in it are new
