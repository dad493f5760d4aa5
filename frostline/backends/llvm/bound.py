"""Bound calls: the arguments converted to their native form once, the kernel called with none.

``Executable.bind`` converts the arguments here, in Python, by the entry's own
rules (``wrapper.EntryEmitter``): the same C API call on each object
(``PyFloat_AsDouble``, ``PyLong_AsLongLong``, ``PyLong_AsUnsignedLongLong``,
``PyObject_GetBuffer`` with the same flags), the same range, dimension, item
size and format checks, from the definitions below that the IR is built from
too.  Where the entry would hand the arguments to its argument reporter, so
does bind, so it raises what a call raises; binding is a one-time cost, so it
need not be fast, and the compiled code gains one small function only:
``<symbol>.bound`` (``wrapper.emit_bound``), the vectorcall function of a
``BoundCall``, which calls the kernel on the packed arguments in its owner tuple.

The packed form is a row of 8-byte words: a scalar takes one word (its value
in the first bytes), an array ``1 + 2 * ndim`` words (data pointer, shape,
strides in bytes: the kernel's own array struct).  ``packed_field`` is the one
definition of that layout, for the IR and for Python.  This module imports no
LLVM: a process that loads cached code binds without it.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from frostline import types as t
from frostline.stages.executable import BoundCall, EntryABI, Executable

WORD = 8

PYBUF_WRITABLE, PYBUF_FORMAT, PYBUF_STRIDES = 0x1, 0x4, 0x18
PYBUF_C_CONTIGUOUS, PYBUF_F_CONTIGUOUS = 0x38, 0x58
#: Format prefixes the entry skips (one at most): native byte order, which on the
#: little-endian targets frostline supports is also ``<``.  ``>`` and ``!`` are refused.
NATIVE_ORDER_PREFIXES = b"@=<"


def buffer_flags(ty: t.ArrayType, writable: bool) -> int:
    """The flags the entry asks ``PyObject_GetBuffer`` for: the layout of ``ty``, the
    format, and writability for an array the kernel writes to."""
    flags = PYBUF_FORMAT | {"C": PYBUF_C_CONTIGUOUS, "F": PYBUF_F_CONTIGUOUS}.get(
        ty.layout, PYBUF_STRIDES)
    return flags | PYBUF_WRITABLE if writable else flags


@functools.cache
def buffer_formats(dtype: t.ScalarType) -> bytes:
    """The struct-module format characters a buffer of this dtype may report."""
    if dtype.is_bool:
        return b"?"
    chars = {"i": "bhilq", "u": "BHILQ", "f": "fd"}[dtype.kind]
    return bytes(c for c in chars.encode() if struct.calcsize(chr(c)) == dtype.itemsize)


def integer_range(ty: t.ScalarType) -> tuple[int, int]:
    """The smallest and largest value of an integer type."""
    if ty.kind == "u":
        return 0, (1 << ty.bits) - 1
    return -(1 << (ty.bits - 1)), (1 << (ty.bits - 1)) - 1


def packed_field(ty: t.Type) -> str:
    """The ``struct`` format (native) of one argument in the packed form: a scalar in the
    first bytes of a word, an array its data pointer, shape, strides and owner (none)."""
    if isinstance(ty, t.ArrayType):
        return "P" + "q" * (2 * ty.ndim) + "P"
    assert isinstance(ty, t.ScalarType)
    if ty.is_bool:
        code = "?"
    elif ty.is_float:
        code = "f" if ty.bits == 32 else "d"
    else:
        code = {8: "b", 16: "h", 32: "i", 64: "q"}[ty.bits]
        code = code.upper() if ty.kind == "u" else code
    return f"{code}{WORD - struct.calcsize(code)}x"


def packed_offsets(arg_types: tuple[t.Type, ...]) -> tuple[tuple[int, ...], int]:
    """The word offset of each argument in the packed form, and the number of words."""
    offsets = []
    words = 0
    for ty in arg_types:
        offsets.append(words)
        words += struct.calcsize(packed_field(ty)) // WORD
    return tuple(offsets), words


class PyBuffer(ctypes.Structure):
    """Py_buffer from CPython's object.h (``wrapper.PY_BUFFER`` is the same struct in IR)."""

    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.POINTER(ctypes.c_ssize_t)),
                ("strides", ctypes.POINTER(ctypes.c_ssize_t)),
                ("suboffsets", ctypes.POINTER(ctypes.c_ssize_t)), ("internal", ctypes.c_void_p)]


def _api(name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """A C API function of this interpreter, called with the GIL held; a Python error it
    sets is raised (private prototypes: ``ctypes.pythonapi``'s are shared by everyone)."""
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


_as_double = _api("PyFloat_AsDouble", ctypes.c_double, ctypes.py_object)
_as_long_long = _api("PyLong_AsLongLong", ctypes.c_longlong, ctypes.py_object)
_as_unsigned_long_long = _api("PyLong_AsUnsignedLongLong", ctypes.c_ulonglong,
                              ctypes.py_object)
_get_buffer = _api("PyObject_GetBuffer", ctypes.c_int, ctypes.py_object,
                   ctypes.POINTER(PyBuffer), ctypes.c_int)
_release_buffer = _api("PyBuffer_Release", None, ctypes.POINTER(PyBuffer))


def native_values(value: object, ty: t.Type, written: bool) -> tuple[object, ...]:
    """What the entry reads from ``value`` for a parameter of type ``ty``, as the values of
    its ``packed_field``; an exception where the entry takes its slow path.

    The entry takes arrays only from NumPy arrays, floats from floats and ints, ints
    from ints (``wrapper.EntryEmitter.unbox``); everything else goes to its argument
    reporter, which converts what the rules accept or raises.
    """
    if isinstance(ty, t.ArrayType):
        if not isinstance(value, np.ndarray):
            raise TypeError("not a NumPy array")
        return _buffer_values(value, ty, written)
    assert isinstance(ty, t.ScalarType)
    if ty.is_bool:
        if value is True or value is False:
            return (value,)
        raise TypeError("not a bool")
    if ty.is_float:
        if not isinstance(value, (float, int)):
            raise TypeError("not a float or int")
        number = _as_double(value)
        return (ctypes.c_float(number).value if ty.bits == 32 else number,)  # C's rounding
    if not isinstance(value, int):
        raise TypeError("not an int")
    if ty.kind == "u" and ty.bits == 64:
        return (_as_unsigned_long_long(value),)
    number = _as_long_long(value)
    lo, hi = integer_range(ty)
    if not lo <= number <= hi:
        raise OverflowError(f"out of range for {ty}")
    return (number,)


def _buffer_values(value: object, ty: t.ArrayType, written: bool) -> tuple[object, ...]:
    """The data pointer, shape and strides of ``value``'s buffer, taken and checked as the
    entry takes it; the buffer is released again (the caller holds one for the pointer)."""
    view = PyBuffer()
    _get_buffer(value, view, buffer_flags(ty, written))
    try:
        fmt = view.format or b""
        if fmt and fmt[0] in NATIVE_ORDER_PREFIXES:
            fmt = fmt[1:]
        if (view.ndim != ty.ndim or view.itemsize != ty.dtype.itemsize or len(fmt) != 1
                or fmt[0] not in buffer_formats(ty.dtype)):
            raise TypeError(f"not a buffer of {ty}")
        return (view.buf or 0, *view.shape[:ty.ndim], *view.strides[:ty.ndim], 0)
    finally:
        _release_buffer(view)


class Binder:
    """Makes the BoundCalls of one loaded executable (``Executable.bind`` calls it).

    ``bound`` is the address of ``<symbol>.bound``; ``normalise`` is the entry's
    argument check (``ArgumentReporter.normalise``): it raises the error a call with
    the same arguments raises, or returns them converted to what the entry accepts;
    ``errors`` is the entry's error reporter.
    """

    def __init__(self, abi: EntryABI, bound: int,
                 normalise: Callable[[tuple[object, ...], dict[str, object]], tuple[object, ...]],
                 errors: Callable[[int], None]):
        self.abi = abi
        self.bound = bound
        self.normalise = normalise
        self.errors = errors
        self.params = tuple((ty, name in abi.written_params)
                            for name, ty in zip(abi.param_names, abi.arg_types, strict=True))
        self.packer = struct.Struct("".join(packed_field(ty) for ty in abi.arg_types))
        self.refuse = _RefuseArguments(abi.function_name)

    def __call__(self, executable: Executable, args: tuple[object, ...],
                 kwargs: dict[str, object]) -> BoundCall:
        if kwargs or len(args) != len(self.params):
            self.normalise(args, kwargs)  # raises what a call with them raises
        held = self.pack(args)
        if held is None:  # where the entry asks its reporter, which raises or converts
            held = self.pack(self.normalise(args, kwargs))
            if held is None:
                raise TypeError(f"{self.abi.function_name}(): arguments do not match the "
                                f"signature {self.abi.as_text()}")
        packed, views = held
        return BoundCall(executable, args, self.bound, (self.refuse, self.errors, packed, views))

    def pack(self, args: tuple[object, ...]) -> tuple[bytes, tuple[memoryview, ...]] | None:
        """The packed form of ``args`` and a memoryview of each array, or None where the
        entry would not convert one.

        The bound call keeps the views: each holds a buffer export of its array, so
        the memory the packed pointers point to stays where it is (a bytearray cannot
        be resized under them) for as long as the bound call lives.  (An exporter hands
        every export the same memory, as NumPy, bytearray, array and mmap do.)
        """
        values: list[object] = []
        views = []
        try:
            for value, (ty, written) in zip(args, self.params, strict=True):
                values.extend(native_values(value, ty, written))
                if isinstance(ty, t.ArrayType):
                    views.append(memoryview(value))  # type: ignore[arg-type]
        except Exception:  # the entry clears whatever went wrong and takes its slow path
            return None
        return self.packer.pack(*values), tuple(views)


class _RefuseArguments:
    """What a bound call given arguments calls: a TypeError saying where they belong."""

    def __init__(self, function_name: str):
        self.function_name = function_name

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(f"{self.function_name}(): a bound call takes no arguments (they were "
                        "given to bind(); bind again to change them)")
