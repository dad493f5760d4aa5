"""Typing the functions that make new arrays (``toolchain.creation``) and dtypes as values."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from frostline import types as t
from frostline.toolchain import creation
from frostline.toolchain.typing.arrays import element_type
from frostline.toolchain.typing.rules import UNKNOWN, MaybeType, Unknown

if TYPE_CHECKING:
    from frostline.toolchain.typing.function import FunctionTyper

_DTYPE_HELP = ("a dtype is a NumPy or frostline type (np.float32, fl.int8), float, int or "
               "bool, a string ('float32'), or an array's .dtype")


class CreationTyping:
    """The creation rules of ``FunctionTyper`` (a mixin)."""

    def creation_call(self: FunctionTyper, node: ast.Call, name: str) -> MaybeType:
        spec = creation.CREATIONS[name]
        short = f"np.{spec.name}()"
        bound = creation.bind(spec, node.args, node.keywords)
        if isinstance(bound, str):
            self.fail(node, bound)
        for kw in node.keywords:
            if kw.arg in creation.DEFAULTS_ONLY:
                value = kw.value.value if isinstance(kw.value, ast.Constant) else kw
                if value != creation.DEFAULTS_ONLY[kw.arg]:
                    self.fail(kw.value, f"{short} makes C-contiguous arrays in kernels: "
                              f"{kw.arg}= takes only its default")
        types = {p: self.expr(v) for p, v in bound.items() if p != "dtype"}
        if any(isinstance(x, Unknown) for x in types.values()):
            return UNKNOWN
        dtype = self.dtype_argument(bound.get("dtype"))
        ndim, layout = 1, "C"
        if spec.shape == "shape":
            ndim = self.shape_rank(bound["shape"], types["shape"], short)
        elif spec.shape == "like":
            proto = types["prototype"]
            if not isinstance(proto, t.ArrayType):
                self.fail(bound["prototype"], f"{short} takes an array, not {proto}")
            ndim = proto.ndim
            layout = "F" if proto.layout == "F" and ndim > 1 else "C"
        elif spec.shape == "eye":
            ndim = 2
        for p, x in types.items():
            if p in ("shape", "prototype"):
                continue
            if not isinstance(x, (t.ScalarType, t.WeakType)):
                self.fail(bound[p], f"{short} argument '{p}' must be a number, not {x}")
            if p in ("num", "N", "M", "k", "n") and x.kind not in "iub":
                self.fail(bound[p], f"{short} argument '{p}' must be an integer, not {x}")
        if dtype is None:
            dtype = self.default_dtype(spec, types)
        return t.ArrayType(dtype, ndim, layout)

    def default_dtype(self: FunctionTyper, spec: creation.Creation,
                      types: dict[str, MaybeType]) -> t.ScalarType:
        if spec.dtype == "fill":
            return t.concrete(types["fill_value"])  # type: ignore[return-value]
        if spec.dtype == "like":
            return element_type(types["prototype"])  # type: ignore[return-value]
        if spec.dtype == "arange":
            numbers = [x for p, x in types.items() if p in ("start", "stop", "step")]
            floats = any(x.kind == "f" for x in numbers)  # type: ignore[union-attr]
            return t.float64 if floats else t.int64
        return t.float64

    def shape_rank(self: FunctionTyper, node: ast.expr, ty: MaybeType, short: str) -> int:
        """The rank a shape argument gives: an integer, or a tuple of integers."""
        if isinstance(ty, (t.ScalarType, t.WeakType)) and ty.kind in "iu":
            return 1
        if isinstance(ty, t.TupleType) and all(
                isinstance(i, t.ScalarType) and i.kind in "iu" for i in ty.items):
            return len(ty.items)
        self.fail(node, f"{short} takes a shape: an integer or a tuple of integers, not {ty}")

    def dtype_argument(self: FunctionTyper, node: ast.expr | None) -> t.ScalarType | None:
        """The dtype a ``dtype=`` argument names; None for None or no argument."""
        if node is None or (isinstance(node, ast.Constant) and node.value is None):
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                named = t.as_type(node.value)
            except (ValueError, TypeError):
                named = None
            if not isinstance(named, t.ScalarType):
                self.fail(node, f"'{node.value}' is not a dtype kernels have ({_DTYPE_HELP})")
            return named
        ty = self.expr(node)
        if isinstance(ty, t.DTypeType):
            return ty.dtype
        self.fail(node, f"dtype= takes a dtype, not {ty} ({_DTYPE_HELP})")
