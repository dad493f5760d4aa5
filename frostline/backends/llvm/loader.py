"""Loading object code and turning its entry into a Python builtin.

Only the machine code is needed: no IR, no optimisation, no code generation.
Object code that carries a shared library (``sharedlib``) is opened with
``dlopen``, which needs no LLVM; otherwise ORC LLJIT links the object.  ORC
reports bad objects and unresolved symbols as exceptions, where MCJIT would
crash the process.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from frostline import types as t
from frostline.backends.llvm import sharedlib
from frostline.backends.llvm.bound import Binder
from frostline.backends.llvm.hostinfo import host_target
from frostline.errors import IncompatibleTargetError, exception_class
from frostline.stages.executable import EntryABI, Executable, ObjectCode

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

_lock = threading.Lock()
_names = itertools.count()
_jit: llvm.LLJIT | None = None

if TYPE_CHECKING:
    import llvmlite.binding as llvm


def _lljit() -> llvm.LLJIT:
    import llvmlite.binding as llvm

    from frostline.backends.llvm.target import target_machine

    global _jit
    if _jit is None:
        _jit = llvm.create_lljit_compiler(target_machine(host_target()))
    return _jit


def check_target(code: ObjectCode) -> None:
    """Refuse object code whose triple or CPU features this host lacks."""
    host = host_target()
    if code.target_triple != host.triple:
        raise IncompatibleTargetError(
            f"object code for {code.target_triple} cannot run on {host.triple}")
    have = set(host.features.split(","))
    need = {f for f in code.target_features.split(",") if f.startswith("+")}
    missing = sorted(f[1:] for f in need - have)
    if missing:
        raise IncompatibleTargetError(
            f"object code built for {code.target_cpu} needs CPU features this machine lacks: "
            + ", ".join(missing[:8]) + ("..." if len(missing) > 8 else ""))


def load(code: ObjectCode) -> Executable:
    """Link object code into this process and wrap its entry as a callable Executable."""
    check_target(code)
    if code.shared_library:
        try:
            library = sharedlib.open_library(code.shared_library)
            return _executable(code, lambda symbol: sharedlib.address(library, symbol),
                               library)
        except (OSError, AttributeError):
            pass  # e.g. an interpreter whose C API symbols are not global: ORC resolves them
    return _load_with_orc(code)


def _load_with_orc(code: ObjectCode) -> Executable:
    import llvmlite.binding as llvm

    abi = code.abi
    with _lock:
        name = f"frostline.{next(_names)}"
        builder = (llvm.JITLibraryBuilder().add_object_img(code.data).add_current_process()
                   .export_symbol(abi.symbol).export_symbol(abi.vectorcall_symbol)
                   .export_symbol(abi.bound_symbol))
        if abi.guarded:
            builder = builder.export_symbol(abi.guard_symbol)
        tracker = builder.link(_lljit(), name)
    return _executable(code, tracker.__getitem__, tracker)


def _executable(code: ObjectCode, address: Callable[[str], int], keepalive: object) -> Executable:
    """The Executable for loaded code, given how to find its symbols' addresses."""
    abi = code.abi
    entry, vectorcall = address(abi.symbol), address(abi.vectorcall_symbol)
    guard = address(abi.guard_symbol) if abi.guarded else 0
    native, owner = make_builtin(entry, abi, keepalive=keepalive)
    reporter, errors, _, _ = owner
    binder = Binder(abi, address(abi.bound_symbol), reporter.normalise, errors)
    return Executable(code, native, keepalive, vectorcall, owner, guard, binder)


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
    slot: list[Callable[..., object]] = []
    reporter = ArgumentReporter(abi, slot)
    errors = ErrorReporter(abi)
    owner = (reporter, errors, (method, name, doc, keepalive), np.ndarray)
    builtin = _new_builtin(ctypes.addressof(method), owner, None)
    slot.append(builtin)
    return builtin, owner


class ErrorReporter:
    """Turns a kernel's error number into the Python exception it stands for."""

    def __init__(self, abi: EntryABI):
        self.errors = abi.errors

    def __call__(self, number: int) -> None:
        entry = self.errors[number - 1]
        cls = exception_class(entry.module, entry.qualname)
        raise (cls(entry.message) if entry.message else cls())


class ArgumentReporter:
    """The slow path: explains why arguments did not convert, or normalises and retries."""

    def __init__(self, abi: EntryABI, native: list[Callable[..., object]]):
        self.abi = abi
        self.native = native

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.native[0](*self.normalise(args, kwargs))

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
        raise OverflowError(f"{where} = {int(value)} is out of range for {ty}")
    # NumPy integers become Python ints, which every integer entry reads directly.
    return int(value) if isinstance(value, np.integer) else value
