"""Arrays that never leave their statement's uses: small ones live on the stack.

``tmp = np.zeros(3)`` whose shape is made of integer literals, whose bytes fit
``STACK_LIMIT``, and whose variable is only ever read in place -- indexed,
sliced or reduced in the statement that uses it, its shape measured -- cannot
outlive the call: no other variable, tuple, callee or return ever holds it.
Such an array is a stack slot of its function (``backends.llvm.creation``): no
allocation, no reference count.  Everything else is a heap block.
"""

from __future__ import annotations

import ast

import numpy as np

from frostline import types as t
from frostline.stages.ast import BuiltinRef, FunctionAST
from frostline.stages.typed import NodeKey, node_key
from frostline.toolchain import creation
from frostline.toolchain.typing.rules import constant_index, dotted_name

#: The most bytes an array may have to live on the stack.
STACK_LIMIT = 1024
#: What a stack array may be made by: functions whose shape is an argument.
_SHAPED = ("numpy.empty", "numpy.zeros", "numpy.ones", "numpy.full")


def literal_shape(node: ast.expr | None) -> tuple[int, ...] | None:
    """A shape argument made of non-negative integer literals, else None."""
    if node is None:
        return None
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    dims = [constant_index(i) for i in items]
    if any(d is None or d < 0 for d in dims):
        return None
    return tuple(dims)  # type: ignore[arg-type]


def stack_arrays(fn: FunctionAST, types: dict) -> frozenset[NodeKey]:
    """The creation calls whose arrays live on the stack (see the module's docstring)."""
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(fn.tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    candidates: dict[str, list[ast.Call]] = {}
    assigned: dict[str, int] = {}
    in_place = {id(n.target) for n in ast.walk(fn.tree) if isinstance(n, ast.AugAssign)}
    for node in ast.walk(fn.tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and \
                id(node) not in in_place:  # a += b on an array writes it, keeps it
            assigned[node.id] = assigned.get(node.id, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and _small(node.value, fn, types):
            candidates.setdefault(node.targets[0].id, []).append(node.value)  # type: ignore
    chosen: set[NodeKey] = set()
    for name, calls in candidates.items():
        if name in fn.params or assigned.get(name) != len(calls) or len(calls) != 1:
            continue
        uses = [n for n in ast.walk(fn.tree) if isinstance(n, ast.Name) and n.id == name
                and (isinstance(n.ctx, ast.Load) or id(n) in in_place)]
        if all(_read_in_place(u, parents, types) for u in uses):
            chosen.add(node_key(calls[0]))
    return frozenset(chosen)


def _small(node: ast.expr, fn: FunctionAST, types: dict) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = dotted_name(node.func)
    ref = fn.lookup(name) if name and name.split(".")[0] not in fn.local_names else None
    if not (isinstance(ref, BuiltinRef) and ref.name in _SHAPED):
        return False
    bound = creation.bind(creation.CREATIONS[ref.name], node.args, node.keywords)
    if isinstance(bound, str):
        return False
    shape = literal_shape(bound.get("shape"))
    ty = types.get(node_key(node))
    if shape is None or not isinstance(ty, t.ArrayType):
        return False
    return int(np.prod(shape, dtype=np.int64)) * ty.dtype.itemsize <= STACK_LIMIT


def _read_in_place(use: ast.Name, parents: dict[int, ast.AST], types: dict) -> bool:
    """Whether a read of the variable cannot hand its array on: it is indexed to an
    element, measured, reduced, stored through, or an operand of array arithmetic (whose
    result is a new array, never the operand); a view of it (a slice, ``.T``) is followed
    to where it goes."""
    node: ast.AST = use
    while True:
        parent = parents.get(id(node))
        if parent is None:
            return False
        if isinstance(parent, ast.Attribute):
            if parent.attr == "T":
                node = parent  # a view
                continue
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and call.func is parent:
                # a method: reductions give scalars; copies and reshapes are not followed
                return not isinstance(types.get(node_key(call)), (t.ArrayType, t.TupleType))
            return parent.attr in ("shape", "size", "ndim", "dtype")
        if isinstance(parent, ast.Subscript) and parent.value is node:
            if not isinstance(types.get(node_key(parent)), t.ArrayType):
                return True  # one element
            node = parent  # a view: where does it go?
            continue
        if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)):
            return True  # computed element by element: the result is never the operand
        if isinstance(parent, ast.Call):
            name = dotted_name(parent.func)
            if name == "len":
                return True
            return name is not None and _computes(name) and node in parent.args
        if isinstance(parent, ast.Assign):
            return node in parent.targets and isinstance(node, ast.Subscript)
        if isinstance(parent, ast.AugAssign):
            return parent.target is node
        return False


def _computes(name: str) -> bool:
    """Whether a NumPy function of arrays gives a new array or a scalar, never a view
    of its argument (element-wise functions, reductions, scans, joins)."""
    head, _, short = name.partition(".")
    if head not in ("np", "numpy"):
        return False
    return short not in ("transpose", "ravel", "reshape", "flip")
