"""Lowering ``for`` and ``while`` loops, ``break`` and ``continue``."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.views import Parts
from frostline.toolchain import prange
from frostline.toolchain.typing.rules import constant_index

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer


class Loop:
    """Where ``continue`` and ``break`` go in the innermost loop."""

    def __init__(self, cont: ir.Block, brk: ir.Block):
        self.cont = cont
        self.brk = brk
        #: The variables surely assigned at each ``break``: after the loop, a variable
        #: is surely assigned only if it is at every break and at the end of ``else``.
        self.broken: list[set[str]] = []

    def after(self, assigned: set[str] | None) -> set[str]:
        """What is surely assigned after the loop, given what is at the end of ``else``
        (``None`` where the ``else`` does not fall through)."""
        paths = self.broken + ([assigned] if assigned is not None else [])
        return set.intersection(*paths) if paths else set()


class LoopLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def stmt_While(self: FunctionLowerer, node: ast.While) -> None:
        head = self.func.append_basic_block("while.cond")
        body = self.func.append_basic_block("while.body")
        orelse = self.func.append_basic_block("while.else")
        end = self.func.append_basic_block("while.end")
        self.builder.branch(head)
        self.builder.position_at_end(head)
        cond = self.condition(node.test)
        self.end_statement()  # the test's temporaries, each time it runs
        self.builder.cbranch(cond, body, orelse)
        loop = Loop(head, end)
        self.loop_body(node.body, body, loop, head)
        self.builder.position_at_end(orelse)
        self.loop_else(node.orelse, loop)

    def loop_body(self: FunctionLowerer, stmts: list[ast.stmt], block: ir.Block, loop: Loop,
                  next_block: ir.Block) -> None:
        before = set(self.assigned)
        self.loops.append(loop)
        self.builder.position_at_end(block)
        self.block(stmts)
        if not self.terminated():
            self.builder.branch(next_block)
        self.loops.pop()
        self.assigned = before

    def stmt_For(self: FunctionLowerer, node: ast.For) -> None:
        if isinstance(self.type_of(node.iter), t.ArrayType):
            self.array_loop(node)
            return
        call = node.iter
        assert isinstance(call, ast.Call)
        if prange.is_prange(self.fn, node):
            self.parallel_loop(node)
            return
        start, stop, step, known_step = self.range_arguments(call)
        self.range_loop(node, start, stop, step, known_step,
                        lambda i: self.store(node.target, i, t.int64))

    def range_arguments(self: FunctionLowerer, call: ast.Call) -> tuple[
            ir.Value, ir.Value, ir.Value, int | None]:
        """``range(...)``'s (or ``prange``'s) start, stop and step as int64, and the step
        if it is a constant; the arguments' temporaries are released."""
        args = [arith.cast(self, self.expr(a), self.type_of(a), t.int64) for a in call.args]
        self.end_statement()
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        start, stop, step = (zero, args[0], one) if len(args) == 1 else (
            (args[0], args[1], one) if len(args) == 2 else tuple(args))
        known_step = constant_index(call.args[2]) if len(call.args) == 3 else 1
        return start, stop, step, known_step

    def step_allowed(self: FunctionLowerer, step: ir.Value, known_step: int | None) -> bool:
        """Raise ValueError for a zero step, as ``range`` does when the loop is reached;
        False where the step is a literal 0 (the code after is dead)."""
        if known_step is None:
            self.raise_if(self.builder.icmp_signed("==", step, ir.Constant(lt.i64, 0)),
                          "ValueError", "range() arg 3 must not be zero")
        elif known_step == 0:
            self.leave(self.status("ValueError", "range() arg 3 must not be zero"))
            self.continue_in_dead_block()
            return False
        return True

    def array_loop(self: FunctionLowerer, node: ast.For) -> None:
        """``for row in m``: over the first axis, the array taken once, before the loop
        (a new one held until the loop is left)."""
        aty = self.type_of(node.iter)
        assert isinstance(aty, t.ArrayType)
        arr = self.expr(node.iter)
        held, self.pending = self.pending, []
        src = self.parts(arr, aty)
        item = self.types[node.target.id]  # type: ignore[attr-defined]
        b = self.builder

        def bind(i: ir.Value) -> None:
            if aty.ndim == 1:
                value = self.load_element(self.address(arr, aty, [i]), aty.dtype)
            else:
                data = b.gep(src.data, [b.mul(i, src.strides[0])])
                value = self.assemble(item, Parts(data, src.shape[1:], src.strides[1:],
                                                  src.owner))
            self.store(node.target, value, item)
        self.range_loop(node, ir.Constant(lt.i64, 0), src.shape[0], ir.Constant(lt.i64, 1),
                        1, bind)
        self.pending.extend(held)
        self.end_statement()

    def range_loop(self: FunctionLowerer, node: ast.For, start: ir.Value, stop: ir.Value,
                   step: ir.Value, known_step: int | None,
                   bind: Callable[[ir.Value], None]) -> None:
        """The loop of ``range(start, stop, step)``; ``bind(i)`` assigns the target."""
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        b = self.builder
        if not self.step_allowed(step, known_step):
            return
        unit = known_step in (1, -1)
        # Steps of +-1 run a signed counter, which cannot overflow (i < stop <= INT64_MAX
        # before i + 1) and tells LLVM that i only grows: index wrap-around checks fold.
        # Other steps count trips, so ranges near the int64 limits end as in Python.
        trips = None if unit else self.trip_count(start, stop, step, known_step)
        counter = self.alloca(lt.i64, "range.k")
        b.store(start if unit else zero, counter)
        head = self.func.append_basic_block("for.cond")
        body = self.func.append_basic_block("for.body")
        incr = self.func.append_basic_block("for.incr")
        orelse = self.func.append_basic_block("for.else")
        end = self.func.append_basic_block("for.end")
        b.branch(head)
        b.position_at_end(head)
        k = b.load(counter)
        if unit:
            more = b.icmp_signed("<" if known_step == 1 else ">", k, stop)
        else:
            more = b.icmp_unsigned("<", k, trips)
        b.cbranch(more, body, orelse)
        b.position_at_end(body)
        before = set(self.assigned)
        i = k if unit else b.add(start, b.mul(k, step))
        bind(i)
        loop = Loop(incr, end)
        self.loop_body(node.body, body, loop, incr)
        self.assigned = before  # the loop may not run at all
        b.position_at_end(incr)
        if unit:
            b.store(b.add(b.load(counter), step, flags=("nsw",)), counter)
        else:  # k < trips <= 2**64 - 1, so the increment never wraps
            b.store(b.add(b.load(counter), one, flags=("nuw",)), counter)
        b.branch(head)
        b.position_at_end(orelse)
        self.loop_else(node.orelse, loop)

    def loop_else(self: FunctionLowerer, stmts: list[ast.stmt], loop: Loop) -> None:
        """Lower a loop's ``else`` clause (positioned at its block), then continue after the
        loop, where only what every way out of the loop assigned is surely assigned."""
        self.block(stmts)
        falls_through = not self.terminated()
        if falls_through:
            self.builder.branch(loop.brk)
        self.assigned = loop.after(self.assigned if falls_through else None)
        self.builder.position_at_end(loop.brk)

    def trip_count(self: FunctionLowerer, start: ir.Value, stop: ir.Value, step: ir.Value,
                   known_step: int | None) -> ir.Value:
        """How many times ``range(start, stop, step)`` runs, computed without overflow.

        The loop then counts k = 0, 1, ... and derives i = start + k * step, so
        ranges that end near the int64 limits terminate as in Python.
        """
        b = self.builder
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)

        def count(lo: ir.Value, hi: ir.Value, stride: ir.Value) -> ir.Value:
            # lo < hi: (hi - lo - 1) // stride + 1 in unsigned arithmetic.
            span = b.sub(b.sub(hi, lo), one)
            return b.select(b.icmp_signed("<", lo, hi), b.add(b.udiv(span, stride), one), zero)

        if known_step is not None and known_step > 0:
            return count(start, stop, step)
        if known_step is not None:
            return count(stop, start, b.sub(zero, step))
        return b.select(b.icmp_signed(">", step, zero), count(start, stop, step),
                        count(stop, start, b.sub(zero, step)))

    def stmt_Break(self: FunctionLowerer, node: ast.Break) -> None:
        self.loops[-1].broken.append(set(self.assigned))
        self.builder.branch(self.loops[-1].brk)

    def stmt_Continue(self: FunctionLowerer, node: ast.Continue) -> None:
        self.builder.branch(self.loops[-1].cont)
