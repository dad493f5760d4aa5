"""Type rules of the kernel language: operators, constants, casts, call binding, annotations.

Pure functions of types and AST nodes, shared by the typing step (``program``,
``function``, ``calls``) and read by code generation for the same decisions
(argument binding, literal indices).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import numpy as np

from frostline import types as t
from frostline.errors import CompileError
from frostline.stages.ast import (  # noqa: F401 - constant_index is read from here too
    BuiltinRef,
    Constant,
    FunctionAST,
    TypeRef,
    constant_index,
    dotted_name,
)
from frostline.toolchain.library import CASTS


class Unknown:
    """The class of ``UNKNOWN``."""

    def __repr__(self) -> str:
        return "UNKNOWN"


#: The type of an expression that depends on a recursive call not typed yet.
UNKNOWN = Unknown()
MaybeType = t.Type | Unknown

#: How many rounds typing may take to reach its fixed point.
MAX_ROUNDS = 50

_OP_NAMES = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.MatMult: "@",
}


def op_symbol(op: ast.AST) -> str:
    """The source spelling of a binary operator."""
    return _OP_NAMES.get(type(op), type(op).__name__)


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
#: The most numbers a frozen tuple may hold: indexed at run time it becomes a constant
#: array, linear in its size; beyond this a global NumPy array is the right tool.
TUPLE_TABLE_LIMIT = 100_000
#: The most items of a frozen tuple used as a value (assigned, passed, returned): such a
#: value is an LLVM struct, whose optimization grows faster than linearly with its size.
TUPLE_VALUE_LIMIT = 1_000


def fits(value: int, ty: t.ScalarType) -> bool:
    if ty.is_signed:
        return -(1 << (ty.bits - 1)) <= value < (1 << (ty.bits - 1))
    return 0 <= value < (1 << ty.bits)


def flatten(value: tuple[object, ...]) -> Iterator[object]:
    """The numbers of a (nested) tuple, in order."""
    stack = [iter(value)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, tuple):
                stack.append(iter(item))
                break
            yield item
        else:
            stack.pop()


def constant_type(value: object) -> t.Type:
    """The type of a constant frozen from the source or from a global."""
    if value is None:
        return t.none
    if isinstance(value, (bool, np.bool_)):
        return t.bool_
    if isinstance(value, int):
        return t.weak_int
    if isinstance(value, float):
        return t.weak_float
    if isinstance(value, tuple):
        return t.TupleType(tuple(t.concrete(constant_type(v)) for v in value))
    return t.typeof(value)


def binop_type(op: ast.operator, left: t.Type, right: t.Type) -> t.Type | str:
    """The result type of ``left op right``, or an error message."""
    sym = op_symbol(op)
    if not (isinstance(left, (t.ScalarType, t.WeakType))
            and isinstance(right, (t.ScalarType, t.WeakType))):
        return f"unsupported operand types for {sym}: {left} and {right}" + (
            " (array arithmetic is not supported; loop over the elements)"
            if isinstance(left, t.ArrayType) or isinstance(right, t.ArrayType) else "")
    both_bool = left == t.bool_ and right == t.bool_
    if isinstance(op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
        if both_bool:
            return t.bool_
        if "f" in (left.kind, right.kind):
            return f"unsupported operand types for {sym}: {left} and {right}"
        return t.promote(left, right)
    if isinstance(op, (ast.LShift, ast.RShift)):
        if "f" in (left.kind, right.kind):
            return f"unsupported operand types for {sym}: {left} and {right}"
        if both_bool:
            return t.int64
        return t.promote(left, right) if left != t.bool_ else t.int64
    if isinstance(op, ast.MatMult):
        return "the @ operator is not supported"
    if both_bool:
        left = right = t.int64
    result = t.promote(left, right)
    if isinstance(op, ast.Div) and result.kind in "biu":
        return t.weak_float if isinstance(result, t.WeakType) else t.float64
    return result


def unary_type(op: ast.unaryop, operand: t.Type) -> t.Type | str:
    """The result type of a unary operation, or an error message."""
    if isinstance(op, ast.Not):
        if isinstance(operand, t.ArrayType):
            return "the truth value of an array is ambiguous"
        return t.bool_
    if not isinstance(operand, (t.ScalarType, t.WeakType)):
        return f"bad operand type for unary operator: {operand}"
    if isinstance(op, ast.Invert) and operand.kind == "f":
        return f"bad operand type for unary ~: {operand}"
    if operand == t.bool_:
        return t.int64
    return operand


def can_cast(src: t.Type, dst: t.Type) -> bool:
    """Whether a value of type src may be stored where dst is declared."""
    src = t.concrete(src)
    if isinstance(dst, t.ScalarType):
        return isinstance(src, t.ScalarType)
    if isinstance(dst, t.ArrayType):
        return isinstance(src, t.ArrayType) and t.accepts(dst, src)
    if isinstance(dst, t.TupleType):
        return isinstance(src, t.TupleType) and len(src.items) == len(dst.items) and all(
            can_cast(a, b) for a, b in zip(src.items, dst.items, strict=True))
    return src == dst


def bind_arguments(fn: FunctionAST, call: ast.Call) -> list[ast.expr | Constant] | str:
    """Map a call's positional and keyword arguments (and defaults) onto fn's parameters."""
    if len(call.args) > len(fn.params):
        return (f"{fn.name}() takes {len(fn.params)} positional arguments but "
                f"{len(call.args)} were given")
    bound: dict[str, ast.expr | Constant] = dict(zip(fn.params, call.args, strict=False))
    for kw in call.keywords:
        if kw.arg is None:
            return "**kwargs in calls is not supported"
        if kw.arg not in fn.params:
            return f"{fn.name}() got an unexpected keyword argument '{kw.arg}'"
        if kw.arg in bound:
            return f"{fn.name}() got multiple values for argument '{kw.arg}'"
        bound[kw.arg] = kw.value
    result: list[ast.expr | Constant] = []
    for p in fn.params:
        if p in bound:
            result.append(bound[p])
        elif fn.default(p) is not None:
            result.append(fn.default(p))  # type: ignore[arg-type]
        else:
            return f"{fn.name}() missing required argument '{p}'"
    return result


def annotation_type(fn: FunctionAST, node: ast.expr) -> t.Type | None:
    """The type an annotation names (``float``, ``fl.float32``, ``np.int8``), or None."""
    name = dotted_name(node)
    value = fn.lookup(name) if name else None
    if isinstance(value, TypeRef):
        return t.as_type(value.type_name)
    if isinstance(value, BuiltinRef) and value.name in CASTS:
        return CASTS[value.name]
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):
        base = annotation_type(fn, node.value)
        if isinstance(base, t.ScalarType):
            try:
                return base[_slice_spec(node.slice)]
            except ValueError:
                return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return t.as_type(node.value)
        except (ValueError, TypeError):
            return None
    return None


def _slice_spec(node: ast.expr) -> object:
    def one(n: ast.expr) -> slice:
        if isinstance(n, ast.Slice) and n.lower is None and n.upper is None:
            step = n.step.value if isinstance(n.step, ast.Constant) else None
            return slice(None, None, step)
        raise ValueError("not a dimension")
    if isinstance(node, ast.Tuple):
        return tuple(one(e) for e in node.elts)
    return one(node)



def located_error(fn: FunctionAST, node: ast.AST, message: str) -> CompileError:
    """A CompileError at ``node`` of ``fn``: file, line, column and source line."""
    lineno, col, line = fn.position(node)
    return CompileError(message, fn.filename, lineno, col, line)
