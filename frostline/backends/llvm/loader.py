"""Loading object code and turning its entry into a Python builtin.

Only the machine code is needed: no IR, no optimisation, no code generation.
Object code that carries a shared library (``sharedlib``) is opened with
``dlopen``, which needs no LLVM; otherwise ORC LLJIT links the object.  ORC
reports bad objects and unresolved symbols as exceptions, where MCJIT would
crash the process.

Code is loaded once per process: a registry keyed by the object code's
fingerprint holds each loaded library weakly, so loading the same code again
(``pickle.loads``, a disk-cache hit) while it is loaded maps nothing new and
makes an Executable over the library already there.  The library object
(``sharedlib.CDLL`` or ``OrcLibrary``) unloads the code when it is freed, and
everything that can call into the code holds it: the entry's owner tuple holds
it, and the builtin (its ``self``), the Executable, its BoundCalls (through the
Executable) and a dispatcher routed through its guard (``_fast_owner``) hold
the owner tuple.  A thread running the code is inside a call of one of them,
which holds it for the length of the call.  The entry's objects form no
reference cycle, so the code is unloaded as soon as the last of them goes.

Unloading happens after the library's weak references are cleared
(``sharedlib.Unloader``), so the registry never hands out a library being
unloaded; loads hold a lock, so two threads loading the same code load it once;
a fork waits for loads (and LLVM calls) in other threads to finish, so the
child's registry, locks and ORC state are whole; nothing is unloaded while the
interpreter finalizes.  One thing is not covered: code called from a
``__del__`` of an object in the same garbage cycle as the last holder of its
library may find it unloaded, as the collector clears weak references first.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from frostline import parallel
from frostline import types as t
from frostline.backends.llvm import callcontext, sharedlib
from frostline.backends.llvm.bound import Binder
from frostline.backends.llvm.hostinfo import host_target
from frostline.errors import IncompatibleTargetError, exception_class
from frostline.stages.executable import EntryABI, Executable, ObjectCode
from frostline.stats import NATIVE

__all__ = ["IncompatibleTargetError", "check_target", "load"]

METH_FASTCALL = 0x80
#: The smallest int whose conversion to float overflows (2**1024 rounds to infinity
#: from 2**1024 - 2**970 up).
_FLOAT_LIMIT = (1 << 1024) - (1 << 970)


class _PyMethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


_new_builtin = ctypes.pythonapi.PyCFunction_NewEx
_new_builtin.restype = ctypes.py_object
_new_builtin.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]

if TYPE_CHECKING:
    import llvmlite.binding as llvm


class LoadedLibrary(Protocol):
    """Code mapped into this process, unmapped when the object is freed."""

    #: What was loaded; set by ``load``, which makes every Executable of the library
    #: share it (an unpickled ObjectCode is a new copy of its bytes each time).
    object_code: ObjectCode

    def address(self, symbol: str) -> int:
        """The address of an exported symbol."""
        ...


#: Reentrant: a garbage collection while a load holds it may run code that loads.
_lock = threading.RLock()
#: The loaded libraries, by the fingerprint of their object code.
_libraries: weakref.WeakValueDictionary[str, LoadedLibrary] = weakref.WeakValueDictionary()


def _before_fork() -> None:
    """Fork only when no load is half done and no thread is inside LLVM.

    A child has only the forking thread: a lock another thread held, or ORC state
    it was changing, would stay so in the child for ever.  The same order as a
    load takes them: frostline's lock, then llvmlite's (every llvmlite call holds
    it, and ORC is changed only inside such calls).
    """
    _lock.acquire()
    llvm_lock = _llvm_lock()
    if llvm_lock is not None:
        llvm_lock.acquire()


def _after_fork() -> None:
    llvm_lock = _llvm_lock()
    if llvm_lock is not None:
        llvm_lock.release()
    _lock.release()


def _llvm_lock() -> Any:
    """llvmlite's process-wide lock (private: ``ffi.lib._lock._lock``), if it is imported."""
    ffi = sys.modules.get("llvmlite.binding.ffi")
    return getattr(getattr(getattr(ffi, "lib", None), "_lock", None), "_lock", None)


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                    after_in_child=_after_fork)


def check_target(code: ObjectCode) -> None:
    """Refuse object code whose triple or CPU features this host lacks."""
    host = host_target()
    if code.target_triple != host.triple:
        raise IncompatibleTargetError(
            f"object code for {code.target_triple} cannot run on {host.triple}")
    missing = _missing_features(code.target_features, host.features)
    if missing:
        raise IncompatibleTargetError(
            f"object code built for {code.target_cpu} needs CPU features this machine lacks: "
            + ", ".join(missing[:8]) + ("..." if len(missing) > 8 else ""))


@functools.lru_cache(maxsize=64)  # loading the same code again checks nothing again
def _missing_features(need: str, have: str) -> tuple[str, ...]:
    """The features ``need`` enables (``+name``) that ``have`` lacks, sorted."""
    enabled = {f for f in need.split(",") if f.startswith("+")}
    return tuple(sorted(f[1:] for f in enabled - set(have.split(","))))


def load(code: ObjectCode) -> Executable:
    """Link object code into this process and wrap its entry as a callable Executable.

    Code with the fingerprint of code already loaded is not loaded again: the new
    Executable calls the same library."""
    check_target(code)
    key = code.fingerprint
    with _lock:  # two threads loading the same code load it once
        library = _libraries.get(key)
        if library is None:
            exe = _link(code)
            library = _libraries[key] = exe.resources  # type: ignore[attr-defined]
            library.object_code = code
            return exe
        if code.shared_library and not library.object_code.shared_library:
            library.object_code = code  # pickling it again links nothing
        return _executable(library.object_code, library)


def _link(code: ObjectCode) -> Executable:
    """Map ``code`` into this process: its shared library if it opens, else through ORC."""
    if code.shared_library:
        try:
            return _executable(code, sharedlib.open_library(code.shared_library))
        except OSError:
            pass  # e.g. an interpreter whose C API symbols are not global: ORC resolves them
    return _executable(code, _load_with_orc(code))


class _JitSession:
    """One LLJIT, and how many libraries it has released.

    Releasing an ORC library (disposing of its ResourceTracker, which is what
    llvmlite 0.50 does when one is freed) clears its JITDylib and frees the code,
    but leaves the emptied JITDylib behind, about 9 KB, until the LLJIT itself is
    disposed of.  So after ``RELEASES`` of them new code goes to a new session,
    and the old one goes with its last library.
    """

    RELEASES = 128

    def __init__(self) -> None:
        import llvmlite.binding as llvm

        from frostline.backends.llvm.target import target_machine

        self.jit: llvm.LLJIT = llvm.create_lljit_compiler(target_machine(host_target()))
        self.released = 0


class OrcLibrary:
    """Object code linked by ORC LLJIT, released when this object is freed."""

    def __init__(self, tracker: llvm.ResourceTracker, session: _JitSession):
        self.tracker = tracker
        # The tracker goes first, then the session: the LLJIT outlives its libraries.
        self._unloader = sharedlib.Unloader(_release, tracker, session)

    def address(self, symbol: str) -> int:
        """The address of an exported symbol."""
        return self.tracker[symbol]  # type: ignore[no-any-return]


def _release(tracker: llvm.ResourceTracker, session: _JitSession) -> None:
    """Dispose of ``tracker``: ORC clears its JITDylib, freeing the code."""
    tracker.close()
    session.released += 1  # not exact under threads: it only says when to start anew


_session: _JitSession | None = None
_orc_names = itertools.count()


def _load_with_orc(code: ObjectCode) -> OrcLibrary:
    """Link ``code`` with ORC (the caller holds ``_lock``)."""
    import llvmlite.binding as llvm

    global _session
    if _session is None or _session.released >= _JitSession.RELEASES:
        _session = _JitSession()
    abi = code.abi
    builder = (llvm.JITLibraryBuilder().add_object_img(code.data).add_current_process()
               .export_symbol(abi.symbol).export_symbol(abi.vectorcall_symbol)
               .export_symbol(abi.bound_symbol).export_symbol(abi.runtime_symbol))
    if abi.guarded:
        builder = builder.export_symbol(abi.guard_symbol)
    # Names must be unique per LLJIT, and one released cannot be used again.
    return OrcLibrary(builder.link(_session.jit, f"frostline.{next(_orc_names)}"), _session)


def _fill_runtime(library: LoadedLibrary, abi: EntryABI) -> None:
    """Point the library's runtime record (``memory``) at this process's allocation
    counters, NumPy's C API table and, in a library with parallel loops, the thread
    pool (``frostline.parallel``)."""
    record = (ctypes.c_void_p * 4).from_address(library.address(abi.runtime_symbol))
    record[0] = ctypes.addressof(NATIVE)
    record[1] = _numpy_api()
    if record[3]:  # parallel loops: the process's pool (its threads may run this library)
        record[2] = parallel.pool_for(record[3], library)


@functools.cache
def _numpy_api() -> int:
    """The address of NumPy's C API table (what ``import_array()`` reads in C)."""
    from numpy._core import _multiarray_umath

    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get(_multiarray_umath._ARRAY_API, None)  # type: ignore[no-any-return]


def _executable(code: ObjectCode, library: LoadedLibrary) -> Executable:
    """The Executable for code loaded as ``library``."""
    abi = code.abi
    address = library.address
    _fill_runtime(library, abi)
    entry, vectorcall = address(abi.symbol), address(abi.vectorcall_symbol)
    guard = address(abi.guard_symbol) if abi.guarded else 0
    native, owner = make_builtin(entry, abi, keepalive=library)
    reporter, errors, _, _ = owner
    binder = Binder(abi, address(abi.bound_symbol), reporter.normalise, errors)
    return Executable(code, native, library, vectorcall, owner, guard, binder)


def make_builtin(address: int, abi: EntryABI, keepalive: object
                 ) -> tuple[Callable[..., object],
                            tuple[ArgumentReporter, ErrorReporter, object, type]]:
    """A builtin function calling the METH_FASTCALL entry at ``address``, and its ``self``.

    ``self`` (the owner tuple) holds the slow-path reporters, keeps the method
    definition and the linked code alive, and gives the entry ``numpy.ndarray``
    (``wrapper.OWNER_NDARRAY``), the type array arguments must have.
    """
    name = abi.function_name.encode()
    doc = f"{abi.as_text()}\n\nCompiled by frostline.".encode()
    method = _PyMethodDef(name, address, METH_FASTCALL, doc)
    slot: list[weakref.ref[Callable[..., object]]] = []
    reporter = ArgumentReporter(abi, slot)
    errors = ErrorReporter(abi)
    owner = (reporter, errors, (method, name, doc, keepalive), np.ndarray)
    builtin = _new_builtin(ctypes.addressof(method), owner, None)
    slot.append(weakref.ref(builtin))  # weakly: the builtin holds the owner tuple
    return builtin, owner


class ErrorReporter:
    """Turns a kernel's error number into the Python exception it stands for."""

    def __init__(self, abi: EntryABI):
        self.errors = abi.errors

    def __call__(self, number: int, context: int = 0) -> None:
        entry = self.errors[number - 1]
        cls = exception_class(entry.module, entry.qualname)
        message = entry.message
        if entry.detail == "shapes" and context:
            message = _shapes_message(message, context)
        raise (cls(message) if message else cls())


def _shapes_message(template: str, context: int) -> str:
    """A message with the array shapes a kernel left in its call's context (``stack``):
    a count, then each shape as its rank and extents."""
    words = (ctypes.c_int64 * callcontext.CONTEXT_WORDS).from_address(
        context)[callcontext.PAYLOAD:]
    shapes: list[str] = []
    extents: list[list[int]] = []
    at = 1
    for _ in range(min(words[0], len(words))):
        if at >= len(words):
            break
        rank = words[at]
        dims = words[at + 1:at + 1 + rank]
        at += 1 + rank
        extents.append(list(dims))
        shapes.append("(" + ",".join(map(str, dims)) + ("," if rank == 1 else "") + ")")
    firsts = {f"n{k}": dims[0] if dims else "" for k, dims in enumerate(extents)}
    sizes = {f"bytes{k}": _size_text(dims[0]) for k, dims in enumerate(extents) if dims}
    tuples = {f"tuple{k}": str(tuple(dims)) for k, dims in enumerate(extents)}
    return template.format(*shapes, all=" ".join(shapes), **firsts, **sizes, **tuples)


def _size_text(nbytes: int) -> str:
    """A size as NumPy's MemoryError writes it: ``745. GiB``, ``100 bytes``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    k = min(max(nbytes.bit_length() - 1, 1) // 10, len(units) - 1)
    value = nbytes / (1 << (10 * k))
    if round(value) >= 1024 and k + 1 < len(units):
        k, value = k + 1, value / 1024
    return f"{nbytes} bytes" if k == 0 else f"{value:#.3g} {units[k]}"


class ArgumentReporter:
    """The slow path: explains why arguments did not convert, or normalises and retries."""

    def __init__(self, abi: EntryABI, native: list[weakref.ref[Callable[..., object]]]):
        self.abi = abi
        #: The builtin, weakly.  The entry is called through the builtin, or through the
        #: Executable or a dispatcher holding the Executable, which holds the builtin.
        self.native = native

    def __call__(self, *args: object, **kwargs: object) -> object:
        fixed = self.normalise(args, kwargs)
        native = self.native[0]()
        if native is None:  # pragma: no cover - see native
            raise RuntimeError(f"{self.abi.function_name}() was called after its "
                               "executable was freed")
        return native(*fixed)

    def normalise(self, args: tuple[object, ...],
                  kwargs: dict[str, object]) -> tuple[object, ...]:
        """The arguments converted to what the fast path accepts; the TypeError (or
        OverflowError) naming the parameter when they cannot be."""
        abi = self.abi
        name = abi.function_name
        if kwargs:
            raise TypeError(f"{name}() takes no keyword arguments (an Executable takes "
                            "positional arguments only)")
        n = len(abi.param_names)
        if len(args) < n:
            missing = [f"'{p}'" for p in abi.param_names[len(args):]]
            listed = missing[0] if len(missing) == 1 else \
                ", ".join(missing[:-1]) + " and " + missing[-1]
            raise TypeError(f"{name}() missing {len(missing)} required positional "
                            f"argument{'s' * (len(missing) != 1)}: {listed}")
        if len(args) > n:
            raise TypeError(f"{name}() takes {n} positional argument{'s' * (n != 1)} but "
                            f"{len(args)} {'was' if len(args) == 1 else 'were'} given")
        fixed = list(args)
        changed = False
        for k, (param, ty, value) in enumerate(zip(abi.param_names, abi.arg_types, args,
                                                   strict=True)):
            new = check_argument(name, param, ty, value, param in abi.written_params)
            if new is not value:
                fixed[k] = new
                changed = True
        if not changed:
            raise TypeError(f"{name}(): arguments do not match the signature "
                            f"{abi.as_text()}")
        return tuple(fixed)


def check_argument(func: str, param: str, ty: t.Type, value: object, written: bool) -> object:
    """Raise a TypeError naming ``param`` if ``value`` cannot be passed as ``ty``.

    Returns the value, or a converted one (a NumPy bool for a bool parameter)
    that the fast path accepts.
    """
    where = f"{func}() argument '{param}'"
    if isinstance(ty, t.ArrayType):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{where} must be a {ty} array, not {type(value).__name__}")
        try:
            got = t.typeof(value)
        except TypeError:
            raise TypeError(f"{where} must be a {ty} array, got an array of "
                            f"{value.dtype}") from None
        assert isinstance(got, t.ArrayType)
        if got.dtype != ty.dtype:
            raise TypeError(f"{where} must be a {ty} array, got {value.dtype} elements")
        if got.ndim != ty.ndim:
            raise TypeError(f"{where} must be a {ty.ndim}-dimensional array, got "
                            f"{got.ndim} dimensions")
        if not t.accepts(ty, got):
            order = {"C": "C-contiguous", "F": "Fortran-contiguous"}[ty.layout]
            raise TypeError(f"{where} must be {order} ({ty}), got a {got} array")
        if written and not value.flags.writeable:
            raise TypeError(f"{where} must be a writable array: the kernel writes to it")
        return value
    assert isinstance(ty, t.ScalarType)
    if ty.is_bool:
        if value is True or value is False:
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        raise TypeError(f"{where} must be bool, not {type(value).__name__}")
    if ty.is_float:
        if isinstance(value, int):  # the entry reads ints (and bools) itself
            if abs(value) >= _FLOAT_LIMIT:
                raise OverflowError(f"{where} is an int too large to convert to {ty}")
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, (np.floating, np.integer)):
            return float(value)  # the entry reads Python numbers only
        raise TypeError(f"{where} must be {ty}, not {type(value).__name__}")
    if isinstance(value, (float, np.floating)):
        raise TypeError(f"{where} must be {ty}, not {type(value).__name__}")
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where} must be {ty}, not {type(value).__name__}")
    info = np.iinfo(ty.numpy_dtype)
    if not info.min <= int(value) <= info.max:
        shown = str(int(value))
        if len(shown) > 40:
            shown = f"{shown[:12]}...{shown[-4:]} ({len(shown.lstrip('-'))} digits)"
        raise OverflowError(f"{where} = {shown} is out of range for {ty}")
    # NumPy integers become Python ints, which every integer entry reads directly.
    return int(value) if isinstance(value, np.integer) else value
