"""Typing one function instance: its statements and expressions.

Local variables take the unified type of everything assigned to them, found
by iterating over the body to a fixed point.  Calls are typed in ``calls``,
literals, frozen globals and constant expressions in ``constants``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from frostline import types as t
from frostline.stages.ast import (
    BuiltinRef,
    ExceptionRef,
    FunctionAST,
    Unsupported,
)
from frostline.stages.typed import node_key
from frostline.toolchain import prange
from frostline.toolchain.typing.arrays import METHODS, ArrayTyping
from frostline.toolchain.typing.calls import CallTyping
from frostline.toolchain.typing.constants import ConstantTyping
from frostline.toolchain.typing.creation import CreationTyping
from frostline.toolchain.typing.rules import (
    INT64_MIN,
    MAX_ROUNDS,
    UNKNOWN,
    MaybeType,
    Unknown,
    annotation_type,
    binop_type,
    can_cast,
    constant_index,
    dotted_name,
    fits,
    located_error,
    unary_type,
)

if TYPE_CHECKING:
    from frostline.toolchain.typing.program import ProgramTyper, _Instance

#: The iterables of counting loops, and their names in messages.
RANGES = {"builtins.range": "range", prange.NAME: "prange"}


_UNSUPPORTED_STATEMENTS = {
    ast.FunctionDef: "nested function definitions", ast.AsyncFunctionDef: "async functions",
    ast.ClassDef: "class definitions", ast.With: "'with' statements",
    ast.Try: "'try' statements", ast.Import: "imports", ast.ImportFrom: "imports",
    ast.Global: "'global' statements", ast.Nonlocal: "'nonlocal' statements",
    ast.Delete: "'del' statements", ast.AsyncFor: "'async for' loops",
    ast.AsyncWith: "'async with' statements", ast.Match: "'match' statements",
}
_UNSUPPORTED_EXPRESSIONS = {
    ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets", ast.ListComp: "list comprehensions",
    ast.SetComp: "set comprehensions", ast.DictComp: "dict comprehensions",
    ast.GeneratorExp: "generator expressions", ast.Lambda: "lambda functions",
    ast.JoinedStr: "f-strings", ast.Starred: "starred expressions",
    ast.Await: "await expressions", ast.Yield: "yield expressions",
    ast.YieldFrom: "yield expressions", ast.NamedExpr: "assignment expressions",
    ast.Slice: "slices",
}

class FunctionTyper(CallTyping, ConstantTyping, ArrayTyping, CreationTyping):
    """Types one function instance: locals to a fixed point, then expressions and returns."""

    def __init__(self, program: ProgramTyper, fn: FunctionAST, inst: _Instance):
        self.program = program
        self.fn = fn
        self.inst = inst
        self.params = set(fn.params)
        self.env: dict[str, t.Type] = dict(zip(fn.params, inst.arg_types, strict=True))
        self.declared: dict[str, t.Type] = {}
        self.loop_depth = 0
        #: > 0 while typing the operands of a folded constant expression.
        self.folding = 0
        #: The expression being indexed or measured (``T`` in ``T[i]``, ``len(T)``):
        #: a large frozen tuple may be used so, but not as a value.
        self.indexed: ast.AST | None = None

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise located_error(self.fn, node, message)

    def unsupported(self, node: ast.AST, value: Unsupported) -> NoReturn:
        name = dotted_name(node)
        if value.library.startswith(("numpy.", "scipy.")):
            self.fail(node, f"'{name}' ({value.library}) is not in the NumPy subset kernels "
                      "support: they have NumPy's ufuncs and math functions, np.where, "
                      "np.clip, the reductions (np.sum, np.mean, ...), array creation "
                      "(np.zeros, np.arange, np.eye, ...), np.concatenate, np.stack and "
                      "the other functions docs/language.md lists")
        if value.library:
            self.fail(node, f"'{name}' is {value.library}, a function of the standard "
                      "library or an installed package, which kernels do not compile; "
                      "call it outside the kernel")
        self.fail(node, f"'{name}' refers to a {value.type_name}, which kernels cannot use "
                  "(they use numbers, tuples, arrays, the math and NumPy functions "
                  "docs/language.md lists, and Python functions of your own)")

    def run(self) -> None:
        for _ in range(MAX_ROUNDS):
            snapshot = dict(self.env)
            self.exprs: dict = {}
            self.constants: dict = {}
            self.calls: dict = {}
            self.returns: list[t.Type] = []
            self.value_returns = 0
            self.unknown: list[ast.AST] = []
            self.block(self.fn.tree.body)
            if self.env == snapshot:
                break
        else:
            self.fail(self.fn.tree, "the types of the local variables do not settle")
        ret: MaybeType = UNKNOWN
        for r in self.returns:
            if isinstance(ret, Unknown):
                ret = r
                continue
            unified = _unify_return(ret, r)
            if unified is None:
                self.fail(self.fn.tree, f"{self.fn.name}() returns values of incompatible "
                          f"types {t.concrete(ret)} and {t.concrete(r)}")
            ret = unified
        if not self.value_returns:
            ret = t.none
        if not isinstance(ret, (Unknown, t.NoneType)) and _may_fall_through(self.fn.tree.body):
            self.fail(self.fn.tree, f"{self.fn.name}() returns a value on some paths but can "
                      "reach its end, where Python returns None; end it with a return")
        if isinstance(ret, t.DTypeType):
            self.fail(self.fn.tree, f"{self.fn.name}() returns a dtype, which Python code "
                      "cannot receive from a kernel; return an array or a number")
        self.inst.return_type = ret
        # Parameters appear here too when assignments widen them (n = n / 2 makes an
        # int64 parameter a float64 variable, as in Python).
        args = dict(zip(self.fn.params, self.inst.arg_types, strict=True))
        self.inst.locals = {k: v for k, v in self.env.items() if args.get(k) != v}
        self.inst.exprs = self.exprs
        self.inst.constants = self.constants
        self.inst.calls = self.calls
        self.inst.unknown_nodes = self.unknown

    # --- statements -------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        self.rule(node, "stmt", _UNSUPPORTED_STATEMENTS)(node)

    def rule(self, node: ast.AST, prefix: str,
             unsupported: dict[type, str]) -> Callable[[Any], Any]:
        """The method that types ``node`` (``stmt_If``, ``expr_Call``), or a CompileError
        for a construct outside the language."""
        kind = type(node)
        if kind in unsupported:
            self.fail(node, f"{unsupported[kind]} are not supported in kernels")
        method = getattr(self, f"{prefix}_{kind.__name__}", None)
        if method is None:
            what = "statements" if prefix == "stmt" else "expressions"
            self.fail(node, f"'{kind.__name__}' {what} are not supported in kernels")
        return method  # type: ignore[no-any-return]

    def stmt_Pass(self, node: ast.Pass) -> None:
        pass

    def stmt_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string: no effect
        self.expr(node.value)

    def stmt_Assign(self, node: ast.Assign) -> None:
        value = self.expr(node.value)
        for target in node.targets:
            self.assign(target, value, node.value)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if not isinstance(node.target, ast.Name):
            self.fail(node.target, "annotations are only supported on plain names")
        declared = annotation_type(self.fn, node.annotation)
        if declared is None:
            self.fail(node.annotation, "unknown type in annotation (use float, int, bool, "
                      "fl.float32, np.int8, ...)")
        name = node.target.id
        if name in self.params:
            self.fail(node.target, f"cannot re-declare the type of parameter '{name}'")
        previous = self.declared.get(name)
        if previous is not None and previous != declared:
            self.fail(node, f"'{name}' was declared {previous} before")
        self.declared[name] = declared
        self.env[name] = declared
        if node.value is not None:
            value = self.expr(node.value)
            self.assign(node.target, value, node.value)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name):
            current = self.load_name(target)
        elif isinstance(target, ast.Subscript):
            current = self.subscript(target, store=True)
        else:
            self.fail(target, "augmented assignment needs a name or an array element")
        value = self.expr(node.value)
        if isinstance(current, Unknown) or isinstance(value, Unknown):
            self.unknown.append(node)
            return
        if isinstance(current, t.ArrayType):  # in place, through the array: a += b
            result = self.in_place_type(node, current, value)
            self.exprs[node_key(node)] = result
            self.exprs[node_key(target)] = current
            return
        result = binop_type(node.op, current, value)
        if isinstance(result, str):
            self.fail(node, result)
        self.literals_fit(node, [(node.value, value), (target, current)])
        self.exprs[node_key(node)] = result
        if isinstance(target, ast.Name):
            self.assign(target, result, node)
        else:
            self.exprs[node_key(target)] = current

    def stmt_If(self, node: ast.If) -> None:
        self.condition(node.test)
        self.block(node.body)
        self.block(node.orelse)

    def stmt_While(self, node: ast.While) -> None:
        self.condition(node.test)
        self.loop_body(node.body)
        self.block(node.orelse)

    def stmt_For(self, node: ast.For) -> None:
        it = node.iter
        name = dotted_name(it.func) if isinstance(it, ast.Call) else None
        ref = self.fn.lookup(name) if name and not self.is_local(name) else None
        if not (isinstance(ref, BuiltinRef) and ref.name in RANGES):
            self.array_loop(node)
            return
        assert isinstance(it, ast.Call)
        what = RANGES[ref.name]
        if it.keywords or not 1 <= len(it.args) <= 3:
            self.fail(it, f"{what}() takes 1 to 3 positional arguments")
        for arg in it.args:
            at = self.expr(arg)
            if not isinstance(at, Unknown) and not (
                    isinstance(at, (t.ScalarType, t.WeakType)) and at.kind in "iub"):
                self.fail(arg, f"{what}() arguments must be integers, not {at}")
        if ref.name == prange.NAME:
            prange.analyse(self.fn, node)  # independent iterations, or a CompileError
        if not isinstance(node.target, ast.Name):
            self.fail(node.target, "the loop variable must be a plain name")
        self.exprs[node_key(it)] = t.int64
        self.assign(node.target, t.int64, node.target)
        self.loop_body(node.body)
        self.block(node.orelse)

    def array_loop(self, node: ast.For) -> None:
        """``for row in m`` / ``for x in a``: over the first axis."""
        it = self.expr(node.iter)
        if not isinstance(it, (t.ArrayType, Unknown)):
            self.fail(node.iter, f"for loops iterate over range(...) or an array, not {it}")
        if not isinstance(node.target, ast.Name):
            self.fail(node.target, "the loop variable must be a plain name")
        if isinstance(it, t.ArrayType):
            if it.ndim == 0:
                self.fail(node.iter, "iteration over a 0-d array")
            item = it.dtype if it.ndim == 1 else t.ArrayType(
                it.dtype, it.ndim - 1, "C" if it.layout == "C" else "A")
            self.assign(node.target, item, node.target)
        self.loop_body(node.body)
        self.block(node.orelse)

    def loop_body(self, body: list[ast.stmt]) -> None:
        self.loop_depth += 1
        self.block(body)
        self.loop_depth -= 1

    def stmt_Break(self, node: ast.Break) -> None:
        if not self.loop_depth:
            self.fail(node, "'break' outside a loop")

    def stmt_Continue(self, node: ast.Continue) -> None:
        if not self.loop_depth:
            self.fail(node, "'continue' outside a loop")

    def stmt_Return(self, node: ast.Return) -> None:
        if node.value is None:
            self.returns.append(t.none)
            return
        value = self.expr(node.value)
        self.value_returns += 1
        if not isinstance(value, Unknown):  # else other returns decide it, or a later round
            self.returns.append(value)

    def stmt_Raise(self, node: ast.Raise) -> None:
        if node.exc is None:
            self.fail(node, "bare 'raise' is not supported; raise an exception class")
        if node.cause is not None:
            self.fail(node, "'raise ... from ...' is not supported")
        self.exception(node.exc)

    def exception(self, exc: ast.expr) -> tuple[ExceptionRef, str]:
        """The exception class and constant message of a raise."""
        func = exc.func if isinstance(exc, ast.Call) else exc
        name = dotted_name(func)
        ref = self.fn.lookup(name) if name and not self.is_local(name) else None
        if not isinstance(ref, ExceptionRef):
            self.fail(exc, "raise needs an exception class, e.g. raise ValueError('message')")
        message = ""
        if isinstance(exc, ast.Call):
            if exc.keywords or len(exc.args) > 1:
                self.fail(exc, "exceptions take at most one argument, a string literal")
            if exc.args:
                arg = exc.args[0]
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    self.fail(arg, "exception messages must be string literals")
                message = arg.value
        return ref, message

    def stmt_Assert(self, node: ast.Assert) -> None:
        self.condition(node.test)
        if node.msg is not None and not (isinstance(node.msg, ast.Constant)
                                         and isinstance(node.msg.value, str)):
            self.fail(node.msg, "assert messages must be string literals")

    # --- assignment -------------------------------------------------------------------

    def is_local(self, name: str) -> bool:
        """Whether a (dotted) name starts at a parameter or local variable."""
        return name.split(".")[0] in self.fn.local_names

    def assign(self, target: ast.expr, value: MaybeType, value_node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, Unknown):
                return
            self.assign_name(target, value, value_node)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Unknown):
                for elt in target.elts:
                    self.assign(elt, UNKNOWN, value_node)
                return
            if not isinstance(value, t.TupleType):
                self.fail(value_node, f"cannot unpack a value of type {value}")
            if len(value.items) != len(target.elts):
                self.fail(value_node, f"cannot unpack {len(value.items)} values into "
                          f"{len(target.elts)} names")
            literal = isinstance(value_node, ast.Tuple) and len(value_node.elts) == len(
                target.elts)
            for k, (elt, item) in enumerate(zip(target.elts, value.items, strict=True)):
                self.assign(elt, item, value_node.elts[k] if literal else value_node)
            self.exprs[node_key(target)] = value
        elif isinstance(target, ast.Subscript):
            element = self.subscript(target, store=True)
            if not isinstance(element, Unknown):
                self.exprs[node_key(target)] = element
            if isinstance(element, t.ArrayType):
                self.store_through_view(target, element, value, value_node)
                return
            if isinstance(element, Unknown) or isinstance(value, Unknown):
                return
            if not can_cast(value, element):
                self.fail(value_node, f"cannot store a {value} in an array of {element}")
            if isinstance(value_node, ast.expr):
                self.literals_fit(value_node, [(value_node, value), (target, element)])
        else:
            self.fail(target, "can only assign to names, tuples of names and array elements")

    def assign_name(self, target: ast.Name, value: t.Type, value_node: ast.AST) -> None:
        name = target.id
        if isinstance(value, t.NoneType):
            self.fail(value_node, "None cannot be assigned to a variable")
        if name in self.declared:
            if not can_cast(value, self.declared[name]):
                self.fail(value_node, f"cannot assign a {value} to '{name}', declared "
                          f"{self.declared[name]}")
            return
        current = self.env.get(name)
        unified = t.concrete(value) if current is None else t.unify(current, value)
        if unified is None:
            self.fail(value_node, f"variable '{name}' is assigned values of incompatible "
                      f"types {current} and {t.concrete(value)}")
        self.env[name] = unified

    def condition(self, node: ast.expr) -> None:
        kind = self.expr(node)
        if isinstance(kind, t.ArrayType):
            self.fail(node, "the truth value of an array is ambiguous")
        if isinstance(kind, t.NoneType):
            self.fail(node, "None has no truth value in kernels")

    # --- expressions ------------------------------------------------------------------

    def expr(self, node: ast.expr) -> MaybeType:
        kind = type(node)
        method = self.rule(node, "expr", _UNSUPPORTED_EXPRESSIONS)
        if kind in (ast.BinOp, ast.UnaryOp) and not self.folding:
            result = self.constant_expression(node, method)
        else:
            result = method(node)
        if isinstance(result, Unknown):
            self.unknown.append(node)
        else:
            self.exprs[node_key(node)] = result
        return result  # type: ignore[no-any-return]

    def load_name(self, node: ast.Name) -> MaybeType:
        name = node.id
        if name in self.fn.local_names:
            return self.env.get(name, UNKNOWN)  # UNKNOWN: no assignment typed yet
        value = self.fn.lookup(name)
        if value is None:
            self.fail(node, f"name '{name}' is not defined")
        return self.global_type(node, value)

    def expr_Name(self, node: ast.Name) -> MaybeType:
        return self.load_name(node)

    def expr_Attribute(self, node: ast.Attribute) -> MaybeType:
        dotted = dotted_name(node)
        if dotted is not None and not self.is_local(dotted):
            value = self.fn.lookup(dotted)
            if value is not None:
                return self.global_type(node, value)
        base = self.expr(node.value)
        if isinstance(base, Unknown):
            return UNKNOWN
        if isinstance(base, t.ArrayType):
            if node.attr == "shape":
                return t.TupleType((t.int64,) * base.ndim)
            if node.attr in ("ndim", "size"):
                return t.int64
            if node.attr == "T":
                return self.transposed(node, base, None)
            if node.attr == "dtype":
                return t.DTypeType(base.dtype)
            self.fail(node, f"arrays have no attribute '{node.attr}' in kernels (they have "
                      "shape, ndim, size, dtype and T, and the methods "
                      f"{', '.join(m for m in METHODS if m != 'T')})")
        self.fail(node, f"{base} has no attribute '{node.attr}' in kernels")

    def expr_Subscript(self, node: ast.Subscript) -> MaybeType:
        return self.subscript(node, store=False)

    def subscript(self, node: ast.Subscript, store: bool) -> MaybeType:
        self.indexed = node.value
        base = self.expr(node.value)
        if isinstance(base, t.TupleType):
            if store:
                self.fail(node, "tuples are immutable")
            k = constant_index(node.slice)
            if k is None:
                index = self.expr(node.slice)
                if not isinstance(index, (Unknown, t.ScalarType, t.WeakType)) or \
                        index.kind not in "iu":  # type: ignore[union-attr]
                    self.fail(node.slice, f"tuple indices must be integers, not {index}")
                if len(set(base.items)) != 1:
                    self.fail(node.slice, "tuples of mixed types can only be indexed with "
                              "integer literals")
                return base.items[0]
            if not -len(base.items) <= k < len(base.items):
                self.fail(node.slice, "tuple index out of range")
            return base.items[k]
        return self.array_subscript(node, base, store)

    def expr_BinOp(self, node: ast.BinOp) -> MaybeType:
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(left, t.ArrayType) or isinstance(right, t.ArrayType):
            return self.array_binop(node, left, right)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return UNKNOWN
        result = binop_type(node.op, left, right)
        if isinstance(result, str):
            self.fail(node, result)
        self.literals_fit(node, [(node.left, left), (node.right, right)])
        return result

    def expr_UnaryOp(self, node: ast.UnaryOp) -> MaybeType:
        if isinstance(node.op, ast.USub) and constant_index(node) == INT64_MIN:
            self.exprs[node_key(node.operand)] = t.weak_int  # -9223372036854775808 fits
            return t.weak_int
        operand = self.expr(node.operand)
        if isinstance(operand, t.ArrayType):
            return self.array_unary(node, operand)
        if isinstance(operand, Unknown):
            return UNKNOWN
        result = unary_type(node.op, operand)
        if isinstance(result, str):
            self.fail(node, result)
        return result

    def expr_BoolOp(self, node: ast.BoolOp) -> MaybeType:
        types = [self.expr(v) for v in node.values]
        for v, vt in zip(node.values, types, strict=True):
            if isinstance(vt, (t.ArrayType, t.TupleType, t.NoneType)):
                self.fail(v, f"'and'/'or' operands must be scalars, not {vt}")
        if any(isinstance(x, Unknown) for x in types):
            return UNKNOWN
        result: t.Type = types[0]  # type: ignore[assignment]
        for x in types[1:]:
            if result == x:
                continue
            unified = t.unify(result, x)  # type: ignore[arg-type]
            assert unified is not None
            result = unified
        return result

    def expr_Compare(self, node: ast.Compare) -> MaybeType:
        operands = [self.expr(node.left)] + [self.expr(c) for c in node.comparators]
        if any(isinstance(x, t.ArrayType) for x in operands):
            return self.array_compare(node, operands)
        for op in node.ops:
            if isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)):
                self.fail(node, "'is' and 'in' comparisons are not supported in kernels")
        nodes = [node.left, *node.comparators]
        for x, n in zip(operands, nodes, strict=True):
            if not isinstance(x, (Unknown, t.ScalarType, t.WeakType)):
                self.fail(n, f"only scalars can be compared, not {x}")
        # A literal outside a narrow integer type compares exactly, as in NumPy 2:
        # uint8 250 < 300 is True, so 300 is compared as int64, not wrapped to uint8.
        for i in range(len(nodes) - 1):
            for a, b in ((i, i + 1), (i + 1, i)):
                value = self.literal_int(nodes[a])
                other = operands[b]
                if value is not None and operands[a] == t.weak_int and \
                        isinstance(other, t.ScalarType) and other.is_int and \
                        not fits(value, other):
                    self.exprs[node_key(nodes[a])] = t.int64
        return t.bool_

    def expr_IfExp(self, node: ast.IfExp) -> MaybeType:
        self.condition(node.test)
        a, b = self.expr(node.body), self.expr(node.orelse)
        if isinstance(a, Unknown):
            return b
        if isinstance(b, Unknown):
            return a
        if a == b:
            return a
        unified = t.unify(a, b)
        if unified is None:
            self.fail(node, f"the branches of a conditional expression have incompatible "
                      f"types {a} and {b}")
        return unified

    def expr_Tuple(self, node: ast.Tuple) -> MaybeType:
        items = [self.expr(e) for e in node.elts]
        if any(isinstance(i, Unknown) for i in items):
            return UNKNOWN
        for e, i in zip(node.elts, items, strict=True):
            if isinstance(i, t.NoneType):
                self.fail(e, "tuples cannot hold None")
        return t.TupleType(tuple(t.concrete(i) for i in items))  # type: ignore[arg-type]


def _unify_return(a: t.Type, b: t.Type) -> t.Type | None:
    if isinstance(a, t.NoneType) or isinstance(b, t.NoneType):
        return a if a == b else None
    return t.unify(a, b)


def _may_fall_through(body: list[ast.stmt]) -> bool:
    """Whether control can reach the end of a statement list (conservatively yes)."""
    return all(_stmt_may_fall_through(s) for s in body)


def _stmt_may_fall_through(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Return, ast.Raise)):
        return False
    if isinstance(stmt, ast.If):
        return _may_fall_through(stmt.body) or _may_fall_through(stmt.orelse)
    if isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant) \
            and bool(stmt.test.value):
        return any(isinstance(n, ast.Break) for n in _walk_loop_body(stmt.body))
    return True


def _walk_loop_body(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes of a loop body, not descending into nested loops (their breaks are theirs)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.For, ast.While)):
            stack.extend(ast.iter_child_nodes(node))
        else:
            stack.extend(node.orelse)
