"""A C-level class whose instances are called through a per-instance vectorcall pointer.

Calling a Python object whose class defines ``__call__`` in Python costs a
frame (~100 ns); a class made with ``PyType_FromSpec`` that declares a
vectorcall offset is called as cheaply as a builtin function.  The instance
layout is fixed::

    offset  0  PyObject header (refcount, type)
    offset 16  vectorcallfunc: the compiled entry trampoline
    offset 24  PyObject *owner: the tuple the trampoline hands to the entry
    offset 32  PyObject *__dict__
    offset 40  PyObject *__weakref__ (weak references, so owners need not form cycles)

Python 3.11 does not let Python subclasses inherit vectorcall, so methods are
attached to the created class itself (``callable_class``).
"""

from __future__ import annotations

import ctypes

VECTORCALL_OFFSET = 16
OWNER_OFFSET = 24
DICT_OFFSET = 32
WEAKLIST_OFFSET = 40
BASIC_SIZE = 48

_T_PYSSIZET = 19
_READONLY = 1
_Py_tp_call = 50
_Py_tp_dealloc = 52
_Py_tp_doc = 56
_Py_tp_members = 72
_Py_tp_getset = 73
_Py_TPFLAGS_DEFAULT = 1 << 18
_Py_TPFLAGS_HAVE_VECTORCALL = 1 << 11


class _PyMemberDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int),
                ("offset", ctypes.c_ssize_t), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


class _PyGetSetDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("get", ctypes.c_void_p), ("set", ctypes.c_void_p),
                ("doc", ctypes.c_char_p), ("closure", ctypes.c_void_p)]


class _PyTypeSlot(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_int), ("pfunc", ctypes.c_void_p)]


class _PyTypeSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("basicsize", ctypes.c_int),
                ("itemsize", ctypes.c_int), ("flags", ctypes.c_uint),
                ("slots", ctypes.POINTER(_PyTypeSlot))]


_api = ctypes.pythonapi
_api.PyObject_ClearWeakRefs.argtypes = [ctypes.c_void_p]
_api.PyObject_ClearWeakRefs.restype = None
_api.Py_DecRef.argtypes = [ctypes.c_void_p]
_api.Py_DecRef.restype = None
_api.PyObject_Free.argtypes = [ctypes.c_void_p]
_api.PyObject_Free.restype = None


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _dealloc(address: int) -> None:
    """tp_dealloc for the layout above.

    PyType_Ready gives a type made from a spec object's plain dealloc, which would
    neither clear weak references nor release the instance dict and the type.
    """
    if ctypes.c_void_p.from_address(address + WEAKLIST_OFFSET).value:
        _api.PyObject_ClearWeakRefs(address)
    slot = ctypes.c_void_p.from_address(address + DICT_OFFSET)
    state, slot.value = slot.value, None
    if state:
        _api.Py_DecRef(state)
    cls = ctypes.c_void_p.from_address(address + 8).value
    _api.PyObject_Free(address)
    _api.Py_DecRef(cls)


# The callback must outlive every instance, even during interpreter shutdown.
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_dealloc))

_from_spec = ctypes.pythonapi.PyType_FromSpec
_from_spec.restype = ctypes.py_object
_from_spec.argtypes = [ctypes.c_void_p]
_keep: list[object] = []


def _c_function(name: str) -> int:
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value  # type: ignore


def callable_class(qualified_name: str, methods: type) -> type:
    """A class named ``qualified_name`` with the methods of ``methods``, called by vectorcall."""
    members = (_PyMemberDef * 4)(
        _PyMemberDef(b"__vectorcalloffset__", _T_PYSSIZET, VECTORCALL_OFFSET, _READONLY, None),
        _PyMemberDef(b"__dictoffset__", _T_PYSSIZET, DICT_OFFSET, _READONLY, None),
        _PyMemberDef(b"__weaklistoffset__", _T_PYSSIZET, WEAKLIST_OFFSET, _READONLY, None),
        _PyMemberDef())
    getsets = (_PyGetSetDef * 2)(
        _PyGetSetDef(b"__dict__", _c_function("PyObject_GenericGetDict"),
                     _c_function("PyObject_GenericSetDict"), None, None),
        _PyGetSetDef())
    doc = (methods.__doc__ or "").encode()
    vectorcall_call = _c_function("PyVectorcall_Call")
    slots = (_PyTypeSlot * 6)(
        _PyTypeSlot(_Py_tp_dealloc, ctypes.cast(_dealloc, ctypes.c_void_p).value),
        _PyTypeSlot(_Py_tp_members, ctypes.addressof(members)),
        _PyTypeSlot(_Py_tp_getset, ctypes.addressof(getsets)),
        _PyTypeSlot(_Py_tp_call, vectorcall_call),
        _PyTypeSlot(_Py_tp_doc, ctypes.cast(ctypes.c_char_p(doc), ctypes.c_void_p).value),
        _PyTypeSlot(0, None))
    name = qualified_name.encode()
    spec = _PyTypeSpec(name, BASIC_SIZE, 0,
                       _Py_TPFLAGS_DEFAULT | _Py_TPFLAGS_HAVE_VECTORCALL, slots)
    cls = _from_spec(ctypes.addressof(spec))
    _keep.append((members, getsets, slots, name, doc, spec))
    for attr, value in vars(methods).items():
        if attr not in ("__dict__", "__weakref__", "__module__", "__doc__"):
            setattr(cls, attr, value)
    return cls  # type: ignore[no-any-return]


def set_entry(obj: object, vectorcall: int, owner: object) -> None:
    """Point an instance at its compiled trampoline; ``owner`` must stay referenced by obj."""
    base = id(obj)
    ctypes.c_void_p.from_address(base + OWNER_OFFSET).value = id(owner)
    ctypes.c_void_p.from_address(base + VECTORCALL_OFFSET).value = vectorcall
