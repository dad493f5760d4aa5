"""Shared pieces of the array tests: compiling once per kernel, NumPy inputs, comparison."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from hypothesis import strategies as st

import frostline as fl

#: Element types of the language, as NumPy dtypes.
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]
NUMERIC = [d for d in DTYPES if d != "bool"]


@functools.cache
def jitted(fn: Any) -> Any:
    """One dispatcher per kernel for the whole session: each type compiles once."""
    return fl.jit(fn)


def sample(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values of a dtype that exercise it: negatives, zeros and (for floats) fractions."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    if dtype.startswith("float"):
        return (rng.standard_normal(n) * 4).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -50), min(info.max, 50)
    return rng.integers(lo, hi + 1, n).astype(dtype).reshape(shape)


def layouts(array: np.ndarray) -> list[np.ndarray]:
    """The same values as C, Fortran and negative-stride arrays."""
    out = [np.ascontiguousarray(array), np.asfortranarray(array)]
    if array.ndim:
        flipped = np.ascontiguousarray(array[::-1])[::-1]
        out.append(flipped)
    return out


def same(got: object, want: object) -> None:
    """Values equal (nan equal to nan); floats to a few ulps, as sums may reassociate."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, (got_a.shape, want_a.shape)
    if want_a.dtype.kind == "f":
        np.testing.assert_allclose(got_a, want_a, rtol=1e-5 if want_a.dtype == np.float32
                                   else 1e-12, atol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(got_a, want_a)


@st.composite
def shapes(draw: Any, min_dims: int = 1, max_dims: int = 3, max_side: int = 5) -> tuple:
    return tuple(draw(st.lists(st.integers(0, max_side), min_size=min_dims,
                               max_size=max_dims)))
