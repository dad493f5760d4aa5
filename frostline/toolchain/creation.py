"""Functions that make new arrays: ``np.zeros`` and the rest, as one table.

Each entry names NumPy's parameters in NumPy's order, what gives the new
array's shape, how it is filled and its default dtype.  ``typing.creation``
types a call from the table, ``backends.llvm.creation`` lowers it, and
``tests/arrays/test_creation.py`` checks each against NumPy.  A new array is
C-contiguous (``*_like`` of a Fortran array is Fortran, as NumPy's default
``order='K'`` makes it).
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Creation:
    """``shape``: 'shape' (a shape argument), 'like' (a prototype array), or 'arange',
    'linspace', 'eye' (computed from the arguments).  ``fill``: 'none', 'zero', 'one' or
    'value' (``fill_value``), or the function's own values.  ``dtype``: the default,
    'float64', 'fill' (the fill value's type), 'like' (the prototype's) or 'arange'
    (int64 for integer arguments, else float64)."""

    name: str
    params: tuple[str, ...]
    required: int
    shape: str
    fill: str
    dtype: str


_C = Creation
CREATIONS: dict[str, Creation] = {f"numpy.{c.name}": c for c in (
    _C("empty", ("shape", "dtype"), 1, "shape", "none", "float64"),
    _C("zeros", ("shape", "dtype"), 1, "shape", "zero", "float64"),
    _C("ones", ("shape", "dtype"), 1, "shape", "one", "float64"),
    _C("full", ("shape", "fill_value", "dtype"), 2, "shape", "value", "fill"),
    _C("empty_like", ("prototype", "dtype"), 1, "like", "none", "like"),
    _C("zeros_like", ("prototype", "dtype"), 1, "like", "zero", "like"),
    _C("ones_like", ("prototype", "dtype"), 1, "like", "one", "like"),
    _C("full_like", ("prototype", "fill_value", "dtype"), 2, "like", "value", "like"),
    _C("arange", ("start", "stop", "step", "dtype"), 1, "arange", "arange", "arange"),
    _C("linspace", ("start", "stop", "num", "endpoint", "dtype"), 2, "linspace",
       "linspace", "float64"),
    _C("eye", ("N", "M", "k", "dtype"), 1, "eye", "eye", "float64"),
    _C("identity", ("n", "dtype"), 1, "eye", "eye", "float64"),
)}
#: Keywords NumPy's functions take that kernels accept only at their default.
DEFAULTS_ONLY = {"order": "C", "like": None}


def bind(spec: Creation, args: list, keywords: list) -> dict | str:
    """The call's arguments by NumPy parameter name (``ast`` nodes), or an error message."""
    short = f"np.{spec.name}()"
    if len(args) > len(spec.params):
        return f"{short} takes at most {len(spec.params)} arguments"
    bound = dict(zip(spec.params, args, strict=False))
    for kw in keywords:
        if kw.arg is None:
            return f"{short}: **kwargs is not supported"
        if kw.arg in DEFAULTS_ONLY:
            continue  # checked by typing
        if kw.arg not in spec.params:
            return (f"{short} got an unexpected keyword argument '{kw.arg}' (it takes "
                    f"{', '.join(spec.params)})")
        if kw.arg in bound:
            return f"{short} got multiple values for argument '{kw.arg}'"
        bound[kw.arg] = kw.value
    missing = [p for p in spec.params[:spec.required] if p not in bound]
    if missing:
        return f"{short} missing required argument '{missing[0]}'"
    return bound
