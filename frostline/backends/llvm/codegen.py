"""Lowering: TypedProgram -> LLVM IR (``llvmlite.ir``), one function per typed instance.

Every function follows the internal ABI ``i32 f(R* out, args...)``: 0 means
success, ``k > 0`` means "raise entry k of the module's error table".  Types
come from the TypedProgram; this module only emits.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import NoReturn

import numpy as np
from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import arith, stack
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.arrayexpr import ArrayExpressionLowering, Leaf, Scalar
from frostline.backends.llvm.arrays import ArrayLowering
from frostline.backends.llvm.axes import AxisLowering
from frostline.backends.llvm.calls import CallLowering
from frostline.backends.llvm.creation import CreationLowering
from frostline.backends.llvm.joins import JoinLowering
from frostline.backends.llvm.loops import Loop, LoopLowering
from frostline.backends.llvm.memory import Runtime, runtime_record
from frostline.backends.llvm.ownership import OwnershipLowering, holds_arrays, manages_memory
from frostline.backends.llvm.prange import ParallelLowering
from frostline.backends.llvm.raising import RaisingLowering
from frostline.backends.llvm.reductions import ReductionLowering
from frostline.backends.llvm.shapes import ShapeLowering
from frostline.backends.llvm.tasks import Tasks
from frostline.backends.llvm.views import ViewLowering
from frostline.errors import CompileError
from frostline.stages.ast import ArrayConstant, Constant, FunctionAST
from frostline.stages.executable import RaisedError
from frostline.stages.typed import TypedFunction, TypedProgram, node_key
from frostline.toolchain.depth import room_for
from frostline.toolchain.escape import stack_arrays
from frostline.toolchain.fusion import fused_assignments
from frostline.toolchain.ranges import nonnegative_indices
from frostline.toolchain.typing.arrays import elementwise
from frostline.toolchain.typing.rules import dotted_name

_NOT_FOLDED = object()


class ModuleLowerer:
    """Owns the LLVM module: functions, externs, helpers, constants and the error table."""

    def __init__(self, typed: TypedProgram, name: str, triple: str = "", data_layout: str = "",
                 runtime_symbol: str = "frostline.runtime"):
        self.typed = typed
        self.options = typed.closure.program.options
        self.module = ir.Module(name=name)
        if triple:
            self.module.triple = triple
        if data_layout:
            self.module.data_layout = data_layout
        self.errors: list[RaisedError] = []
        self.runtime = Runtime(self.module, runtime_symbol)
        runtime_record(self.module, runtime_symbol)
        self.externs: dict[str, ir.Function] = {}
        self.helpers: dict[tuple[str, str], ir.Function] = {}
        self.arrays: dict[str, ir.GlobalVariable] = {}
        self.functions: dict[str, ir.Function] = {}
        self.recursive = recursive_symbols(typed)
        self._tasks: Tasks | None = None
        for fn in typed.functions:
            llfn = ir.Function(self.module, lt.function(fn.return_type, fn.arg_types),
                               name=fn.symbol)
            llfn.linkage = "internal"
            self.functions[fn.symbol] = llfn

    def lower(self) -> ir.Module:
        program = self.typed.closure.program
        for fn in self.typed.functions:
            FunctionLowerer(self, fn, program.function(fn.fid)).lower()
        if self._tasks is not None:
            self._tasks.export_worker()
        return self.module

    @property
    def tasks(self) -> Tasks:
        """The thread-pool runtime (``tasks``), emitted into the module on first use."""
        if self._tasks is None:
            self._tasks = Tasks(self.module, self.runtime.symbol, self.extern)
        return self._tasks

    def error_number(self, module: str, qualname: str, message: str,
                     detail: str = "") -> int:
        entry = RaisedError(module, qualname, message, detail)
        if entry not in self.errors:
            self.errors.append(entry)
        return self.errors.index(entry) + 1

    def extern(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        fn = self.externs.get(name) or self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
            self.externs[name] = fn
        return fn

    def stack_limit(self) -> ir.Function:
        """``fl.stack.limit``, emitted once (see ``stack``)."""
        key = ("stack.limit", "")
        if key not in self.helpers:
            self.helpers[key] = stack.emit_stack_limit(self.module, self.extern)
        return self.helpers[key]

    def helper(self, kind: str, ty: t.ScalarType) -> ir.Function:
        key = (kind, ty.name)
        if key not in self.helpers:
            emit = arith.emit_ipow if kind == "ipow" else arith.emit_gcd
            self.helpers[key] = emit(self.module, f"fl.{kind}.{ty.name}",
                                     lt.scalar(ty))  # type: ignore[arg-type]
        return self.helpers[key]

    def constant_global(self, key: str, init: Callable[[], ir.Constant],
                        align: int | None = None) -> ir.GlobalVariable:
        """A read-only internal global of the module holding ``init()``, made once per
        ``key``."""
        if key not in self.arrays:
            value = init()
            gv = ir.GlobalVariable(self.module, value.type, name=f"fl.const.{len(self.arrays)}")
            gv.linkage = "internal"
            gv.global_constant = True
            gv.align = align
            gv.initializer = value
            self.arrays[key] = gv
        return self.arrays[key]

    def constant_data(self, key: str, data: Callable[[], bytes]) -> ir.GlobalVariable:
        """Read-only bytes as one internal global of the module, made once per ``key``.

        The bytes are one string constant: an IR constant per element would make a
        large table cost seconds to print and parse."""
        def init() -> ir.Constant:
            content = bytearray(data())
            return ir.Constant(ir.ArrayType(lt.i8, len(content)), content)
        return self.constant_global(key, init, align=64)

    def array_constant(self, value: ArrayConstant, ty: t.ArrayType) -> ir.Constant:
        """A frozen global array as an array struct pointing at a constant global."""
        gv = self.constant_data(
            value.fingerprint, lambda: np.ascontiguousarray(value.to_array()).tobytes())
        elem_ptr = lt.memory(ty.dtype).as_pointer()
        ptr = gv.gep([ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 0)]).bitcast(elem_ptr)
        itemsize = ty.dtype.itemsize
        shape = list(value.shape)
        strides = [itemsize] * len(shape)
        for k in range(len(shape) - 2, -1, -1):
            strides[k] = strides[k + 1] * shape[k + 1]
        dims = ir.ArrayType(lt.i64, len(shape))
        return ir.Constant(lt.array(ty), [ptr, ir.Constant(dims, shape),
                                          ir.Constant(dims, strides),
                                          ir.Constant(lt.i8p, None)])


def recursive_symbols(typed: TypedProgram) -> frozenset[str]:
    """The instances that can call themselves, directly or through others."""
    calls = {fn.symbol: set(fn.call_target_map.values()) for fn in typed.functions}

    def reaches(start: str) -> bool:
        seen: set[str] = set()
        stack = list(calls[start])
        while stack:
            symbol = stack.pop()
            if symbol == start:
                return True
            if symbol not in seen:
                seen.add(symbol)
                stack.extend(calls[symbol])
        return False

    return frozenset(s for s in calls if reaches(s))


class FunctionLowerer(ArrayLowering, ViewLowering, ArrayExpressionLowering, ReductionLowering,
                      AxisLowering, CreationLowering, ShapeLowering, JoinLowering,
                      CallLowering, LoopLowering, ParallelLowering, OwnershipLowering,
                      RaisingLowering):
    """Emits one typed function instance: statements and scalar expressions here; array
    access, views, array expressions, reductions, calls and loops in the mixins of
    ``arrays``, ``views``, ``arrayexpr``, ``reductions``, ``calls`` and ``loops``."""

    def __init__(self, mod: ModuleLowerer, typed: TypedFunction, fn: FunctionAST):
        self.mod = mod
        self.typed = typed
        self.fn = fn
        options = fn.options or mod.options  # an fl.jit callee keeps its own options
        self.fastmath = options.fastmath
        self.boundscheck = options.boundscheck
        self.func = mod.functions[typed.symbol]
        # Allocas go to their own entry block, which jumps to the body once it is emitted.
        self.entry = self.func.append_basic_block("allocas")
        self.alloca_builder = ir.IRBuilder(self.entry)
        self.builder = ir.IRBuilder(self.func.append_basic_block("body"))
        self.vars: dict[str, ir.AllocaInstr] = {}
        self.flags: dict[str, ir.AllocaInstr] = {}
        self.types: dict[str, t.Type] = dict(zip(fn.params, typed.arg_types, strict=True))
        self.types.update(typed.locals)  # a parameter may be widened by assignments
        self.loops: list[Loop] = []
        self.assigned: set[str] = set(fn.params)
        #: Array indices that cannot be negative: no wrap-around select.
        self.nonnegative = nonnegative_indices(fn, typed)
        #: What an error return must do first (free a temporary buffer), innermost last.
        self.cleanups: list[Callable[[], None]] = []
        #: Reference counting (``ownership``): whether this function does it, the slots
        #: of its temporaries, and those of the statement being lowered.
        self.managed = manages_memory(fn.tree, typed, mod.typed)
        self.temporaries: list[ir.AllocaInstr] = []
        self.pending: list[ir.AllocaInstr] = []
        #: While a reduction folds into a new array: the alias scope of that array, which
        #: operand loads are marked not to alias (``axes``).
        self.operand_scope: ir.Value | None = None
        #: Array expressions stored in variables that the next statement computes in its
        #: own loop nest (``toolchain.fusion``), and those waiting for their use.
        self.fused = fused_assignments(fn, typed.expr_type_map)
        #: The creation calls whose small arrays live in this function's frame.
        self.on_stack = stack_arrays(fn, typed.expr_type_map)
        self.deferred: dict[str, ast.expr] = {}

    # --- plumbing ---------------------------------------------------------------------

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        lineno, col, line = self.fn.position(node)
        raise CompileError(message, self.fn.filename, lineno, col, line)

    def alloca(self, ty: ir.Type, name: str) -> ir.AllocaInstr:
        return self.alloca_builder.alloca(ty, name=name)

    def extern(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        return self.mod.extern(name, ret, args)

    def helper(self, name: str, ty: t.ScalarType) -> ir.Function:
        return self.mod.helper(name, ty)

    def type_of(self, node: ast.AST) -> t.Type:
        return self.typed.expr_type_map[node_key(node)]

    def terminated(self) -> bool:
        return self.builder.block.is_terminated

    def continue_in_dead_block(self) -> None:
        self.builder.position_at_end(self.func.append_basic_block("dead"))

    # --- function ---------------------------------------------------------------------

    def lower(self) -> None:
        body = self.builder.block
        out, self.stack_base, *args = self.func.args
        for name, ty, arg in zip(self.fn.params, self.typed.arg_types, args, strict=True):
            slot = self.alloca(lt.value(self.types[name]), name)
            value = arith.cast(self, arg, ty, self.types[name])
            self.builder.store(value, slot)
            if self.managed:
                self.retain(value, self.types[name])  # the caller's reference is borrowed
            self.vars[name] = slot
        for name, ty in self.typed.locals:
            if name in self.vars:
                continue
            self.vars[name] = self.alloca(lt.value(ty), name)
            if self.managed and holds_arrays(ty):  # nothing to release until assigned
                self.alloca_builder.store(ir.Constant(lt.value(ty), None), self.vars[name])
            flag = self.alloca(lt.i1, f"{name}.set")
            self.builder.store(ir.Constant(lt.i1, 0), flag)
            self.flags[name] = flag
        if self.typed.symbol in self.mod.recursive:
            self.check_stack_depth()
        self.block(self.fn.tree.body)
        self.alloca_builder.branch(body)
        returns_none = isinstance(self.typed.return_type, t.NoneType)
        for block in self.func.blocks:
            if not block.is_terminated:
                self.builder.position_at_end(block)
                if returns_none:
                    self.leave(ir.Constant(lt.i32, 0))
                else:
                    self.builder.unreachable()

    # --- statements -------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            if self.terminated():
                self.continue_in_dead_block()
            getattr(self, f"stmt_{type(stmt).__name__}")(stmt)
            self.end_statement()

    def stmt_Pass(self, node: ast.Pass) -> None:
        pass

    def stmt_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):
            return
        self.expr(node.value)

    def stmt_Assign(self, node: ast.Assign) -> None:
        if node_key(node) in self.fused:
            self.deferred[node.targets[0].id] = node.value  # type: ignore[attr-defined]
            return
        vty = self.type_of(node.value)
        # An array expression stored only through views is computed into them (fused);
        # stored into a variable too, it becomes an array first.
        fused = elementwise(node.value, self.typed.expr_type_map, self.fn) and all(
            self.is_view(target) for target in node.targets)
        value = None if fused else self.expr(node.value)
        tree = None
        for target in node.targets:
            if self.is_view(target):
                if tree is None:
                    tree = self.tree(node.value) if value is None else (
                        Leaf(self.parts(value, vty), vty) if isinstance(vty, t.ArrayType)
                        else Scalar(value, vty))
                dty = self.type_of(target)
                self.store_array(self.view(target), dty, tree)  # type: ignore[arg-type]
            else:
                assert value is not None
                self.store(target, value, vty)

    def is_view(self, target: ast.expr) -> bool:
        """Whether an assignment target is a view (``a[1:]``, ``m[i]``), not one element."""
        return isinstance(target, ast.Subscript) and isinstance(
            self.typed.expr_type_map.get(node_key(target)), t.ArrayType)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.store(node.target, self.expr(node.value), self.type_of(node.value))

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        result_ty = self.type_of(node)
        target = node.target
        if isinstance(self.typed.expr_type_map.get(node_key(target)), t.ArrayType):
            self.augment_array(node)
            return
        if isinstance(target, ast.Name):
            current = self.load_var(target)
            cur_ty = self.types[target.id]
            rhs = self.expr(node.value)
            value = arith.binop(self, node.op, current, cur_ty, rhs, self.type_of(node.value),
                                result_ty)
            self.store(target, value, result_ty)
            return
        assert isinstance(target, ast.Subscript)
        elem_ty = self.type_of(target)
        ptr = self.element_pointer(target)
        current = self.load_element(ptr, elem_ty)  # type: ignore[arg-type]
        rhs = self.expr(node.value)
        value = arith.binop(self, node.op, current, elem_ty, rhs, self.type_of(node.value),
                            result_ty)
        self.store_element(ptr, arith.cast(self, value, result_ty, elem_ty),
                           elem_ty)  # type: ignore[arg-type]

    def store(self, target: ast.expr, value: ir.Value, vty: t.Type) -> None:
        if isinstance(target, ast.Name):
            name = target.id
            self.assign_owned(self.vars[name], arith.cast(self, value, vty, self.types[name]),
                              self.types[name])
            if name in self.flags:
                self.builder.store(ir.Constant(lt.i1, 1), self.flags[name])
            self.assigned.add(name)
        elif isinstance(target, (ast.Tuple, ast.List)):
            assert isinstance(vty, t.TupleType)
            for i, (elt, ity) in enumerate(zip(target.elts, vty.items, strict=True)):
                self.store(elt, self.builder.extract_value(value, i), ity)
        else:
            assert isinstance(target, ast.Subscript)
            elem_ty = self.type_of(target.value)
            assert isinstance(elem_ty, t.ArrayType)
            ptr = self.element_pointer(target)
            self.store_element(ptr, arith.cast(self, value, vty, elem_ty.dtype), elem_ty.dtype)

    def stmt_If(self, node: ast.If) -> None:
        cond = self.condition(node.test)
        self.end_statement()  # the test's temporaries
        then = self.func.append_basic_block("if.then")
        other = self.func.append_basic_block("if.else")
        merge = self.func.append_basic_block("if.end")
        self.builder.cbranch(cond, then, other)
        before = set(self.assigned)
        self.builder.position_at_end(then)
        self.block(node.body)
        after_then = self.assigned if not self.terminated() else None
        if not self.terminated():
            self.builder.branch(merge)
        self.assigned = set(before)
        self.builder.position_at_end(other)
        self.block(node.orelse)
        after_else = self.assigned if not self.terminated() else None
        if not self.terminated():
            self.builder.branch(merge)
        self.builder.position_at_end(merge)
        if after_then is None and after_else is None:
            self.assigned = before
            self.builder.unreachable()
            self.continue_in_dead_block()
        elif after_then is None:
            self.assigned = after_else  # type: ignore[assignment]
        elif after_else is None:
            self.assigned = after_then
        else:
            self.assigned = after_then & after_else


    def stmt_Return(self, node: ast.Return) -> None:
        ret_ty = self.typed.return_type
        if node.value is not None and not isinstance(ret_ty, t.NoneType):
            value = arith.cast(self, self.expr(node.value), self.type_of(node.value), ret_ty)
            self.retain(value, ret_ty)  # the caller's reference
            self.builder.store(value, self.func.args[0])
        self.leave(ir.Constant(lt.i32, 0))

    # --- expressions ------------------------------------------------------------------

    def condition(self, node: ast.expr) -> ir.Value:
        return arith.truth(self, self.expr(node), self.type_of(node))

    def expr(self, node: ast.expr) -> ir.Value:
        ty = self.typed.expr_type_map.get(node_key(node))
        if isinstance(ty, t.DTypeType):
            return ir.Constant(lt.i8, 0)  # known when compiling: nothing to compute
        if isinstance(ty, t.ArrayType) and elementwise(node, self.typed.expr_type_map, self.fn):
            return self.materialise(node)
        if type(node) in (ast.BinOp, ast.UnaryOp):
            folded = self.typed.constant_map.get(node_key(node), _NOT_FOLDED)
            if folded is not _NOT_FOLDED:  # a constant expression, evaluated exactly
                return self.constant(folded, self.type_of(node))
        return getattr(self, f"expr_{type(node).__name__}")(node)  # type: ignore[no-any-return]

    def expr_Constant(self, node: ast.Constant) -> ir.Value:
        return self.constant(node.value, self.type_of(node))

    def constant(self, value: object, ty: t.Type) -> ir.Value:
        if isinstance(ty, t.TupleType):
            items = [self.constant(v, it) for v, it in zip(value, ty.items,  # type: ignore
                                                           strict=True)]
            return ir.Constant.literal_struct(items)
        if isinstance(ty, t.NoneType):
            return ir.Constant(lt.i8, 0)
        if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
            value = bool(value)
        return arith.const(ty, value.item() if hasattr(value, "item") else value)

    def load_var(self, node: ast.Name) -> ir.Value:
        name = node.id
        if name not in self.assigned and name in self.flags:
            self.raise_if(self.builder.not_(self.builder.load(self.flags[name])),
                          "UnboundLocalError", f"cannot access local variable '{name}' where "
                          "it is not associated with a value")
        return self.builder.load(self.vars[name])

    def expr_Name(self, node: ast.Name) -> ir.Value:
        if node.id in self.deferred:  # fused into this statement, needed as an array here
            return self.expr(self.deferred.pop(node.id))
        if node.id in self.vars:
            return self.load_var(node)
        return self.global_value(node)

    def global_value(self, node: ast.expr) -> ir.Value:
        value = self.fn.lookup(dotted_name(node) or "")
        ty = self.type_of(node)
        if isinstance(value, Constant):
            return self.constant(value.value, ty)
        assert isinstance(value, ArrayConstant) and isinstance(ty, t.ArrayType)
        return self.mod.array_constant(value, ty)

    def expr_BinOp(self, node: ast.BinOp) -> ir.Value:
        lhs, rhs = self.expr(node.left), self.expr(node.right)
        return arith.binop(self, node.op, lhs, self.type_of(node.left), rhs,
                           self.type_of(node.right), self.type_of(node))

    def expr_UnaryOp(self, node: ast.UnaryOp) -> ir.Value:
        if isinstance(node.op, ast.Not):
            return self.builder.not_(self.condition(node.operand))
        ty = self.type_of(node)
        value = arith.cast(self, self.expr(node.operand), self.type_of(node.operand), ty)
        if isinstance(node.op, ast.USub):
            return arith.negate(self, value, ty)
        if isinstance(node.op, ast.Invert):
            return self.builder.not_(value)
        return value

    def expr_BoolOp(self, node: ast.BoolOp) -> ir.Value:
        ty = self.type_of(node)
        is_and = isinstance(node.op, ast.And)
        end = self.func.append_basic_block("boolop.end")
        incoming: list[tuple[ir.Value, ir.Block]] = []
        for value_node in node.values[:-1]:
            value = arith.cast(self, self.expr(value_node), self.type_of(value_node), ty)
            truth = arith.truth(self, value, ty)
            nxt = self.func.append_basic_block("boolop.next")
            incoming.append((value, self.builder.block))
            if is_and:
                self.builder.cbranch(truth, nxt, end)
            else:
                self.builder.cbranch(truth, end, nxt)
            self.builder.position_at_end(nxt)
        last = node.values[-1]
        value = arith.cast(self, self.expr(last), self.type_of(last), ty)
        incoming.append((value, self.builder.block))
        self.builder.branch(end)
        self.builder.position_at_end(end)
        phi = self.builder.phi(lt.value(ty))
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    def expr_Compare(self, node: ast.Compare) -> ir.Value:
        b = self.builder
        left = self.expr(node.left)
        lty = self.type_of(node.left)
        if len(node.ops) == 1:
            right = self.expr(node.comparators[0])
            return arith.compare(self, node.ops[0], left, lty, right,
                                 self.type_of(node.comparators[0]))
        end = self.func.append_basic_block("cmp.end")
        incoming: list[tuple[ir.Value, ir.Block]] = []
        for i, (op, comp) in enumerate(zip(node.ops, node.comparators, strict=True)):
            right = self.expr(comp)
            rty = self.type_of(comp)
            result = arith.compare(self, op, left, lty, right, rty)
            incoming.append((result, b.block))
            if i == len(node.ops) - 1:
                b.branch(end)
            else:
                nxt = self.func.append_basic_block("cmp.next")
                b.cbranch(result, nxt, end)
                b.position_at_end(nxt)
            left, lty = right, rty
        b.position_at_end(end)
        phi = b.phi(lt.i1)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    def expr_IfExp(self, node: ast.IfExp) -> ir.Value:
        ty = self.type_of(node)
        cond = self.condition(node.test)
        then = self.func.append_basic_block("ifexp.then")
        other = self.func.append_basic_block("ifexp.else")
        end = self.func.append_basic_block("ifexp.end")
        self.builder.cbranch(cond, then, other)
        self.builder.position_at_end(then)
        a = arith.cast(self, self.expr(node.body), self.type_of(node.body), ty)
        a_block = self.builder.block
        self.builder.branch(end)
        self.builder.position_at_end(other)
        c = arith.cast(self, self.expr(node.orelse), self.type_of(node.orelse), ty)
        c_block = self.builder.block
        self.builder.branch(end)
        self.builder.position_at_end(end)
        phi = self.builder.phi(lt.value(ty))
        phi.add_incoming(a, a_block)
        phi.add_incoming(c, c_block)
        return phi

    def expr_Tuple(self, node: ast.Tuple) -> ir.Value:
        ty = self.type_of(node)
        assert isinstance(ty, t.TupleType)
        out = ir.Constant(lt.value(ty), ir.Undefined)
        for i, (elt, ity) in enumerate(zip(node.elts, ty.items, strict=True)):
            value = arith.cast(self, self.expr(elt), self.type_of(elt), ity)
            out = self.builder.insert_value(out, value, i)
        return out

def lower_program(typed: TypedProgram, triple: str = "", data_layout: str = "",
                  runtime_symbol: str = "frostline.runtime"
                  ) -> tuple[ir.Module, list[RaisedError], Runtime]:
    """Lower every instance of a typed program into one LLVM module, with its runtime
    record exported as ``runtime_symbol``."""
    mod = ModuleLowerer(typed, typed.entry.symbol, triple, data_layout, runtime_symbol)
    with room_for(typed.closure.program.functions):
        module = mod.lower()
    return module, mod.errors, mod.runtime
