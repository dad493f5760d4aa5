"""Typing constants: literals, frozen globals, and constant expressions.

A constant expression (operators over literals and global numbers) is evaluated
exactly (``folding``) and its value recorded; an integer outside int64 is a
CompileError, as a literal of that size is.  A frozen tuple is a constant table
with bounds of its own (``check_tuple``).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from frostline import types as t
from frostline.stages.ast import (
    ArrayConstant,
    BuiltinRef,
    Constant,
    GlobalValue,
    TypeRef,
    Unsupported,
)
from frostline.stages.typed import node_key
from frostline.toolchain.library import CASTS
from frostline.toolchain.typing.folding import TooLarge, fold
from frostline.toolchain.typing.rules import (
    INT64_MAX,
    INT64_MIN,
    TUPLE_TABLE_LIMIT,
    TUPLE_VALUE_LIMIT,
    MaybeType,
    constant_index,
    constant_type,
    dotted_name,
    fits,
    flatten,
)

if TYPE_CHECKING:
    from frostline.toolchain.typing.function import FunctionTyper


def dtype_of_global(value: GlobalValue) -> t.ScalarType | None:
    """The dtype a global names (``np.float32``, ``fl.int8``, ``float``), else None."""
    if isinstance(value, BuiltinRef) and value.name in CASTS:
        return CASTS[value.name]
    if isinstance(value, TypeRef):
        scalar = t.as_type(value.type_name)
        return scalar if isinstance(scalar, t.ScalarType) else None
    return None


class ConstantTyping:
    """Methods of ``FunctionTyper`` (``function``) kept in their own module."""

    def expr_Constant(self: FunctionTyper, node: ast.Constant) -> MaybeType:
        if isinstance(node.value, str):
            self.fail(node, "strings are not supported in kernels (except as exception "
                      "messages)")
        if isinstance(node.value, (complex, bytes)) or node.value is Ellipsis:
            self.fail(node, f"{type(node.value).__name__} values are not supported")
        self.check_int64(node, node.value)
        return constant_type(node.value)

    def constant_expression(self: FunctionTyper, node: ast.expr,
                            method: Callable[[ast.expr], MaybeType]) -> MaybeType:
        """Type ``node``; when it is a constant expression, record its exact value too."""
        try:
            folded = fold(self.fn, node)
        except TooLarge:
            self.fail(node, "integer constant expression does not fit in int64 (its value "
                      "has more than 4096 bits)")
        if folded is None:
            return method(node)
        self.folding += 1
        try:
            result = method(node)
        finally:
            self.folding -= 1
        value = folded[0]
        if isinstance(result, (t.ScalarType, t.WeakType)) and t.concrete(result).kind in "iu":
            text = ast.unparse(node)
            shown = text if len(text) <= 60 else text[:57] + "..."
            self.check_int64(node, value, f"integer constant expression {shown} =")
        self.constants[node_key(node)] = value
        return result

    def check_int64(self: FunctionTyper, node: ast.AST, value: object,
                    what: str = "integer literal") -> None:
        if self.folding:
            return  # an operand of a constant expression: only its value must fit
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            self.fail(node, f"{what} {value} does not fit in int64")

    def check_tuple(self: FunctionTyper, node: ast.AST, value: tuple[object, ...]) -> None:
        """A frozen tuple is a constant table: its ints fit int64, its size is bounded, and
        a long one is only indexed or measured (the code for a tuple value grows with it)."""
        name = dotted_name(node)
        numbers = list(flatten(value))
        if len(numbers) > TUPLE_TABLE_LIMIT:
            self.fail(node, f"'{name}' is a tuple of {len(numbers):,} numbers, more than the "
                      f"{TUPLE_TABLE_LIMIT:,} a kernel takes as a constant; make it a NumPy "
                      "array (a global array is read in place)")
        if len(value) > TUPLE_VALUE_LIMIT and node is not self.indexed:
            self.fail(node, f"'{name}' is a tuple of {len(value):,} items, more than the "
                      f"{TUPLE_VALUE_LIMIT:,} a kernel holds as a value; index it "
                      f"({name}[i]) where it is used, or make it a NumPy array")
        for number in numbers:
            if type(number) is int and not INT64_MIN <= number <= INT64_MAX:
                self.fail(node, f"'{name}' holds the integer {number}, which does not fit "
                          "in int64")

    def literal_int(self: FunctionTyper, node: ast.expr) -> int | None:
        """The value of an int literal, global Python int or integer constant expression
        operand, else None."""
        folded = self.constants.get(node_key(node))
        if type(folded) is int:
            return folded
        value = constant_index(node)
        if value is None:
            name = dotted_name(node)
            ref = self.fn.lookup(name) if name and not self.is_local(name) else None
            if isinstance(ref, Constant) and type(ref.value) is int:
                value = ref.value
        return value

    def literals_fit(self: FunctionTyper, node: ast.AST,
                     operands: list[tuple[ast.expr, MaybeType]]) -> None:
        """An int literal meeting a narrower integer must fit it (NumPy raises otherwise)."""
        if self.folding:
            return  # an operand of a constant expression: only its exact value must fit
        for (a, at), (_, bt) in itertools.permutations(operands, 2):
            value = self.literal_int(a)
            if value is not None and at == t.weak_int and isinstance(bt, t.ScalarType) \
                    and bt.is_int and not fits(value, bt):
                self.fail(node, f"integer literal {value} is out of range for {bt} (NumPy "
                          "raises OverflowError here)")

    def global_type(self: FunctionTyper, node: ast.AST, value: GlobalValue) -> t.Type:
        if isinstance(value, Constant):
            if isinstance(value.value, tuple):
                self.check_tuple(node, value.value)
            else:
                self.check_int64(node, value.value, f"'{dotted_name(node)}' =")
            return constant_type(value.value)
        if isinstance(value, ArrayConstant):
            scalar = t.scalar_from_dtype(np.dtype(value.dtype))
            assert scalar is not None
            return t.ArrayType(scalar, len(value.shape), "C")
        if isinstance(value, Unsupported):
            self.unsupported(node, value)
        dtype = dtype_of_global(value)
        if dtype is not None:  # np.float32, fl.int8, float as a value: a dtype
            return t.DTypeType(dtype)
        self.fail(node, f"'{dotted_name(node)}' is a {value.describe()}, not a value")
