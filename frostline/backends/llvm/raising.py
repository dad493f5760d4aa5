"""Raising Python exceptions from compiled code: error statuses, ``raise``, ``assert``,
runtime checks (``raise_if``), messages with array shapes, and the recursion limit.

A failing function returns the error's number in the module's table
(``ModuleLowerer.error_number``) through ``leave``, which first releases what the
function holds (``ownership``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline.backends.llvm import callcontext, stack
from frostline.backends.llvm import irtypes as lt
from frostline.toolchain.typing.rules import dotted_name

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class RaisingLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def status(self: FunctionLowerer, exc: str, message: str,
               module: str = "builtins") -> ir.Constant:
        return ir.Constant(lt.i32, self.mod.error_number(module, exc, message))

    def raise_if(self: FunctionLowerer, cond: ir.Value, exc: str, message: str,
                 module: str = "builtins") -> None:
        if isinstance(cond, ir.Constant) and cond.constant == 0:
            return
        fail = self.func.append_basic_block(f"raise.{exc}")
        ok = self.func.append_basic_block("ok")
        expect = self.extern("llvm.expect.i1", lt.i1, [lt.i1, lt.i1])
        unlikely = self.builder.call(expect, [cond, ir.Constant(lt.i1, 0)])
        self.builder.cbranch(unlikely, fail, ok)
        with self.builder.goto_block(fail):
            self.leave(self.status(exc, message, module))
        self.builder.position_at_end(ok)

    def raise_shapes(self: FunctionLowerer, cond: ir.Value, exc: str, template: str,
                     shapes: list[list[ir.Value]]) -> None:
        """``raise_if`` with shapes in the message: ``template`` has ``{0}``, ``{1}``... and
        ``{all}`` for them, written into the call's context (``stack``) for the reporter."""
        if isinstance(cond, ir.Constant) and cond.constant == 0:
            return
        b = self.builder
        fail = self.func.append_basic_block(f"raise.{exc}")
        ok = self.func.append_basic_block("ok")
        b.cbranch(cond, fail, ok)
        with b.goto_block(fail):
            words = [ir.Constant(lt.i64, len(shapes))]
            for shape in shapes:
                words += [ir.Constant(lt.i64, len(shape)), *shape]
            words = words[:callcontext.PAYLOAD_WORDS]
            ctx = b.bitcast(self.stack_base, lt.i64.as_pointer())
            for k, word in enumerate(words):
                b.store(word, b.gep(ctx, [ir.Constant(lt.i64, callcontext.PAYLOAD + k)]))
            number = self.mod.error_number("builtins", exc, template, "shapes")
            self.leave(ir.Constant(lt.i32, number))
        b.position_at_end(ok)

    def check_stack_depth(self: FunctionLowerer) -> None:
        """Recursion that would overflow the thread's stack raises RecursionError instead
        (``stack``)."""
        b = self.builder
        # ``out`` lives in the caller's frame: a stack position without forcing a frame
        # pointer (llvm.frameaddress would cost every call a register).
        here = b.ptrtoint(self.func.args[0], lt.i64)
        used = b.sub(b.ptrtoint(self.stack_base, lt.i64), here)
        deep = self.func.append_basic_block("stack.deep")
        shallow = self.func.append_basic_block("stack.ok")
        expect = self.extern("llvm.expect.i1", lt.i1, [lt.i1, lt.i1])
        b.cbranch(b.call(expect, [b.icmp_signed(">", used, ir.Constant(lt.i64, stack.SHALLOW)),
                                  ir.Constant(lt.i1, 0)]), deep, shallow)
        b.position_at_end(deep)
        limit = b.call(self.mod.stack_limit(), [self.stack_base])
        self.raise_if(b.icmp_unsigned("<", here, limit),
                      "RecursionError", "maximum recursion depth exceeded in compiled code")
        b.branch(shallow)
        b.position_at_end(shallow)

    def exception_of(self: FunctionLowerer, exc: ast.expr) -> tuple[str, str, str]:
        func = exc.func if isinstance(exc, ast.Call) else exc
        ref = self.fn.lookup(dotted_name(func) or "")
        message = ""
        if isinstance(exc, ast.Call) and exc.args:
            message = exc.args[0].value  # type: ignore[attr-defined]
        return ref.module, ref.qualname, message  # type: ignore[union-attr]

    def stmt_Raise(self: FunctionLowerer, node: ast.Raise) -> None:
        module, qualname, message = self.exception_of(node.exc)  # type: ignore[arg-type]
        self.leave(self.status(qualname, message, module))

    def stmt_Assert(self: FunctionLowerer, node: ast.Assert) -> None:
        cond = self.condition(node.test)
        message = node.msg.value if node.msg is not None else ""  # type: ignore[attr-defined]
        self.raise_if(self.builder.not_(cond), "AssertionError", message)
