"""The ``PER_FUNCTION`` granularity: a function's own code runs as Python, the kernels
it calls run compiled.

``per_function(fn, wrap)`` returns a copy of ``fn`` that sees every kernel it calls,
by a global name, a closure variable or a module attribute (``kernels.step(...)``),
replaced by ``wrap(callee, options)`` (a jit dispatcher).  Globals are read through
an overlay, so the copy sees later changes to its module; functions from NumPy,
the standard library and frostline itself are not kernels and are left alone.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Callable
from typing import Any

from frostline.stages.definition import JitOptions
from frostline.toolchain.frontend import callee_function

Wrap = Callable[[Callable[..., Any], "JitOptions | None"], Callable[..., Any]]

#: Top-level packages whose functions are library code, not kernels to compile.
_LIBRARIES = frozenset(sys.stdlib_module_names) | {"numpy", "frostline"}
#: How many module levels a dotted call may go through (``a.b.kernel``).
_MODULE_DEPTH = 3


def per_function(fn: types.FunctionType, wrap: Wrap) -> types.FunctionType:
    """``fn`` with the kernels it calls replaced by ``wrap(callee, options)``."""
    names = _names(fn.__code__)
    wrapped: dict[int, Callable[..., Any]] = {}  # one dispatcher per callee

    def replace(value: object, depth: int) -> object:
        callee = callee_function(value)
        if callee is not None:
            function, options = callee
            if function is fn or _is_library(function):
                return value
            if id(function) not in wrapped:
                wrapped[id(function)] = wrap(function, options)
            return wrapped[id(function)]
        if isinstance(value, types.ModuleType) and depth and not _is_library(value):
            swaps = {}
            for attr in names:
                inner = vars(value).get(attr)  # vars: no lazy submodule imports
                if inner is not None:
                    new = replace(inner, depth - 1)
                    if new is not inner:
                        swaps[attr] = new
            if swaps:
                return _ModuleView(value, swaps)
        return value

    module_globals = fn.__globals__
    overlay = _Globals(module_globals)
    for name in names:
        if name in module_globals:
            new = replace(module_globals[name], _MODULE_DEPTH)
            if new is not module_globals[name]:
                overlay[name] = new
    closure = fn.__closure__
    if closure:
        closure = tuple(_swapped_cell(cell, replace) for cell in closure)
    copy = types.FunctionType(fn.__code__, overlay, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


class _Globals(dict):  # type: ignore[type-arg]
    """The replaced names, over the module's live globals (read through ``__missing__``)."""

    def __init__(self, module_globals: dict[str, Any]):
        super().__init__(__builtins__=module_globals.get("__builtins__", builtins))
        self.module_globals = module_globals

    def __missing__(self, name: str) -> Any:
        return self.module_globals[name]  # KeyError sends the lookup on to builtins


class _ModuleView:
    """A module with some of its functions replaced; everything else is the module's."""

    def __init__(self, module: types.ModuleType, swaps: dict[str, object]):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_swaps", swaps)

    def __getattr__(self, name: str) -> Any:
        if name in self._swaps:
            return self._swaps[name]
        return getattr(self._module, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._module, name, value)

    def __repr__(self) -> str:
        return f"<per-function view of {self._module!r}>"


def _swapped_cell(cell: types.CellType, replace: Callable[[object, int], object]
                  ) -> types.CellType:
    try:
        value = cell.cell_contents
    except ValueError:  # an empty cell (assigned later in the enclosing function)
        return cell
    new = replace(value, _MODULE_DEPTH)
    return cell if new is value else types.CellType(new)


def _names(code: types.CodeType) -> frozenset[str]:
    """Every global and attribute name the code and its nested code objects use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return frozenset(names)


def _is_library(obj: object) -> bool:
    module = obj.__name__ if isinstance(obj, types.ModuleType) else \
        getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES
