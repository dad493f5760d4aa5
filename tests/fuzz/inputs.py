"""Random arguments for a generated kernel, reproducible and freshly copyable.

Kernels write into their array arguments, so each run (CPython, the JIT, the AOT
executable) gets its own copy, made by :meth:`ArgSet.fresh` with the original
layout: contiguous, Fortran order, or a strided or reversed view of a bigger
array (whose contents are compared too).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from .scope import Param
from .semantics import PY_BOOL, PY_FLOAT, PY_INT, VAR_BITS, ArrayT, Scalar

SPECIAL_FLOATS = (0.0, -0.0, math.nan, math.inf, -math.inf, 1e300, -1e300, 5e-324, 0.5, 1.5,
                  2.5, -2.5, 1e16, 3.0, -1.0)


@dataclass(frozen=True)
class ArrayArg:
    """An array argument: ``base[view]`` (``view`` None for ``base`` itself)."""

    base: np.ndarray
    view: tuple[slice, ...] | None

    def fresh(self) -> np.ndarray:
        base = self.base.copy(order="K")
        return base if self.view is None else base[self.view]


@dataclass(frozen=True)
class ArgSet:
    """One call's arguments."""

    values: tuple[Any, ...]

    def fresh(self) -> tuple[Any, ...]:
        """New arrays with the same contents and layout; scalars as they are."""
        return tuple(v.fresh() if isinstance(v, ArrayArg) else v for v in self.values)

    def describe(self) -> str:
        """The arguments as Python source (for a failure report)."""
        out = []
        for v in self.values:
            if isinstance(v, ArrayArg):
                a = v.fresh()
                text = f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
                if v.view is not None or a.ndim == 2 and not a.flags.c_contiguous:
                    text += f"  # layout {describe_view(v)}"
                out.append(text)
            else:
                out.append(repr(v))
        return "(" + ",\n ".join(out) + ("," if len(out) == 1 else "") + ")"


def describe_view(v: ArrayArg) -> str:
    order = "F" if v.base.flags.f_contiguous and not v.base.flags.c_contiguous else "C"
    if v.view is None:
        return f"order={order}"
    parts = [f"{s.start or ''}:{s.stop or ''}:{s.step or ''}" for s in v.view]
    return f"base {list(v.base.shape)} order={order} [{', '.join(parts)}]"


def float_value(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.15:
        return rng.choice(SPECIAL_FLOATS)
    if r < 0.3:
        return float(rng.randint(-10, 10))
    if r < 0.8:
        return round(rng.gauss(0.0, 5.0), rng.randint(0, 6))
    return rng.gauss(0.0, 1e3)


def int_value(rng: random.Random, ty: Scalar) -> int:
    lo, hi = ty.lo, ty.hi
    r = rng.random()
    if r < 0.5:
        return min(max(rng.randint(-10, 20), lo), hi)
    if r < 0.8:
        return rng.randint(max(lo, -(2**31)), min(hi, 2**31))
    if r < 0.9:
        return rng.randint(lo, hi)
    return rng.choice((lo, hi, 0, lo + 1, hi - 1))


def scalar_value(rng: random.Random, ty: Scalar) -> Any:
    """A value of fuzz type ``ty``: a Python number or a NumPy scalar."""
    if ty == PY_INT:
        r = rng.random()
        bound = 2**VAR_BITS - 1
        if r < 0.7:
            return rng.randint(-10, 20)
        return rng.randint(-bound, bound) if r < 0.8 else rng.randint(-1000, 1000)
    if ty == PY_FLOAT:
        return float_value(rng)
    if ty == PY_BOOL:
        return rng.random() < 0.5
    if ty.is_bool:
        return np.bool_(rng.random() < 0.5)
    if ty.is_float:
        with np.errstate(all="ignore"):
            return ty.dtype.type(float_value(rng))
    return ty.dtype.type(int_value(rng, ty))


def layout(rng: random.Random, ty: ArrayT) -> str:
    """How an array argument is laid out: "C", "F", or "strided:k" / "reversed:k"
    (every other element, or reversed, along axis k)."""
    r = rng.random()
    if r < 0.6:
        return "C"
    if r < 0.75 and len(ty.shape) == 2:
        return "F"
    return f"{'strided' if r < 0.88 else 'reversed'}:{rng.randrange(len(ty.shape))}"


def array_value(rng: random.Random, ty: ArrayT, how: str) -> ArrayArg:
    n = int(np.prod(ty.shape))
    if ty.dtype == "bool":
        items: list[Any] = [rng.random() < 0.5 for _ in range(n)]
    elif ty.dtype.startswith("float"):
        items = [float_value(rng) for _ in range(n)]
    else:
        items = [int_value(rng, Scalar(ty.dtype, True)) for _ in range(n)]
    with np.errstate(all="ignore"):
        flat = np.array(items, dtype=np.float64 if ty.dtype.startswith("float") else ty.dtype)
        data = flat.astype(ty.dtype).reshape(ty.shape)
    if how == "C":
        return ArrayArg(data, None)
    if how == "F":
        return ArrayArg(np.asfortranarray(data), None)
    how, axis_text = how.split(":")
    axis = int(axis_text)
    if how == "strided":  # every other element of a bigger array
        shape = list(data.shape)
        shape[axis] *= 2
        base = np.zeros(shape, dtype=ty.dtype)
        view = tuple(slice(None, None, 2) if k == axis else slice(None)
                     for k in range(data.ndim))
        base[view] = data
    else:
        base = data
        view = tuple(slice(None, None, -1) if k == axis else slice(None)
                     for k in range(data.ndim))
    return ArrayArg(base, view)


def make_inputs(seed: int, params: tuple[Param, ...], n: int) -> list[ArgSet]:
    """``n`` argument sets for a kernel with these parameters."""
    rng = random.Random(seed * 7919 + 17)
    # one layout per parameter for all sets: the JIT compiles once per program
    layouts = [layout(rng, p.ty) if isinstance(p.ty, ArrayT) else "" for p in params]
    out = []
    for _ in range(n):
        values = []
        for p, how in zip(params, layouts, strict=True):
            if isinstance(p.ty, ArrayT):
                values.append(array_value(rng, p.ty, how))
            else:
                values.append(scalar_value(rng, p.ty))  # type: ignore[arg-type]
        out.append(ArgSet(tuple(values)))
    return out
