"""The ``PER_FUNCTION`` granularity: a function's own code runs as Python, the kernels
it calls run compiled.

``per_function(fn, wrap)`` returns a copy of ``fn`` that sees every kernel it calls,
by a global name, a closure variable or a module attribute (``kernels.step(...)``),
replaced by ``wrap(callee, options)`` (a jit dispatcher), and its own name (a
recursive call) replaced by the copy.  Globals and the attributes of those modules
are read live through an overlay, so the copy sees later changes to its module, a
rebound kernel included; functions from NumPy, the standard library and frostline
itself are not kernels and are left alone.  The overlay cannot take writes to the
module (``STORE_GLOBAL`` bypasses it), so a function assigning global names is
refused with a CompileError.
"""

from __future__ import annotations

import builtins
import dis
import sys
import types
from collections.abc import Callable
from typing import Any

from frostline.errors import CompileError
from frostline.stages.definition import JitOptions
from frostline.toolchain.frontend import callee_function

Wrap = Callable[[Callable[..., Any], "JitOptions | None"], Callable[..., Any]]

#: Top-level packages whose functions are library code, not kernels to compile.
_LIBRARIES = frozenset(sys.stdlib_module_names) | {"numpy", "frostline"}
#: How many module levels a dotted call may go through (``a.b.kernel``).
_MODULE_DEPTH = 3


def per_function(fn: types.FunctionType, wrap: Wrap) -> types.FunctionType:
    """``fn`` with the kernels it calls replaced by ``wrap(callee, options)``.

    Replacing a callee fails here, not when the copy runs: a global or module
    attribute whose lookup raises makes ``per_function`` raise.
    """
    code = fn.__code__
    stored = sorted(_stored_globals(code))
    if stored:
        raise CompileError(f"{fn.__qualname__} assigns the global name"
                           f"{'s' if len(stored) > 1 else ''} {', '.join(stored)}: it cannot "
                           "run per function, whose copy reads the module's globals through "
                           "an overlay", code.co_filename, code.co_firstlineno)
    kernels = _Kernels(fn, wrap, _names(code))
    recursive: list[types.CellType] = []  # cells to hold the copy itself
    closure = fn.__closure__
    if closure:
        closure = tuple(kernels.cell(cell, recursive) for cell in closure)
    overlay = _Globals(fn.__globals__, _Swaps(kernels.replace, _MODULE_DEPTH))
    copy = types.FunctionType(code, overlay, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    kernels.copy = copy
    for cell in recursive:
        cell.cell_contents = copy
    overlay.replace_now(kernels.names)
    return copy


class _Kernels:
    """What the copy of ``fn`` sees instead of a value: a dispatcher for a kernel, a view
    for a module holding kernels, the copy for ``fn`` itself, else the value."""

    def __init__(self, fn: types.FunctionType, wrap: Wrap, names: frozenset[str]):
        self.fn = fn
        self.wrap = wrap
        self.names = names
        self.copy: types.FunctionType | None = None
        self.wrapped: dict[int, Callable[..., Any]] = {}  # one dispatcher per callee

    def replace(self, value: object, depth: int) -> object:
        callee = callee_function(value)
        if callee is not None:
            function, options = callee
            if function is self.fn:  # a dispatcher of fn keeps running in its own mode
                return self.copy if value is function and self.copy is not None else value
            if _is_library(function):
                return value
            if id(function) not in self.wrapped:
                self.wrapped[id(function)] = self.wrap(function, options)
            return self.wrapped[id(function)]
        if isinstance(value, types.ModuleType) and depth and not _is_library(value):
            swaps = _Swaps(self.replace, depth - 1)
            if swaps.replace_now(self.names, vars(value)):  # vars: no lazy submodule imports
                return _ModuleView(value, swaps)
        return value

    def cell(self, cell: types.CellType, recursive: list[types.CellType]) -> types.CellType:
        """The cell the copy closes over: the same one, or a new one with the replacement
        (left empty in ``recursive`` when the replacement is the copy itself)."""
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (assigned later in the enclosing function)
            return cell
        if value is self.fn:
            recursive.append(types.CellType())
            return recursive[-1]
        new = self.replace(value, _MODULE_DEPTH)
        return cell if new is value else types.CellType(new)


class _Swaps:
    """Replacements of named values, made again when a name is rebound."""

    def __init__(self, replace: Callable[[object, int], object], depth: int):
        self.replace = replace
        self.depth = depth
        self.seen: dict[str, tuple[object, object]] = {}  # name -> (value, replacement)

    def __call__(self, name: str, value: object) -> object:
        seen = self.seen.get(name)
        if seen is None or seen[0] is not value:
            seen = self.seen[name] = (value, self.replace(value, self.depth))
        return seen[1]

    def replace_now(self, names: frozenset[str], namespace: dict[str, Any]) -> bool:
        """Replace the names ``namespace`` holds now; whether any value was replaced."""
        replaced = False
        for name in names:
            if name in namespace:
                value = namespace[name]
                replaced |= self(name, value) is not value
        return replaced


class _Globals(dict):  # type: ignore[type-arg]
    """The module's live globals, replaced (read through ``__missing__``: the dict itself
    holds only ``__builtins__``)."""

    def __init__(self, module_globals: dict[str, Any], swaps: _Swaps):
        super().__init__(__builtins__=module_globals.get("__builtins__", builtins))
        self.module_globals = module_globals
        self.swaps = swaps
        self.seen = swaps.seen

    def __missing__(self, name: str) -> Any:
        value = self.module_globals[name]  # KeyError sends the lookup on to builtins
        seen = self.seen.get(name)
        if seen is not None and seen[0] is value:  # the fast path: not rebound
            return seen[1]
        return self.swaps(name, value)

    def replace_now(self, names: frozenset[str]) -> None:
        self.swaps.replace_now(names, self.module_globals)


class _ModuleView:
    """A module whose kernels are replaced; everything else is the module's."""

    def __init__(self, module: types.ModuleType, swaps: _Swaps):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_swaps", swaps)

    def __getattr__(self, name: str) -> Any:
        return self._swaps(name, getattr(self._module, name))

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._module, name, value)

    def __repr__(self) -> str:
        return f"<per-function view of {self._module!r}>"


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    """The code and every code object nested in it."""
    nested = [_code_objects(c) for c in code.co_consts if isinstance(c, types.CodeType)]
    return [code, *(c for codes in nested for c in codes)]


def _names(code: types.CodeType) -> frozenset[str]:
    """Every global and attribute name the code and its nested code objects use."""
    return frozenset(name for c in _code_objects(code) for name in c.co_names)


def _stored_globals(code: types.CodeType) -> set[str]:
    """The global names the code assigns or deletes (``global x; x = ...``)."""
    return {instruction.argval for c in _code_objects(code)
            for instruction in dis.get_instructions(c)
            if instruction.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")}


def _is_library(obj: object) -> bool:
    module = obj.__name__ if isinstance(obj, types.ModuleType) else \
        getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES
