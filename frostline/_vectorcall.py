"""Classes whose instances are called through a per-instance vectorcall pointer.

Calling a Python object whose class defines ``__call__`` in Python costs a
frame (~100 ns); a class that declares a vectorcall offset is called as
cheaply as a builtin function.  The instance layout is fixed::

    offset  0  PyObject header (refcount, type)
    offset 16  vectorcallfunc: the compiled entry trampoline
    offset 24  PyObject *owner: the tuple the trampoline hands to the entry (borrowed:
               the instance keeps it referenced in its __dict__)

A small base class made with ``PyType_FromSpec`` holds the two words; each
class of ``callable_class`` is an ordinary Python subclass of it, so CPython's
own code allocates, garbage-collects and deallocates the instances (their
``__dict__``, weak references and type), without running Python code on the
way: an instance may be freed while an exception is being raised.  Python
3.11 does not let a Python subclass inherit vectorcall, so it is switched on
in the subclass's type object after creation.
"""

from __future__ import annotations

import ctypes

VECTORCALL_OFFSET = 16
OWNER_OFFSET = 24
BASIC_SIZE = 32

_T_PYSSIZET = 19
_READONLY = 1
_Py_tp_call = 50
_Py_tp_members = 72
_Py_TPFLAGS_DEFAULT = 1 << 18
_Py_TPFLAGS_BASETYPE = 1 << 10
_Py_TPFLAGS_HAVE_VECTORCALL = 1 << 11
#: PyTypeObject fields on 64-bit CPython (stable since 3.8), checked against the
#: values Python reports before anything is written.
_TP_BASICSIZE, _TP_VECTORCALL_OFFSET, _TP_FLAGS = 32, 56, 168


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


def _vectorcall_base() -> type:
    """The base class: the two words after the header, called through the first."""
    members = (_PyMemberDef * 2)(
        _PyMemberDef(b"__vectorcalloffset__", _T_PYSSIZET, VECTORCALL_OFFSET, _READONLY, None),
        _PyMemberDef())
    vectorcall_call = ctypes.cast(ctypes.pythonapi.PyVectorcall_Call, ctypes.c_void_p).value
    slots = (_PyTypeSlot * 3)(
        _PyTypeSlot(_Py_tp_members, ctypes.addressof(members)),
        _PyTypeSlot(_Py_tp_call, vectorcall_call),
        _PyTypeSlot(0, None))
    name = b"frostline._vectorcall.VectorcallBase"
    spec = _PyTypeSpec(name, BASIC_SIZE, 0,
                       _Py_TPFLAGS_DEFAULT | _Py_TPFLAGS_BASETYPE | _Py_TPFLAGS_HAVE_VECTORCALL,
                       slots)
    from_spec = ctypes.pythonapi.PyType_FromSpec
    from_spec.restype = ctypes.py_object
    from_spec.argtypes = [ctypes.c_void_p]
    cls = from_spec(ctypes.addressof(spec))
    _keep.append((members, slots, name, spec))  # the type points into them
    return cls  # type: ignore[no-any-return]


_keep: list[object] = []
_VectorcallBase = _vectorcall_base()


def callable_class(qualified_name: str, methods: type) -> type:
    """A class named ``qualified_name`` with the methods of ``methods`` (and of its
    bases), called by vectorcall."""
    module, _, name = qualified_name.rpartition(".")
    namespace: dict[str, object] = {}
    for cls_ in reversed(methods.__mro__[:-1]):  # its mixins' methods too, overridden
        namespace.update((attr, value) for attr, value in vars(cls_).items()
                         if attr not in ("__dict__", "__weakref__"))
    namespace.update(__module__=module, __qualname__=name)
    cls = type(name, (_VectorcallBase,), namespace)
    address = id(cls)
    basicsize = ctypes.c_ssize_t.from_address(address + _TP_BASICSIZE)
    flags = ctypes.c_ulong.from_address(address + _TP_FLAGS)
    if basicsize.value != cls.__basicsize__ or flags.value != cls.__flags__:
        raise RuntimeError("frostline: this interpreter's type objects have another layout")
    ctypes.c_ssize_t.from_address(address + _TP_VECTORCALL_OFFSET).value = VECTORCALL_OFFSET
    flags.value |= _Py_TPFLAGS_HAVE_VECTORCALL
    return cls


def set_entry(obj: object, vectorcall: int, owner: object) -> None:
    """Point an instance at its compiled trampoline; ``owner`` must stay referenced by obj."""
    base = id(obj)
    ctypes.c_void_p.from_address(base + OWNER_OFFSET).value = id(owner)
    ctypes.c_void_p.from_address(base + VECTORCALL_OFFSET).value = vectorcall
