"""The two JIT back-ends, frostline and numba, behind one small interface.

Both are optional at import time: a back-end that cannot be imported is
reported as unavailable (with the reason) and its columns are skipped.
"""

from __future__ import annotations

import importlib
import itertools
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Disk caching must be off for honest compile-time numbers; set it before
# frostline is imported.
os.environ["FROSTLINE_CACHE"] = "0"


_fresh_ids = itertools.count(1)


def clone_function(fn: Callable[..., Any], *, fresh: bool = False) -> types.FunctionType:
    """Return a brand-new function object with ``fn``'s code and a *copy* of its globals.

    A new function object defeats per-function in-memory memoisation; the
    private globals let :meth:`Backend.jit` rebind the function's own name to
    the jitted dispatcher, which is what makes recursion (``fib``) call the
    compiled version in both frostline and numba.  ``fresh=True`` also gives
    the clone a unique ``__qualname__`` so that caches keyed on the function's
    identity *text* (module, qualname, source) cannot hit either.
    """
    assert isinstance(fn, types.FunctionType)
    clone = types.FunctionType(
        fn.__code__, dict(fn.__globals__), fn.__name__, fn.__defaults__, fn.__closure__
    )
    if fresh:
        clone.__qualname__ = f"{fn.__qualname__}_bench{next(_fresh_ids)}"
    return clone


def numba_signature(sig: str) -> str:
    """Turn an argument list like ``"float64, int64"`` into numba's tuple form."""
    return f"({sig},)"


def _version(module: Any) -> str:
    return str(getattr(module, "__version__", "unknown"))


@dataclass
class Backend:
    """A JIT compiler (frostline or numba) or the reason it is unavailable."""

    name: str
    module: Any = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    _extra: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """True if the back-end imported successfully."""
        return self.module is not None

    @property
    def version(self) -> str:
        """Version string, or why the module is missing."""
        return _version(self.module) if self.module is not None else f"unavailable ({self.error})"

    def decorate(self, fn: Callable[..., Any], options: dict[str, Any]) -> Any:
        """Apply the back-end's decorator (``fl.jit`` / ``numba.njit``) with ``cache=False``."""
        if self.name == "numba":
            return self.module.njit(cache=False, **options)(fn)
        if self._extra.get("no_cache_kwarg"):
            return self.module.jit(**options)(fn)
        try:
            return self.module.jit(cache=False, **options)(fn)
        except TypeError as exc:
            if "cache" not in str(exc):
                raise
            self._extra["no_cache_kwarg"] = True
            self.notes.append(f"fl.jit rejected cache=False ({exc}); relied on FROSTLINE_CACHE=0")
            return self.module.jit(**options)(fn)

    def jit(self, fn: Callable[..., Any], options: dict[str, Any], *, fresh: bool = False) -> Any:
        """A new lazily-compiling dispatcher for a new clone of ``fn`` (see ``clone_function``)."""
        clone = clone_function(fn, fresh=fresh)
        dispatcher = self.decorate(clone, options)
        clone.__globals__[fn.__name__] = dispatcher
        return dispatcher

    def compile(self, fn: Callable[..., Any], sig: str, options: dict[str, Any]) -> Any:
        """Compile a fresh clone of ``fn`` ahead of time for the argument types ``sig``.

        Returns the frostline ``Executable`` or the numba dispatcher.
        """
        dispatcher = self.jit(fn, options, fresh=True)
        if self.name == "numba":
            dispatcher.compile(numba_signature(sig))
            return dispatcher
        return dispatcher.compile(sig)

    def counters(self) -> dict[str, int] | None:
        """frostline's ``stats()`` counters (None for numba or if unsupported)."""
        if self.name != "frostline":
            return None
        try:
            return {k: int(v) for k, v in self.module.stats().items()}
        except Exception:  # stats() is informational only
            return None


def load(name: str) -> Backend:
    """Import back-end ``name`` (``"frostline"`` or ``"numba"``) without raising."""
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # any import failure: unavailable
        return Backend(name, error=f"{type(exc).__name__}: {exc}")
    return Backend(name, module=module)
