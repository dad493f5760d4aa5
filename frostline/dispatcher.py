"""``fl.jit``: a function that compiles itself for the argument types it is called with."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import inspect
import itertools
import pickle
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any, overload

import attrs
import numpy as np

from frostline import stats
from frostline import types as t
from frostline._vectorcall import callable_class, set_entry
from frostline.backends import llvm
from frostline.errors import CompileError, IncompatibleTargetError
from frostline.stages.ast import FunctionAST, ProgramAST
from frostline.stages.closure import Closure
from frostline.stages.definition import Definition, JitOptions
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain.cache import CacheWarning, DiskCache, default_disk_cache
from frostline.toolchain.frontend import parse
from frostline.toolchain.pipeline import default_toolchain
from frostline.toolchain.runner import (
    CompileHandle,
    Job,
    background_runner,
    completed,
    run_in_place,
)
from frostline.toolchain.workflow import MemoryCache

#: The process-wide in-memory cache of executables, keyed by content.
MEMORY_CACHE = MemoryCache()


def _call_key(args: tuple[Any, ...]) -> tuple[object, ...]:
    """A cheap key that determines the argument types: Python types for scalars,
    dtype number, rank and contiguity for arrays."""
    # Unrolled for small arities: map(...) and generators cost several times more.
    n = len(args)
    if n == 3:
        key: tuple[object, ...] = (type(args[0]), type(args[1]), type(args[2]))
    elif n == 2:
        key = (type(args[0]), type(args[1]))
    elif n == 1:
        key = (type(args[0]),)
    else:
        key = tuple(map(type, args))
    if _SCALAR_TYPES.issuperset(key):
        return key
    if n == 3:
        return (_arg_key(args[0]), _arg_key(args[1]), _arg_key(args[2]))
    if n == 2:
        return (_arg_key(args[0]), _arg_key(args[1]))
    return tuple(map(_arg_key, args))


def _arg_key(value: Any) -> object:
    if isinstance(value, np.ndarray):
        # dtype number, rank and C/F contiguity packed in one int: cheap to hash.
        return value.dtype.num | value.ndim << 8 | (value.flags.num & 3) << 16
    return type(value)


#: Types whose Python type alone determines the frostline type.
_SCALAR_TYPES = frozenset([bool, int, float, np.bool_, np.int8, np.int16, np.int32, np.int64,
                           np.uint8, np.uint16, np.uint32, np.uint64, np.float32, np.float64])


@attrs.frozen
class Stages:
    """Every stage of one compilation, for reading (``f.stages(signature)``)."""

    definition: Definition
    program: ProgramAST
    closure: Closure
    typed: TypedProgram
    compilable: CompilableProgram
    optimized: OptimizedProgram
    object_code: ObjectCode

    def assembly(self) -> str:
        return llvm.assembly(self.optimized)


class _DispatcherMethods:
    """A jit function: call it, or ``.compile(signature)`` it ahead of time.

    Calls go first through the dispatch guard of the executable used last, emitted
    in IR: when every argument has exactly that executable's type the call costs
    about as much as calling the executable; anything else takes the Python path
    (``__call__``), which finds or compiles the executable and points the guard
    at it.
    """

    def __init__(self, fn: Callable[..., Any], options: JitOptions,
                 cache: bool | DiskCache = True, background: bool = False):
        if not inspect.isfunction(fn):
            raise TypeError(f"fl.jit needs a Python function, not {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self._setup(fn, Definition(fn, options), None, inspect.signature(fn), cache,
                    background)

    def _setup(self, fn: Callable[..., Any] | None, definition: Definition | None,
               program: ProgramAST | None, params: inspect.Signature,
               cache: bool | DiskCache, background: bool = False) -> None:
        self.py_func = fn
        self.__frostline_function__ = fn
        self.definition = definition
        self.cache = cache
        self.background = background and fn is not None  # tiering needs the Python version
        self._pending: dict[t.Signature, CompileHandle[Executable]] = {}
        self._program = program
        self._options = definition.options if definition else program.options  # type: ignore
        self._by_key: dict[tuple[object, ...], Executable] = {}
        self._by_signature: dict[t.Signature, Executable] = {}
        self._lock = threading.RLock()
        self._params = params
        self._nparams = len(params.parameters)
        self._fast_owner: tuple[object, ...] = (None, None, None)  # see _use

    @property
    def options(self) -> JitOptions:
        return self._options

    @property
    def program(self) -> ProgramAST:
        """The parsed program (the function and every callee), parsed on first use."""
        if self._program is None:
            assert self.definition is not None, "a dispatcher has a definition or a program"
            self._program = parse(self.definition)
        return self._program

    def __repr__(self) -> str:
        return f"<frostline.jit {self.__module__}.{self.__qualname__}>"

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[object, ...]]:
        """Pickle the definition by value (the parsed program, and the Python function
        through cloudpickle when it pickles) with the object code of every compiled
        signature, so another process runs them at once and can still compile new ones."""
        from frostline.backends.llvm.sharedlib import with_library

        token = _pickling.tokens.get(id(self))
        if token is not None:  # reached again through the function's own globals
            return _restoring, (token,)
        token = _pickling.tokens[id(self)] = f"{id(self):x}.{next(_tokens)}"
        try:
            function = _pickled_function(self.py_func)
        finally:
            del _pickling.tokens[id(self)]
        try:
            program: ProgramAST | None = self.program
        except (CompileError, OSError):
            program = None  # no source to parse: only the compiled signatures travel
        with self._lock:
            compiled = tuple((sig, with_library(exe.object_code))
                             for sig, exe in self._by_signature.items())
        return _restore, (token, function, program, self.options, bool(self.cache), compiled,
                          self.__name__, self.__qualname__, self.__module__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != self._nparams:
            try:
                bound = self._params.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.__name__}() {exc}") from None
            bound.apply_defaults()
            args = bound.args
        key = _call_key(args)
        exe = self._by_key.get(key)
        if exe is None:
            exe = self._executable_for(args)
            if exe is None:  # tiered, and the native code is not ready yet
                stats.bump("python_calls")
                return self.py_func(*args)  # type: ignore[misc]
            with self._lock:
                self._by_key[key] = exe
        if exe.guard and self._fast_owner[1] is not exe._owner:
            self._use(exe)
        return exe(*args)

    def _use(self, exe: Executable) -> None:
        """Route calls through ``exe``'s guard until another executable is needed."""
        # The owner tuple reaches the dispatcher only weakly: no reference cycle.
        owner = (functools.partial(_call_python, weakref.ref(self)), exe._owner, np.ndarray)
        self._fast_owner = owner
        set_entry(self, exe.guard, owner)

    def _executable_for(self, args: tuple[Any, ...]) -> Executable | None:
        """The executable for these arguments' types: compiled now, or with
        ``background=True`` started in the background (None until it is ready; a
        failed compilation raises here, on the next call)."""
        sig = t.Signature(self._argument_types(args))
        if not self.background:
            return self.compile(sig)
        exe = self._by_signature.get(sig)
        if exe is not None:
            return exe
        handle = self.compile_async(sig)
        return handle.result() if handle.done() and not handle.cancelled() else None

    def _argument_types(self, args: tuple[Any, ...]) -> tuple[t.Type, ...]:
        types = []
        for name, value in zip(self._params.parameters, args, strict=True):
            try:
                ty = t.typeof(value)
            except TypeError as exc:
                raise TypeError(f"{self.__name__}() argument '{name}': {exc}") from None
            if not isinstance(ty, (t.ScalarType, t.ArrayType)):
                raise TypeError(f"{self.__name__}() argument '{name}' must be a number or a "
                                f"NumPy array, not {type(value).__name__}")
            types.append(ty)
        return tuple(types)

    @overload
    def compile(self, signature: str, /) -> Executable: ...
    @overload
    def compile(self, *types: object) -> Executable: ...

    def compile(self, *signature: object) -> Executable:
        """Compile ahead of time for a signature: a string, type objects, or annotations.

        The compilation runs in the calling thread; ``compile_async`` runs it in the
        background.
        """
        sig = self.signature_from(*signature)
        pending = self._pending.get(sig)
        if pending is not None:  # being compiled in the background: wait for that one
            with contextlib.suppress(concurrent.futures.CancelledError):
                return pending.result()
        with self._lock:
            exe = self._by_signature.get(sig)
            if exe is None:
                exe = run_in_place(self._job(sig))
                self._by_signature[sig] = exe
        return exe

    def compile_async(self, *signature: object) -> CompileHandle[Executable]:
        """Start compiling for a signature in the background; returns a handle at once.

        The handle is a ``concurrent.futures.Future`` of the Executable with
        ``add_callback_on_success``, ``add_callback_on_fail``, ``add_finalize``,
        ``result(timeout)``, ``done()`` and ``cancel()``. Calls of this function
        use the executable once it is ready. Asking again for a signature being
        compiled returns the same handle.
        """
        sig = self.signature_from(*signature)
        with self._lock:
            exe = self._by_signature.get(sig)
            if exe is not None:
                return completed(exe, name=f"{self.__qualname__}{sig}")
            pending = self._pending.get(sig)
            if pending is not None and not pending.cancelled():
                return pending
            handle = background_runner().submit(self._job(sig),
                                                name=f"{self.__qualname__}{sig}")
            self._pending[sig] = handle
        handle.add_finalize(functools.partial(self._forget, sig, handle))
        return handle

    def _install(self, sig: t.Signature, exe: Executable) -> None:
        with self._lock:
            self._by_signature.setdefault(sig, exe)

    def _forget(self, sig: t.Signature, handle: CompileHandle[Executable]) -> None:
        """Drop a finished handle, unless it failed: a failure is kept, so the next call
        (tiered) or ``compile`` reports it instead of compiling the same error again."""
        with self._lock:
            failed = not handle.cancelled() and handle.exception() is not None
            if self._pending.get(sig) is handle and not failed:
                del self._pending[sig]

    def _job(self, sig: t.Signature) -> Job[Executable]:
        """This function's compilation for ``sig`` as a job of short steps (see runner)."""
        yield "parse"
        closure = Closure(self.program, sig)
        chain = default_toolchain()
        if self.cache is False:
            exe = yield from chain.job(closure, MemoryCache(), None)
        else:
            disk = self.cache if isinstance(self.cache, DiskCache) else default_disk_cache()
            exe = yield from chain.job(closure, MEMORY_CACHE, disk)
        self._install(sig, exe)  # before the handle's result is set: no window without it
        return exe

    def signature_from(self, *signature: object) -> t.Signature:
        """The Signature for ``compile``'s arguments; with none, the parameter annotations."""
        if signature:
            sig = t.make_signature(*signature)
        else:
            sig = self._annotated_signature()
        params = list(self._params.parameters)
        if len(sig.args) != len(params):
            raise TypeError(f"{self.__name__}() takes {len(params)} parameters but the "
                            f"signature {sig} has {len(sig.args)} types")
        for name, ty in zip(params, sig.args, strict=True):
            if not isinstance(ty, (t.ScalarType, t.ArrayType)):
                raise TypeError(f"{self.__name__}() parameter '{name}': {ty} arguments are not "
                                "supported (scalars and arrays are)")
        return sig

    def _annotated_signature(self) -> t.Signature:
        types = []
        for name, param in self._params.parameters.items():
            if param.annotation is inspect.Parameter.empty:
                raise TypeError(f"{self.__name__}() parameter '{name}' has no annotation: pass "
                                "a signature to compile()")
            types.append(t.as_type(param.annotation))
        ret = self._params.return_annotation
        return_type = None if ret is inspect.Signature.empty else t.as_type(ret)
        return t.Signature(tuple(types), return_type)

    @property
    def signatures(self) -> list[t.Signature]:
        """The signatures compiled so far."""
        return list(self._by_signature)

    def stages(self, *signature: object) -> Stages:
        """Run the chain for a signature and return every stage, for reading."""
        closure = Closure(self.program, self.signature_from(*signature))
        chain = default_toolchain()
        typed = chain.infer_types(closure)
        compilable = chain.lower(typed)
        optimized = chain.optimize(compilable)
        return Stages(self.definition, self.program, closure, typed, compilable, optimized,
                      chain.emit(optimized))

    def _adopt(self, signature: t.Signature, code: ObjectCode) -> None:
        """Use object code compiled elsewhere for ``signature``; code this CPU cannot run
        is left out (with a warning) and compiled again from the program when called."""
        try:
            exe = llvm.load(code)
        except IncompatibleTargetError as exc:
            if self._program is None:
                raise
            warnings.warn(f"frostline: {self.__qualname__}({signature}) will be compiled "
                          f"again: {exc}", CacheWarning, stacklevel=3)
            return
        self._by_signature[signature] = exe


Dispatcher = callable_class("frostline.Dispatcher", _DispatcherMethods)


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
             name: str, qualname: str, module: str) -> Any:
    """Unpickle a jit function: its definition, and the executables compiled for it."""
    if function is None and program is None:
        raise pickle.UnpicklingError(f"cannot restore {module}.{qualname}: neither its "
                                     "function nor its parsed program travelled")
    dispatcher = Dispatcher.__new__(Dispatcher)
    _pickling.restoring[token] = dispatcher
    try:
        fn = _unpickled_function(function)
    finally:
        del _pickling.restoring[token]
    if fn is not None:
        functools.update_wrapper(dispatcher, fn)
        dispatcher._setup(fn, Definition(fn, options), program, inspect.signature(fn), cache)
    else:
        assert program is not None
        dispatcher.__name__, dispatcher.__qualname__, dispatcher.__module__ = \
            name, qualname, module
        dispatcher.__doc__ = None
        dispatcher._setup(None, None, program, _parameters(program.entry_function), cache)
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


def _call_python(ref: weakref.ref[Any], *args: Any, **kwargs: Any) -> Any:
    """The guard's way back into Python for arguments it does not recognise."""
    dispatcher = ref()
    assert dispatcher is not None, "a dispatcher is alive while it is being called"
    return _DispatcherMethods.__call__(dispatcher, *args, **kwargs)


@overload
def jit(fn: Callable[..., Any], /) -> Dispatcher: ...
@overload
def jit(*, boundscheck: bool = ..., fastmath: bool = ..., cache: bool | DiskCache = ...,
        background: bool = ...) -> Callable[[Callable[..., Any]], Dispatcher]: ...


def jit(fn: Callable[..., Any] | None = None, /, *, boundscheck: bool = False,
        fastmath: bool = False, cache: bool | DiskCache = True,
        background: bool = False) -> Any:
    """Compile a numeric Python function: on first call per argument types, or ahead of time.

    ``boundscheck``: out-of-range indices raise IndexError (default: undefined, fast).
    ``fastmath``: allow float reassociation, so reductions vectorise (default: IEEE).
    ``cache``: reuse executables compiled from the same content, in memory and in the
    disk cache (default on; ``FROSTLINE_CACHE=0`` keeps it in memory); a ``DiskCache``
    uses that cache; False compiles every time.
    ``background``: tiered execution: a call with new argument types starts compiling
    in the background and runs the Python function; later calls use native code as soon
    as it is ready.
    """
    options = JitOptions(boundscheck=boundscheck, fastmath=fastmath)
    if fn is None:
        return lambda f: Dispatcher(f, options, cache, background)
    return Dispatcher(fn, options, cache, background)
