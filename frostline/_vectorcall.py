"""A C-level class whose instances are called through a per-instance vectorcall pointer.

Calling a Python object whose class defines ``__call__`` in Python costs a
frame (~100 ns); a class made with ``PyType_FromSpec`` that declares a
vectorcall offset is called as cheaply as a builtin function.  The instance
layout is fixed::

    offset  0  PyObject header (refcount, type)
    offset 16  vectorcallfunc: the compiled entry trampoline
    offset 24  PyObject *owner: the tuple the trampoline hands to the entry
    offset 32  PyObject *__dict__

Python 3.11 does not let Python subclasses inherit vectorcall, so methods are
attached to the created class itself (``callable_class``).
"""

from __future__ import annotations

import ctypes

VECTORCALL_OFFSET = 16
OWNER_OFFSET = 24
DICT_OFFSET = 32
BASIC_SIZE = 40

_T_PYSSIZET = 19
_READONLY = 1
_Py_tp_call = 50
_Py_tp_doc = 56
_Py_tp_members = 72
_Py_TPFLAGS_DEFAULT = 1 << 18
_Py_TPFLAGS_HAVE_VECTORCALL = 1 << 11


class _PyMemberDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int),
                ("offset", ctypes.c_ssize_t), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


class _PyTypeSlot(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_int), ("pfunc", ctypes.c_void_p)]


class _PyTypeSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("basicsize", ctypes.c_int),
                ("itemsize", ctypes.c_int), ("flags", ctypes.c_uint),
                ("slots", ctypes.POINTER(_PyTypeSlot))]


_from_spec = ctypes.pythonapi.PyType_FromSpec
_from_spec.restype = ctypes.py_object
_from_spec.argtypes = [ctypes.c_void_p]
_keep: list[object] = []


def callable_class(qualified_name: str, methods: type) -> type:
    """A class named ``qualified_name`` with the methods of ``methods``, called by vectorcall."""
    members = (_PyMemberDef * 3)(
        _PyMemberDef(b"__vectorcalloffset__", _T_PYSSIZET, VECTORCALL_OFFSET, _READONLY, None),
        _PyMemberDef(b"__dictoffset__", _T_PYSSIZET, DICT_OFFSET, _READONLY, None),
        _PyMemberDef())
    doc = (methods.__doc__ or "").encode()
    vectorcall_call = ctypes.cast(ctypes.pythonapi.PyVectorcall_Call, ctypes.c_void_p).value
    slots = (_PyTypeSlot * 4)(
        _PyTypeSlot(_Py_tp_members, ctypes.addressof(members)),
        _PyTypeSlot(_Py_tp_call, vectorcall_call),
        _PyTypeSlot(_Py_tp_doc, ctypes.cast(ctypes.c_char_p(doc), ctypes.c_void_p).value),
        _PyTypeSlot(0, None))
    name = qualified_name.encode()
    spec = _PyTypeSpec(name, BASIC_SIZE, 0,
                       _Py_TPFLAGS_DEFAULT | _Py_TPFLAGS_HAVE_VECTORCALL, slots)
    cls = _from_spec(ctypes.addressof(spec))
    _keep.append((members, slots, name, doc, spec))
    for attr, value in vars(methods).items():
        if attr not in ("__dict__", "__weakref__", "__module__", "__doc__"):
            setattr(cls, attr, value)
    return cls  # type: ignore[no-any-return]


def set_entry(obj: object, vectorcall: int, owner: object) -> None:
    """Point an instance at its compiled trampoline; ``owner`` must stay referenced by obj."""
    base = id(obj)
    ctypes.c_void_p.from_address(base + OWNER_OFFSET).value = id(owner)
    ctypes.c_void_p.from_address(base + VECTORCALL_OFFSET).value = vectorcall
