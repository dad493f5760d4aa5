"""Fusion across statements: an array expression stored in a variable that the next
statement uses once is computed there, inside that statement's loop nest.

``t = a * b`` followed by ``out[:] = t + c`` then runs as ``out[:] = a * b + c``:
one loop, no array for ``t``.  It is the same program when nothing can happen
between the two: the variable is assigned once and read once in the whole
function, and the reading statement is the very next one, a simple statement
that calls no function of the program and does not read the variable under a
condition (``x if c else t``, ``c and t``), so the expression is computed
exactly once, at the same point, with the same operands, and raises what it
would have raised.  Code generation (``codegen.stmt_Assign``) reads the plan.
"""

from __future__ import annotations

import ast
from collections import Counter

from frostline.stages.ast import FunctionAST, FunctionRef
from frostline.stages.typed import NodeKey, node_key
from frostline.toolchain.typing.arrays import elementwise
from frostline.toolchain.typing.rules import dotted_name

_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


def fused_assignments(fn: FunctionAST, types: dict) -> frozenset[NodeKey]:
    """The assignments whose value is computed in the next statement instead."""
    stores: Counter[str] = Counter()
    loads: Counter[str] = Counter()
    for node in ast.walk(fn.tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores)[node.id] += 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loads[node.target.id] += 1
    fused: set[NodeKey] = set()
    for body in _statement_lists(fn.tree):
        for stmt, following in zip(body, body[1:], strict=False):
            name = _fusable_target(stmt, fn, types)
            if name is None or name in fn.params or stores[name] != 1 or loads[name] != 1:
                continue
            if _reads_once_unconditionally(following, name, fn):
                fused.add(node_key(stmt))
    return frozenset(fused)


def _statement_lists(tree: ast.AST) -> list[list[ast.stmt]]:
    lists = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                lists.append(value)
    return lists


def _fusable_target(stmt: ast.stmt, fn: FunctionAST, types: dict) -> str | None:
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)):
        return None
    if not elementwise(stmt.value, types, fn):
        return None
    return stmt.targets[0].id


def _reads_once_unconditionally(stmt: ast.stmt, name: str, fn: FunctionAST) -> bool:
    if not isinstance(stmt, _SIMPLE):
        return False
    found = False
    stack: list[tuple[ast.AST, bool]] = [(stmt, False)]
    while stack:
        node, conditional = stack.pop()
        if isinstance(node, ast.Call):
            callee = dotted_name(node.func)
            if callee is None or isinstance(fn.lookup(callee), FunctionRef):
                return False  # a call that may run code of the program
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            if conditional:
                return False
            found = True
        branchy = isinstance(node, (ast.IfExp, ast.BoolOp))
        for child in ast.iter_child_nodes(node):
            stack.append((child, conditional or branchy))
    return found
