"""``fl.jit``: a function that compiles itself for the argument types it is called with."""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any, overload

import attrs
import numpy as np

from frostline import dispatch_pickle, forksafe, stats
from frostline import types as t
from frostline._vectorcall import callable_class, set_entry
from frostline.backends import llvm
from frostline.batch import Batch, BatchRunning, assemble
from frostline.compiling import MEMORY_CACHE, Compiling  # noqa: F401 - (imported from here)
from frostline.errors import CompileError, IncompatibleTargetError
from frostline.modes import (
    ExecutionMode,
    FallbackWarning,
    single_call_steps,
    warn_at_caller,
)
from frostline.per_function import per_function
from frostline.stages.ast import ProgramAST
from frostline.stages.closure import Closure
from frostline.stages.definition import Definition, JitOptions
from frostline.stages.executable import Executable, ObjectCode
from frostline.stages.program import CompilableProgram, OptimizedProgram
from frostline.stages.typed import TypedProgram
from frostline.toolchain.cache import CacheWarning, DiskCache
from frostline.toolchain.frontend import parse
from frostline.toolchain.pipeline import default_toolchain
from frostline.toolchain.runner import (
    CompileHandle,
)

# Pickles name these (frostline before 0.1 wrote them here).
_restore, _restoring = dispatch_pickle._restore, dispatch_pickle._restoring



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


class _DispatcherMethods(Compiling, BatchRunning):
    """A jit function: call it, or ``.compile(signature)`` it ahead of time.

    Calls go first through the dispatch guard of the executable used last, emitted
    in IR: when every argument has exactly that executable's type the call costs
    about as much as calling the executable; anything else takes the Python path
    (``__call__``), which finds or compiles the executable and points the guard
    at it.
    """

    def __init__(self, fn: Callable[..., Any], options: JitOptions,
                 cache: bool | DiskCache = True, background: bool = False,
                 mode: ExecutionMode | str = ExecutionMode.WHOLE, *, isolated: Any = False,
                 signatures: Sequence[object] = ()):
        if not inspect.isfunction(fn):
            raise TypeError(f"fl.jit needs a Python function, not {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self._setup(fn, Definition(fn, options), None, inspect.signature(fn), cache,
                    background, ExecutionMode.parse(mode), isolated)
        self.declared_signatures = tuple(
            self.signature_from(*s) if isinstance(s, tuple) else self.signature_from(s)
            for s in signatures)

    def _setup(self, fn: Callable[..., Any] | None, definition: Definition | None,
               program: ProgramAST | None, params: inspect.Signature,
               cache: bool | DiskCache, background: bool = False,
               mode: ExecutionMode = ExecutionMode.WHOLE, isolated: Any = False,
               declared: tuple[t.Signature, ...] = ()) -> None:
        #: ``fl.jit(isolated=...)``: compile in the process-wide compiler pool (True), in
        #: a given ``CompilerPool``, or in this process (False; ``FROSTLINE_ISOLATE=1``
        #: says True).
        self.isolated = isolated
        #: ``fl.jit(signatures=[...])``: what ``frostline build`` compiles ahead of time.
        self.declared_signatures = declared
        self.py_func = fn
        self.__frostline_function__ = fn
        self.definition = definition
        self.cache = cache
        self.background = background and fn is not None  # tiering needs the Python version
        self.mode = mode
        self._fallback = bool(mode & ExecutionMode.FALLBACK)
        self._single_steps = single_call_steps(mode)
        #: Compilations running in the background, and failed ones (kept, so the same
        #: error is reported again instead of compiled again).
        self._pending: dict[t.Signature, CompileHandle[Executable]] = {}
        #: What runs a signature whose whole compilation failed under FALLBACK.
        self._fallen: dict[t.Signature, Callable[..., Any]] = {}
        self._per_function_copy: Callable[..., Any] | None = None
        self._runs: dict[tuple[object, ...], Callable[[Batch], Any]] = {}
        self._drivers: dict[tuple[tuple[bool, ...], int], Any] = {}
        self._program = program
        self._options = definition.options if definition else program.options  # type: ignore
        #: Call key -> what runs those calls: an Executable, or Python under a mode.
        self._by_key: dict[tuple[object, ...], Callable[..., Any]] = {}
        self._by_signature: dict[t.Signature, Executable] = {}
        self._lock = threading.RLock()
        forksafe.renew_locks(self, "_lock")
        self._params = params
        self._nparams = len(params.parameters)
        #: Whether every parameter is plain positional: the only kind kernels have.
        self._plain = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                          for p in params.parameters.values())
        self._unplain_target: Callable[..., Any] | None = None
        self._param_names = tuple(params.parameters)
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
        """Pickle the definition by value with the object code of every compiled
        signature (``dispatch_pickle``)."""
        return dispatch_pickle.reduce(self)

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                   method: str = "") -> tuple[Any, ...]:
        """Positional arguments with keywords and defaults filled in, as Python binds them."""
        try:
            bound = self._params.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.__name__}{method}() {exc}") from None
        bound.apply_defaults()
        return bound.args

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._plain:  # never compiles: the mode says what runs it
            if self._unplain_target is None:
                self._unplain_target = self._target_for(args)
            return self._unplain_target(*args, **kwargs)  # type: ignore[misc]
        if kwargs or len(args) != self._nparams:
            args = self._arguments(args, kwargs)
        key = _call_key(args)
        target = self._by_key.get(key)
        if target is None:
            target = self._target_for(args)
            if target is None:  # tiered, and the native code is not ready yet
                stats.bump("python_calls")
                return self.py_func(*args)  # type: ignore[misc]
            with self._lock:
                self._by_key[key] = target
        if type(target) is Executable and target.guard \
                and self._fast_owner[1] is not target._owner:
            self._use(target)
        return target(*args)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function once per batch element, in one native loop under ``RUN``.

        Every array argument carries a leading batch axis (call ``k`` gets ``a[k]``:
        a number for a 1-D array, a row view otherwise); a scalar is given once and
        passed to every call.  Returns an array of the results (a tuple of arrays
        for a function returning a tuple, None for one returning None).  Without
        ``RUN`` in the mode, or after a fallback, the calls run one by one.
        """
        if not self._plain:  # never compiles: without FALLBACK the parse error stands
            if not self._fallback:
                self._parse_error()
            batch = Batch.of(self.__name__, [str(k) for k in range(len(args))], args)
            return assemble([self(*batch.element(k), **kwargs) for k in range(batch.n)], None)
        if kwargs or len(args) != self._nparams:
            args = self._arguments(args, kwargs, ".run")
        batch = Batch.of(self.__name__, self._param_names, args)
        key = (batch.batched, _call_key(batch.args))
        plan = self._runs.get(key)
        if plan is None:
            plan = self._plan_run(batch)
            if plan is None:  # tiered, and the native loop is not ready yet
                return self._run_calls(batch)
            with self._lock:
                self._runs[key] = plan
        return plan(batch)

    def bind(self, *args: Any, context: Any = None, **kwargs: Any) -> Callable[[], Any]:
        """A callable taking no arguments that calls this function with ``args``.

        When the arguments' types run compiled it is the executable's bound call
        (``Executable.bind``: arguments converted once, the same one again for the
        same ``context`` key and arguments); compiling waits, even with
        ``background=True``.  When the mode runs them as Python (or per function),
        it is a plain partial application: there is nothing to convert.
        """
        if not self._plain:
            return functools.partial(self, *args, **kwargs)  # runs as the mode says
        if kwargs or len(args) != self._nparams:
            args = self._arguments(args, kwargs, ".bind")
        target = self._by_key.get(_call_key(args)) or self._target_for(args)
        if target is None:  # tiered and not ready: a bound call is native, so wait
            target = self.compile(t.Signature(self._argument_types(args)))
        if type(target) is Executable:
            return target.bind(*args, context=context)  # type: ignore[no-any-return]
        return functools.partial(target, *args)

    def _use(self, exe: Executable) -> None:
        """Route calls through ``exe``'s guard until another executable is needed."""
        # The owner tuple reaches the dispatcher only weakly: no reference cycle.
        owner = (functools.partial(_call_python, weakref.ref(self)), exe._owner, np.ndarray)
        self._fast_owner = owner
        set_entry(self, exe.guard, owner)

    def _target_for(self, args: tuple[Any, ...]) -> Callable[..., Any] | None:
        """What runs a call with these arguments, walking the mode's granularities.

        WHOLE: the executable for the arguments' types, compiled now or, with
        ``background=True``, in the background (None until it is ready).  A failure
        raises, or under FALLBACK warns once and steps down: PER_FUNCTION, PYTHON.
        """
        steps = self._single_steps
        failed: t.Signature | None = None  # whose whole compilation failed just now
        for granularity, following in zip(steps, steps[1:] + (ExecutionMode.PYTHON,),
                                          strict=True):
            if granularity is not ExecutionMode.WHOLE:
                if granularity is ExecutionMode.PYTHON:
                    target = self._python()
                else:
                    try:
                        target = self._per_function()
                    except Exception as exc:
                        self._fall_back(self.__qualname__, granularity, "per_function", exc,
                                        following)
                        continue
                if failed is not None:  # later calls with these types come straight here
                    self._fallen[failed] = target
                return target
            try:
                sig = self._declared(self._argument_types(args))
            except (TypeError, CompileError) as exc:
                types = ", ".join(type(a).__name__ for a in args)
                self._fall_back(f"{self.__qualname__}({types})", granularity,
                                "parse" if isinstance(exc, CompileError) else "arguments",
                                exc, following)
                continue
            fallen = self._fallen.get(sig)
            if fallen is not None:
                return fallen
            handle = self._handle(sig)
            if handle is None:
                return None
            error = handle.exception()
            if error is None:
                return handle.result()  # type: ignore[no-any-return]
            self._fall_back(f"{self.__qualname__}{sig}", granularity, handle.stage, error,
                            following)
            failed = sig
        raise AssertionError("a mode's last step is PYTHON or raises")  # pragma: no cover

    def _fall_back(self, what: str, granularity: ExecutionMode, stage: str,
                   error: BaseException, following: ExecutionMode) -> None:
        """Step down from ``granularity``: one FallbackWarning, or raise without FALLBACK."""
        if not self._fallback or self.py_func is None:  # nothing to step down to
            raise error
        stats.bump(f"fallbacks_{granularity.label}")
        warn_at_caller(FallbackWarning(what, granularity, stage, error, following))

    def _python(self) -> Callable[..., Any]:
        if self.py_func is None:
            raise TypeError(f"{self.__qualname__} has no Python function to run (it was "
                            "unpickled without one)")
        return self.py_func

    def _per_function(self) -> Callable[..., Any]:
        """The function as Python, calling each kernel it calls as its own jit function."""
        if self._per_function_copy is None:
            mode = ExecutionMode.WHOLE | (self.mode & ExecutionMode.FALLBACK)

            def wrap(fn: Callable[..., Any], options: JitOptions | None) -> Any:
                return Dispatcher(fn, options or self.options, self.cache, self.background,
                                  mode)

            self._per_function_copy = per_function(self._python(), wrap)  # type: ignore
        return self._per_function_copy

    def _declared(self, types: tuple[t.Type, ...]) -> t.Signature:
        """The signature a call with arguments of these types compiles or finds: the
        declared one with these types, else one declaring any layout for these arrays,
        else the types alone."""
        fits = [s for s in self.declared_signatures if s.args == types]
        fits += [s for s in self.declared_signatures if all(
            d == a or (isinstance(a, t.ArrayType) and d == a.with_layout("A"))
            for d, a in zip(s.args, types, strict=True))]
        return fits[0] if fits else t.Signature(types)

    def _argument_types(self, args: tuple[Any, ...]) -> tuple[t.Type, ...]:
        """The types of a call's arguments; the parse step's CompileError where the
        parameters (keyword-only, ``*args``) or a default (a list) are outside the
        language, so the error points at the function."""
        if not self._plain:
            self._parse_error()
        types = []
        for (name, param), value in zip(self._params.parameters.items(), args, strict=True):
            try:
                ty = t.typeof(value)
            except TypeError as exc:
                if value is param.default:
                    self._parse_error()
                raise TypeError(f"{self.__name__}() argument '{name}': {exc}") from None
            if not isinstance(ty, (t.ScalarType, t.ArrayType)):
                raise TypeError(f"{self.__name__}() argument '{name}' must be a number or a "
                                f"NumPy array, not {type(value).__name__}")
            types.append(ty)
        return tuple(types)

    def _parse_error(self) -> None:
        """Raise the CompileError parsing the function gives (it is known to give one)."""
        self.program  # noqa: B018 - parsing raises
        raise AssertionError(f"{self.__qualname__} parsed, yet it cannot be called as a "
                             "kernel")  # pragma: no cover

    def signature_from(self, *signature: object) -> t.Signature:
        """The Signature for ``compile``'s arguments; with none, the parameter annotations."""
        if not self._plain:
            self._parse_error()
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


def _call_python(ref: weakref.ref[Any], *args: Any, **kwargs: Any) -> Any:
    """The guard's way back into Python for arguments it does not recognise."""
    dispatcher = ref()
    assert dispatcher is not None, "a dispatcher is alive while it is being called"
    return _DispatcherMethods.__call__(dispatcher, *args, **kwargs)


@overload
def jit(fn: Callable[..., Any], /) -> Dispatcher: ...
@overload
def jit(*, boundscheck: bool = ..., fastmath: bool = ..., cache: bool | DiskCache = ...,
        background: bool = ..., mode: ExecutionMode | str = ..., isolated: Any = ...,
        signatures: Sequence[object] = ...) -> Callable[[Callable[..., Any]], Dispatcher]: ...


def jit(fn: Callable[..., Any] | None = None, /, *, boundscheck: bool = False,
        fastmath: bool = False, cache: bool | DiskCache = True,
        background: bool = False, mode: ExecutionMode | str = ExecutionMode.WHOLE,
        isolated: Any = False, signatures: Sequence[object] = ()) -> Any:
    """Compile a numeric Python function: on first call per argument types, or ahead of time.

    ``boundscheck``: out-of-range indices raise IndexError (default: undefined, fast).
    ``fastmath``: allow float reassociation, so reductions vectorise (default: IEEE).
    ``cache``: reuse executables compiled from the same content, in memory and in the
    disk cache (default on; ``FROSTLINE_CACHE=0`` keeps it in memory); a ``DiskCache``
    uses that cache; False compiles every time.
    ``background``: tiered execution: a call with new argument types starts compiling
    in the background and runs the Python function; later calls use native code as soon
    as it is ready.
    ``mode``: an ``fl.ExecutionMode`` or its name (``"auto"``, ``"whole"``,
    ``"per_function"``, ``"python"``, ``"run"``, combined with ``|``): the granularity
    calls run at, and with ``AUTO`` graceful fallback (a ``FallbackWarning`` and the
    next granularity) instead of an error when compilation fails.  See docs/modes.md.
    ``isolated``: compile in a compiler worker process (the process-wide pool, or the
    ``fl.CompilerPool`` given), so a compiler crash is a ``WorkerCrashed`` error, not a
    dead interpreter; until a worker is up, compiles run in this process.  See
    docs/pool.md.
    ``signatures``: signatures (strings like ``"float64(float64[::1])"`` or tuples of
    types) that ``frostline build`` compiles ahead of time; nothing compiles at import,
    and a call with arguments of a declared signature's types (an array of any layout
    for a declared ``[:]``) uses it, from the cache, a bundle, or compiled then.
    """
    options = JitOptions(boundscheck=boundscheck, fastmath=fastmath)
    parsed = ExecutionMode.parse(mode)

    def make(f: Callable[..., Any]) -> Dispatcher:
        return Dispatcher(f, options, cache, background, parsed, isolated=isolated,
                          signatures=signatures)

    return make if fn is None else make(fn)
