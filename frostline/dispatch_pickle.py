"""Pickling a jit function: its definition by value, and its compiled signatures.

The parsed program travels, and the Python function through cloudpickle when it
pickles, with the object code of every compiled signature, so another process
runs them at once and can still compile new ones.  A recursive function reaches
itself through its own globals: a token per dispatcher being pickled (or
restored) in this thread ties that reference back.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import pickle
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from frostline import types as t
from frostline.errors import CompileError
from frostline.modes import ExecutionMode
from frostline.stages.ast import FunctionAST, ProgramAST
from frostline.stages.definition import Definition, JitOptions
from frostline.stages.executable import ObjectCode

if TYPE_CHECKING:
    from frostline.dispatcher import Dispatcher


def reduce(dispatcher: Dispatcher) -> tuple[Callable[..., Any], tuple[object, ...]]:
    """``Dispatcher.__reduce__``."""
    from frostline.backends.llvm.sharedlib import with_library

    token = _pickling.tokens.get(id(dispatcher))
    if token is not None:  # reached again through the function's own globals
        return _restoring, (token,)
    token = _pickling.tokens[id(dispatcher)] = f"{id(dispatcher):x}.{next(_tokens)}"
    try:
        function = _pickled_function(dispatcher.py_func)
    finally:
        del _pickling.tokens[id(dispatcher)]
    try:
        program: ProgramAST | None = dispatcher.program
    except (CompileError, OSError):
        program = None  # no source to parse: only the compiled signatures travel
    with dispatcher._lock:
        compiled = tuple((sig, with_library(exe.object_code))
                         for sig, exe in dispatcher._by_signature.items())
    d = dispatcher
    return _restore, (token, function, program, d.options, bool(d.cache), compiled, d.__name__,
                      d.__qualname__, d.__module__, d.mode.value, d.background,
                      bool(d.isolated), d.declared_signatures)


class _PicklingState(threading.local):
    """Dispatchers being pickled or restored in this thread, to tie recursion back."""

    def __init__(self) -> None:
        self.tokens: dict[int, str] = {}
        self.restoring: dict[str, Any] = {}


_pickling = _PicklingState()
_tokens = itertools.count()


def _pickled_function(fn: Callable[..., Any] | None) -> bytes | None:
    """The Python function by value, or None when it does not pickle."""
    if fn is None:
        return None
    import cloudpickle

    try:
        return cloudpickle.dumps(fn)  # type: ignore[no-any-return]
    except Exception:  # an unpicklable global: the parsed program still travels
        return None


def _restoring(token: str) -> Any:
    """The dispatcher being restored under ``token`` (a recursive function's own name)."""
    return _pickling.restoring[token]


def _restore(token: str, function: bytes | None, program: ProgramAST | None,
             options: JitOptions, cache: bool,
             compiled: tuple[tuple[t.Signature, ObjectCode], ...],
             name: str, qualname: str, module: str, mode: int = ExecutionMode.WHOLE.value,
             background: bool = False, isolated: bool = False,
             declared: tuple[t.Signature, ...] = ()) -> Any:
    """Unpickle a jit function: its definition, and the executables compiled for it.
    An isolated function stays isolated, in the process-wide pool of its new process."""
    if function is None and program is None:
        raise pickle.UnpicklingError(f"cannot restore {module}.{qualname}: neither its "
                                     "function nor its parsed program travelled")
    from frostline.dispatcher import Dispatcher

    dispatcher = Dispatcher.__new__(Dispatcher)
    _pickling.restoring[token] = dispatcher
    try:
        fn = _unpickled_function(function)
    finally:
        del _pickling.restoring[token]
    if fn is not None:
        functools.update_wrapper(dispatcher, fn)
        dispatcher._setup(fn, Definition(fn, options), program, inspect.signature(fn), cache,
                          background, ExecutionMode(mode), isolated, declared)
    else:
        assert program is not None
        dispatcher.__name__, dispatcher.__qualname__, dispatcher.__module__ = \
            name, qualname, module
        dispatcher.__doc__ = None
        dispatcher._setup(None, None, program, _parameters(program.entry_function), cache,
                          False, ExecutionMode(mode), isolated, declared)
    for signature, code in compiled:
        dispatcher._adopt(signature, code)
    return dispatcher


def _unpickled_function(function: bytes | None) -> Callable[..., Any] | None:
    if function is None:
        return None
    import cloudpickle

    try:
        return cloudpickle.loads(function)  # type: ignore[no-any-return]
    except Exception:  # e.g. a module its globals need is missing here
        return None


def _parameters(entry: FunctionAST) -> inspect.Signature:
    """A Python signature from a parsed function, for a dispatcher that has no function."""
    defaults = dict(entry.defaults)
    return inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          default=defaults[name].value if name in defaults
                          else inspect.Parameter.empty)
        for name in entry.params])
