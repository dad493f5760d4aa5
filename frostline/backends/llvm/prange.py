"""Lowering ``for i in prange(...)``: the body outlined into a task, run as a task array.

The iteration space (``trips`` iterations of ``start + k * step``) is cut into
``ntasks`` chunks of consecutive iterations that depend only on the trip
count: at most ``MAX_TASKS``, each at least ``GRAIN`` iterations when the body
is a few scalar operations (so a short cheap loop is one chunk, which runs on
the calling thread), one iteration when the body loops, calls a function or
computes with arrays.  Chunk ``k`` is task ``k`` of a task array (``tasks``);
its function, ``<function>.prange.<n>``, is the loop over the chunk, lowered
by a copy of the function's lowerer that starts from the captured variables'
values (the ``env`` struct the launching frame fills) and the reductions'
identities, and leaves its partial results as the task's return value.  After
``wait_all`` the caller combines the partials in chunk order: the same chunks
at any thread count, so a float reduction gives the same bits every run and
whatever the thread count.
"""

from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.library import SPECIAL
from frostline.backends.llvm.ownership import holds_arrays
from frostline.backends.llvm.reductions import extreme_value
from frostline.backends.llvm.taskabi import TASK
from frostline.backends.llvm.tasks import TaskArray
from frostline.stages.typed import node_key
from frostline.toolchain import prange

if TYPE_CHECKING:
    from frostline.backends.llvm.codegen import FunctionLowerer

#: The most chunks a loop is cut into, and the fewest iterations of a cheap body per chunk.
MAX_TASKS = 256
GRAIN = 4096
#: The combining operators of reductions (min and max are Python's, as written).
_COMBINE = {"add": ast.Add(), "mul": ast.Mult(), "or": ast.BitOr(), "and": ast.BitAnd(),
            "xor": ast.BitXor()}
#: The fields of the env struct before the captured values.
_START, _STEP, _TRIPS, _NTASKS = range(4)


def identity(op: str, ty: t.ScalarType) -> ir.Constant:
    """The value a partial result starts from: ``-0.0`` for float sums (so ``-0.0`` sums
    stay ``-0.0``), the extreme of the type for min and max."""
    if op in ("min", "max"):
        return extreme_value(ty, highest=op == "min")
    if ty.is_float:
        return ir.Constant(lt.scalar(ty), {"add": -0.0, "mul": 1.0}[op])
    ones = (1 << (1 if ty.is_bool else ty.bits)) - 1
    return ir.Constant(lt.scalar(ty), {"add": 0, "mul": 1, "or": 0, "xor": 0, "and": ones}[op])


def is_heavy(fn: FunctionLowerer, loop: ast.For) -> bool:
    """Whether an iteration is more than a few scalar operations: it loops, calls a
    function of the program, or computes with arrays."""
    types = fn.typed.expr_type_map
    for node in (n for s in loop.body for n in ast.walk(s)):
        if isinstance(node, (ast.For, ast.While)):
            return True
        key = node_key(node) if isinstance(node, ast.expr) else None
        if key is not None and (key in fn.typed.call_target_map
                                or isinstance(types.get(key), t.ArrayType)):
            return True
    return False


class ParallelLowering:
    """Methods of ``FunctionLowerer`` (``codegen``) kept in their own module."""

    def parallel_loop(self: FunctionLowerer, node: ast.For) -> None:
        info = prange.analyse(self.fn, node)
        for red in info.reductions:
            if not isinstance(self.types[red.name], t.ScalarType):
                self.fail(node, f"reduction variable '{red.name}' of a prange loop is a "
                          f"{self.types[red.name]}: reductions are on scalars")
        assert isinstance(node.iter, ast.Call)
        start, stop, step, known_step = self.range_arguments(node.iter)
        if not self.step_allowed(step, known_step):
            return
        b = self.builder
        zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
        trips = self.trip_count(start, stop, step, known_step)
        grain = ir.Constant(lt.i64, 1 if is_heavy(self, node) else GRAIN)
        chunks = b.select(b.icmp_unsigned("==", trips, zero), zero,
                          b.add(b.udiv(b.sub(trips, one), grain), one))
        limit = ir.Constant(lt.i64, MAX_TASKS)
        ntasks = b.select(b.icmp_unsigned("<", chunks, limit), chunks, limit)

        captured = [n for n in info.captured if n in self.vars]
        flagged = [n for n in captured if n in self.flags and n not in self.assigned]
        env_type = ir.LiteralStructType(
            [lt.i64] * 4 + [lt.value(self.types[n]) for n in captured] + [lt.i1] * len(flagged))
        partial_type = (ir.LiteralStructType([lt.value(self.types[r.name])
                                              for r in info.reductions])
                        if info.reductions else None)
        env = self.alloca(env_type, "prange.env")
        fields = [start, step, trips, ntasks] + [b.load(self.vars[n]) for n in captured] + [
            b.load(self.flags[n]) for n in flagged]
        for k, value in enumerate(fields):
            b.store(value, b.gep(env, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, k)]))
        task = self.outline(node, info, env_type, partial_type, known_step, captured, flagged)
        try:
            runtime = self.mod.tasks
        except NotImplementedError as exc:  # a target the pool runtime does not know
            self.fail(node, str(exc))
        tasks = TaskArray(self, runtime, task, partial_type, MAX_TASKS)

        launch = self.func.append_basic_block("prange.launch")
        after = self.func.append_basic_block("prange.after")
        b.cbranch(b.icmp_unsigned("!=", ntasks, zero), launch, after)
        b.position_at_end(launch)
        tasks.start(b.bitcast(env, lt.i8p), ntasks)
        status = tasks.wait_all()
        failed = self.func.append_basic_block("prange.failed")
        combine = self.func.append_basic_block("prange.combine")
        b.cbranch(b.icmp_signed("!=", status, ir.Constant(lt.i32, 0)), failed, combine)
        with b.goto_block(failed):
            self.leave(status)
        b.position_at_end(combine)
        if info.reductions:
            self.combine_partials(info, tasks, ntasks)
        b.branch(after)
        b.position_at_end(after)
        self.block(node.orelse)

    def finish(self: FunctionLowerer) -> None:
        """Close a task function: the allocas lead to the body; blocks nothing reaches
        (after a raise) end unreachable."""
        self.alloca_builder.branch(self.body_block)
        for block in self.func.blocks:
            if not block.is_terminated:
                self.builder.position_at_end(block)
                self.builder.unreachable()

    def combine_partials(self: FunctionLowerer, info: prange.ParallelLoop, tasks: TaskArray,
                         ntasks: ir.Value) -> None:
        """``s = s op partial[k]`` for k in chunk order."""
        b = self.builder
        values = {r.name: self.load_var(ast.Name(r.name, ast.Load())) for r in info.reductions}
        before = b.block
        head = self.func.append_basic_block("prange.fold")
        body = self.func.append_basic_block("prange.fold.body")
        done = self.func.append_basic_block("prange.fold.done")
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(lt.i64)
        k.add_incoming(ir.Constant(lt.i64, 0), before)
        acc = {}
        for red in info.reductions:
            acc[red.name] = b.phi(lt.value(self.types[red.name]))
            acc[red.name].add_incoming(values[red.name], before)
        b.cbranch(b.icmp_unsigned("<", k, ntasks), body, done)
        b.position_at_end(body)
        partial = b.load(tasks.result(k))
        for n, red in enumerate(info.reductions):
            ty = self.types[red.name]
            p = b.extract_value(partial, n)
            if red.op in ("min", "max"):
                folded = SPECIAL[f"builtins.{red.op}"](self, [acc[red.name], p], ty)
            else:
                folded = arith.binop(self, _COMBINE[red.op], acc[red.name], ty, p, ty, ty)
            acc[red.name].add_incoming(folded, b.block)
        k.add_incoming(b.add(k, ir.Constant(lt.i64, 1)), b.block)
        b.branch(head)
        b.position_at_end(done)
        for red in info.reductions:
            self.store(ast.Name(red.name, ast.Store()), acc[red.name], self.types[red.name])

    def outline(self: FunctionLowerer, node: ast.For, info: prange.ParallelLoop,
                env_type: ir.Type, partial_type: ir.Type | None, known_step: int | None,
                captured: list[str], flagged: list[str]) -> ir.Function:
        """The task function of one chunk of the loop (see the module's docstring)."""
        module = self.mod.module
        name = f"{self.func.name}.prange"
        count = sum(1 for g in module.globals if g.startswith(name))
        func = ir.Function(module, TASK, name=f"{name}.{count}")
        func.linkage = "internal"
        env_arg, index, result, ctx = func.args
        task = task_lowerer(self, func, ctx)
        b = task.builder
        env = b.bitcast(env_arg, env_type.as_pointer())

        def field(k: int) -> ir.Value:
            return b.load(b.gep(env, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, k)]))

        for k, name_ in enumerate(captured):
            value = field(4 + k)
            b.store(value, task.vars[name_])
            if task.managed:
                task.retain(value, self.types[name_])  # released when the task leaves
            if name_ not in flagged:
                task.assigned.add(name_)
        for k, name_ in enumerate(flagged):
            b.store(field(4 + len(captured) + k), task.flags[name_])
        for red in info.reductions:
            b.store(identity(red.op, self.types[red.name]), task.vars[red.name])
            task.assigned.add(red.name)
        start, step, trips, ntasks = (field(k) for k in (_START, _STEP, _TRIPS, _NTASKS))
        # Chunk k: base iterations, one more for the first ``trips % ntasks`` chunks.
        base, extra = b.udiv(trips, ntasks), b.urem(trips, ntasks)
        lo = b.add(b.mul(index, base), b.select(b.icmp_unsigned("<", index, extra),
                                                index, extra))
        hi = b.add(b.add(lo, base), b.zext(b.icmp_unsigned("<", index, extra), lt.i64))
        chunk = copy.copy(node)
        chunk.orelse = []  # the loop's else runs once, after every chunk
        target = node.target
        if known_step in (1, -1):
            sign = b.add if known_step == 1 else b.sub
            task.range_loop(chunk, sign(start, lo), sign(start, hi),
                            ir.Constant(lt.i64, known_step), known_step,
                            lambda i: task.store(target, i, t.int64))
        else:
            task.range_loop(chunk, lo, hi, ir.Constant(lt.i64, 1), 1,
                            lambda k: task.store(target, b.add(start, b.mul(k, step)),
                                                 t.int64))
        if not task.terminated():
            if partial_type is not None:
                out = b.bitcast(result, partial_type.as_pointer())
                partial = ir.Constant(partial_type, None)
                for n, red in enumerate(info.reductions):
                    partial = b.insert_value(partial, b.load(task.vars[red.name]), n)
                b.store(partial, out)
            task.leave(ir.Constant(lt.i32, 0))
        task.finish()
        return func


def task_lowerer(parent: FunctionLowerer, func: ir.Function, ctx: ir.Value) -> FunctionLowerer:
    """A lowerer for ``func`` that shares the function's types and plans with ``parent``,
    with variables of its own (all unassigned), and ``ctx`` as the call's context."""
    task = copy.copy(parent)
    task.func = func
    task.entry = func.append_basic_block("allocas")
    task.alloca_builder = ir.IRBuilder(task.entry)
    task.body_block = func.append_basic_block("body")
    task.builder = ir.IRBuilder(task.body_block)
    task.stack_base = ctx
    task.vars, task.flags = {}, {}
    task.loops, task.cleanups, task.temporaries, task.pending = [], [], [], []
    task.assigned = set()
    task.deferred = {}
    task.operand_scope = None
    for name in parent.vars:
        ty = parent.types[name]
        task.vars[name] = task.alloca(lt.value(ty), name)
        if task.managed and holds_arrays(ty):  # nothing to release until assigned
            task.alloca_builder.store(ir.Constant(lt.value(ty), None), task.vars[name])
        if name in parent.flags:
            task.flags[name] = task.alloca(lt.i1, f"{name}.set")
            task.builder.store(ir.Constant(lt.i1, 0), task.flags[name])
    return task
