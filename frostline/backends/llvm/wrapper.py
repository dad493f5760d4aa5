"""The CPython entry point, emitted in IR against the C API.

``PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs)``
is a METH_FASTCALL function: it unboxes scalars, takes arrays through the
buffer protocol, releases the GIL around the kernel, and boxes the result.
``self`` is a tuple ``(argument_reporter, error_reporter, ...)`` of Python
callables: when an argument does not convert, the entry hands the original
arguments to the reporter, which raises a TypeError naming the parameter;
when the kernel returns an error number, the error reporter raises it.
Keeping those slow paths in Python keeps the IR small and the messages good.

Next to it: a vectorcall trampoline (``emit_vectorcall``), the dispatch guard
(``emit_guard``), and the vectorcall function of a bound call (``emit_bound``),
which calls the kernel on arguments ``bound.py`` converted in Python by the
rules defined there (buffer flags and formats, integer ranges, the packed form).
"""

from __future__ import annotations

import functools

from llvmlite import ir

from frostline import types as t
from frostline._vectorcall import OWNER_OFFSET
from frostline.backends.llvm import callcontext
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.bound import (
    NATIVE_ORDER_PREFIXES,
    WORD,
    buffer_flags,
    buffer_formats,
    integer_range,
    packed_offsets,
)
from frostline.backends.llvm.boxing import box_array
from frostline.backends.llvm.memory import Runtime

PyObject = lt.i8p
#: Py_buffer from CPython's object.h (stable layout on 64-bit CPython 3.11+;
#: ``bound.PyBuffer`` in Python).
PY_BUFFER = ir.LiteralStructType([
    lt.i8p, lt.i8p, lt.i64, lt.i64, lt.i32, lt.i32, lt.i8p,
    lt.i64.as_pointer(), lt.i64.as_pointer(), lt.i64.as_pointer(), lt.i8p,
])
_BUF_DATA, _BUF_ITEMSIZE, _BUF_NDIM, _BUF_FORMAT, _BUF_SHAPE, _BUF_STRIDES = 0, 3, 5, 6, 7, 8
#: PyObject.ob_type, PyTypeObject.tp_flags (64-bit CPython 3.11, as ``_vectorcall`` checks)
#: and the flag every int (and bool) type carries.
_OB_TYPE, _TP_FLAGS, _TPFLAGS_LONG_SUBCLASS = 8, 168, 1 << 24
#: The owner tuple of an entry (``loader.make_builtin``): argument reporter, error
#: reporter, what keeps the code alive, and ``numpy.ndarray``.
OWNER_NDARRAY = 3

_API: dict[str, tuple[ir.Type, list[ir.Type]]] = {
    "PyFloat_AsDouble": (lt.f64, [PyObject]),
    "PyType_IsSubtype": (lt.i32, [PyObject, PyObject]),
    "PyLong_AsLongLong": (lt.i64, [PyObject]),
    "PyLong_AsUnsignedLongLong": (lt.i64, [PyObject]),
    "PyErr_Occurred": (PyObject, []),
    "PyErr_Clear": (lt.void, []),
    "PyObject_GetBuffer": (lt.i32, [PyObject, PY_BUFFER.as_pointer(), lt.i32]),
    "PyBuffer_Release": (lt.void, [PY_BUFFER.as_pointer()]),
    "PyEval_SaveThread": (lt.i8p, []),
    "PyEval_RestoreThread": (lt.void, [lt.i8p]),
    "PyFloat_FromDouble": (PyObject, [lt.f64]),
    "PyLong_FromLongLong": (PyObject, [lt.i64]),
    "PyLong_FromUnsignedLongLong": (PyObject, [lt.i64]),
    "PyBool_FromLong": (PyObject, [lt.i64]),
    "PyTuple_New": (PyObject, [lt.i64]),
    "PyTuple_SetItem": (lt.i32, [PyObject, lt.i64, PyObject]),
    "PyTuple_GetItem": (PyObject, [PyObject, lt.i64]),
    "PyObject_Vectorcall": (PyObject, [PyObject, PyObject.as_pointer(), lt.i64, PyObject]),
    "PyLong_FromLong": (PyObject, [lt.i64]),
    "Py_IncRef": (lt.void, [PyObject]),
    "PyCapsule_New": (PyObject, [lt.i8p, lt.i8p, ir.FunctionType(lt.void, [PyObject])
                                 .as_pointer()]),
    "PyCapsule_SetContext": (lt.i32, [PyObject, lt.i8p]),
    "Py_DecRef": (lt.void, [PyObject]),
}


def load_at(b: ir.IRBuilder, ptr: ir.Value, offset: int, ty: ir.Type) -> ir.Value:
    """The ``ty`` stored ``offset`` bytes into the object at ``ptr`` (an ``i8*``)."""
    return b.load(b.bitcast(b.gep(ptr, [ir.Constant(lt.i64, offset)]), ty.as_pointer()))


def declare_api(module: ir.Module, name: str) -> ir.Function:
    """The declaration of a C API function in the module (made once)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = _API[name]
    return ir.Function(module, ir.FunctionType(ret, args), name=name)


def declare_data(module: ir.Module, name: str) -> ir.Value:
    """A C API data symbol (``PyFloat_Type``, ``_Py_NoneStruct``...) as an address."""
    existing = module.globals.get(name)
    if existing is None:
        existing = ir.GlobalVariable(module, lt.i8, name=name)
    return existing


class CallEmitter:
    """One function against the C API: its blocks, stack slots and held buffers, and the
    pieces the entry and a bound call share (the kernel call, boxing, the error reporter).

    ``slow`` is the block the function takes when its arguments do not convert.
    """

    def __init__(self, module: ir.Module, fnty: ir.FunctionType, symbol: str,
                 runtime: Runtime):
        self.module = module
        self.runtime = runtime
        #: The array arguments: their objects, unboxed values and types (``boxing``).
        self.array_args: list[tuple[ir.Value, ir.Value, t.ArrayType]] = []
        #: What keeps the library loaded while a returned array lives (``boxing``).
        self.keep: ir.Value = ir.Constant(PyObject, None)
        self.func = ir.Function(module, fnty, name=symbol)
        self.alloca_builder = ir.IRBuilder(self.func.append_basic_block("allocas"))
        self.body = self.func.append_basic_block("entry")
        self.builder = ir.IRBuilder(self.body)
        self.slow = self.func.append_basic_block("slow")
        self.buffers: list[ir.Value] = []

    def api(self, name: str) -> ir.Function:
        return declare_api(self.module, name)

    def data_symbol(self, name: str) -> ir.Value:
        return declare_data(self.module, name)

    def alloca(self, ty: ir.Type) -> ir.Value:
        """A stack slot in the entry block, where LLVM expects allocas."""
        return self.alloca_builder.alloca(ty)

    def call(self, name: str, *args: ir.Value) -> ir.Value:
        return self.builder.call(self.api(name), list(args))

    def fail_to_slow(self, cond: ir.Value) -> None:
        """On cond, release the buffers taken so far and take the slow path."""
        b = self.builder
        bad = self.func.append_basic_block("bad.arg")
        ok = self.func.append_basic_block("arg.ok")
        b.cbranch(cond, bad, ok)
        b.position_at_end(bad)
        for buf in self.buffers:
            self.call("PyBuffer_Release", buf)
        b.branch(self.slow)
        b.position_at_end(ok)

    def box(self, value: ir.Value, ty: t.Type) -> ir.Value:
        b = self.builder
        if isinstance(ty, t.NoneType):
            none = self.data_symbol("_Py_NoneStruct")
            self.call("Py_IncRef", none)
            return none
        if isinstance(ty, t.ArrayType):
            return box_array(self, value, ty, self.keep)
        if isinstance(ty, t.TupleType):
            return self.box_tuple(value, ty)
        assert isinstance(ty, t.ScalarType)
        if ty.is_float:
            return self.call("PyFloat_FromDouble",
                             b.fpext(value, lt.f64) if ty.bits == 32 else value)
        if ty.is_bool:
            return self.call("PyBool_FromLong", b.zext(value, lt.i64))
        if ty.kind == "u" and ty.bits == 64:
            return self.call("PyLong_FromUnsignedLongLong", value)
        if ty.bits < 64:
            value = b.sext(value, lt.i64) if ty.kind == "i" else b.zext(value, lt.i64)
        return self.call("PyLong_FromLongLong", value)

    def box_tuple(self, value: ir.Value, ty: t.TupleType) -> ir.Value:
        """A tuple of the boxed items; NULL if one of them cannot be made (the others are
        released, so no returned array leaks)."""
        b = self.builder
        items = [self.box(b.extract_value(value, i), item) for i, item in enumerate(ty.items)]
        null = ir.Constant(PyObject, None)
        tup = self.call("PyTuple_New", ir.Constant(lt.i64, len(ty.items)))
        bad = b.icmp_unsigned("==", tup, null)
        for item in items:
            bad = b.or_(bad, b.icmp_unsigned("==", item, null))
        fail = self.func.append_basic_block("tuple.fail")
        fill = self.func.append_basic_block("tuple.fill")
        done = self.func.append_basic_block("tuple.done")
        b.cbranch(bad, fail, fill)
        b.position_at_end(fail)
        for obj in [tup, *items]:
            self.call("Py_DecRef", obj)  # Py_DecRef(NULL) does nothing
        b.branch(done)
        b.position_at_end(fill)
        for i, item in enumerate(items):
            self.call("PyTuple_SetItem", tup, ir.Constant(lt.i64, i), item)
        b.branch(done)
        b.position_at_end(done)
        result = b.phi(PyObject)
        result.add_incoming(null, fail)
        result.add_incoming(tup, fill)
        return result

    def call_kernel(self, kernel: ir.Function, return_type: t.Type, args: list[ir.Value],
                    release_gil: bool) -> tuple[ir.Value, ir.Value]:
        """``status = kernel(out, stack_base, *args)``, without the GIL if asked; (status, out)."""
        b = self.builder
        out = self.alloca(lt.value(return_type))
        if release_gil:
            state = self.call("PyEval_SaveThread")
        # A slot in this frame marks where Python entered, and caches the lowest address
        # a recursion may reach (0: not known yet; see ``stack``).
        self.context = self.alloca(ir.ArrayType(lt.i64, callcontext.CONTEXT_WORDS))
        limit = b.gep(self.context, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 0)])
        b.store(ir.Constant(lt.i64, 0), limit)
        flags = b.gep(self.context, [ir.Constant(lt.i32, 0),
                                     ir.Constant(lt.i32, callcontext.FLAGS)])
        b.store(ir.Constant(lt.i64, 0), flags)
        stack_base = b.bitcast(limit, lt.i8p)
        status = b.call(kernel, [out, stack_base, *args])
        if release_gil:
            self.call("PyEval_RestoreThread", state)
        return status, out

    def return_result(self, status: ir.Value, out: ir.Value, return_type: t.Type,
                      owner: ir.Value) -> None:
        """Return the boxed result, or for a nonzero status what the error reporter
        (``owner[1]``) returns: it raises the kernel's exception."""
        b = self.builder
        failed = self.func.append_basic_block("failed")
        done = self.func.append_basic_block("done")
        b.cbranch(b.icmp_signed("!=", status, ir.Constant(lt.i32, 0)), failed, done)
        b.position_at_end(done)
        b.ret(self.box(b.load(out), return_type))
        b.position_at_end(failed)
        reporter = self.call("PyTuple_GetItem", owner, ir.Constant(lt.i64, 1))
        # The reporter gets the error number and where the call's context is (which
        # holds what the message needs), as ints.
        args = self.alloca(ir.ArrayType(PyObject, 2))
        slots = [b.gep(args, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, k)]) for k in (0, 1)]
        b.store(self.call("PyLong_FromLong", b.sext(status, lt.i64)), slots[0])
        b.store(self.call("PyLong_FromLong", b.ptrtoint(self.context, lt.i64)), slots[1])
        result = self.call("PyObject_Vectorcall", reporter, slots[0], ir.Constant(lt.i64, 2),
                           ir.Constant(PyObject, None))
        self.call("Py_DecRef", b.load(slots[0]))
        self.call("Py_DecRef", b.load(slots[1]))
        b.ret(result)

    def finish(self) -> ir.Function:
        """Close the alloca block, now that every stack slot is known."""
        self.alloca_builder.branch(self.body)
        return self.func


class EntryEmitter(CallEmitter):
    """Builds the METH_FASTCALL entry function of a program."""

    def __init__(self, module: ir.Module, kernel: ir.Function, symbol: str,
                 arg_types: tuple[t.Type, ...], return_type: t.Type,
                 written: tuple[bool, ...], release_gil: bool, runtime: Runtime):
        super().__init__(module, ir.FunctionType(PyObject, [PyObject, PyObject.as_pointer(),
                                                            lt.i64]), symbol, runtime)
        self.kernel = kernel
        self.arg_types = arg_types
        self.return_type = return_type
        self.written = written
        self.release_gil = release_gil
        self.self_obj, self.args, self.nargs = self.func.args
        self.keep = self.self_obj

    def error_set(self, value: ir.Value, sentinel: ir.Constant) -> ir.Value:
        b = self.builder
        is_sentinel = (b.fcmp_ordered("==", value, sentinel) if value.type == lt.f64
                       else b.icmp_signed("==", value, sentinel))
        occurred = b.icmp_unsigned("!=", self.call("PyErr_Occurred"),
                                   ir.Constant(PyObject, None))
        return b.and_(is_sentinel, occurred)

    def unbox(self, k: int, ty: t.Type) -> ir.Value:
        b = self.builder
        obj = b.load(b.gep(self.args, [ir.Constant(lt.i64, k)]))
        if isinstance(ty, t.ArrayType):
            return self.unbox_array(obj, ty, self.written[k])
        assert isinstance(ty, t.ScalarType)
        if ty.is_float:
            value = self.unbox_float(obj)
            return b.fptrunc(value, lt.f32) if ty.bits == 32 else value
        if ty.is_bool:
            true = b.icmp_unsigned("==", obj, self.data_symbol("_Py_TrueStruct"))
            false = b.icmp_unsigned("==", obj, self.data_symbol("_Py_FalseStruct"))
            self.fail_to_slow(b.not_(b.or_(true, false)))
            return true
        self.fail_to_slow(b.not_(self.is_int(obj)))
        getter = "PyLong_AsUnsignedLongLong" if ty.kind == "u" and ty.bits == 64 \
            else "PyLong_AsLongLong"
        value = self.call(getter, obj)
        self.fail_to_slow(self.error_set(value, ir.Constant(lt.i64, -1)))
        if ty.bits < 64:
            lo, hi = integer_range(ty)
            outside = b.or_(b.icmp_signed("<", value, ir.Constant(lt.i64, lo)),
                            b.icmp_signed(">", value, ir.Constant(lt.i64, hi)))
            self.fail_to_slow(outside)
            value = b.trunc(value, ir.IntType(ty.bits))
        return value

    def is_int(self, obj: ir.Value) -> ir.Value:
        """Whether ``obj`` is an int (a bool, or an int subclass, too)."""
        b = self.builder
        flags = load_at(b, load_at(b, obj, _OB_TYPE, lt.i8p), _TP_FLAGS, lt.i64)
        return b.icmp_unsigned("!=", b.and_(flags, ir.Constant(lt.i64, _TPFLAGS_LONG_SUBCLASS)),
                               ir.Constant(lt.i64, 0))

    def require_type(self, obj: ir.Value, cls: ir.Value) -> None:
        """Take the slow path unless ``obj`` is an instance of ``cls`` (or a subclass)."""
        b = self.builder
        obj_type = load_at(b, obj, _OB_TYPE, lt.i8p)
        exact = self.func.append_basic_block("type.exact")
        other = self.func.append_basic_block("type.other")
        b.cbranch(b.icmp_unsigned("==", obj_type, cls), exact, other)
        b.position_at_end(other)
        self.fail_to_slow(b.icmp_signed("==", self.call("PyType_IsSubtype", obj_type, cls),
                                        ir.Constant(lt.i32, 0)))
        b.branch(exact)
        b.position_at_end(exact)

    def unbox_float(self, obj: ir.Value) -> ir.Value:
        """An exact float is read in place (ob_fval); an int or a float subclass goes
        through the API; anything else (NumPy scalars, objects with ``__float__``) takes
        the slow path, which converts what the argument rules accept."""
        b = self.builder
        obj_type = load_at(b, obj, _OB_TYPE, lt.i8p)
        float_type = self.data_symbol("PyFloat_Type")
        exact = b.icmp_unsigned("==", obj_type, float_type)
        fast = self.func.append_basic_block("float.exact")
        other = self.func.append_basic_block("float.other")
        done = self.func.append_basic_block("float.done")
        b.cbranch(exact, fast, other)
        b.position_at_end(fast)
        direct = load_at(b, obj, 16, lt.f64)
        b.branch(done)
        b.position_at_end(other)
        subclass = b.icmp_signed("!=", self.call("PyType_IsSubtype", obj_type, float_type),
                                 ir.Constant(lt.i32, 0))
        self.fail_to_slow(b.not_(b.or_(self.is_int(obj), subclass)))
        converted = self.call("PyFloat_AsDouble", obj)
        self.fail_to_slow(self.error_set(converted, ir.Constant(lt.f64, -1.0)))
        other_end = b.block
        b.branch(done)
        b.position_at_end(done)
        value = b.phi(lt.f64)
        value.add_incoming(direct, fast)
        value.add_incoming(converted, other_end)
        return value

    def unbox_array(self, obj: ir.Value, ty: t.ArrayType, writable: bool) -> ir.Value:
        """A NumPy array (or subclass) through the buffer protocol; other exporters
        (bytes, memoryview, array.array) take the slow path, which refuses them."""
        b = self.builder
        self.require_type(obj, load_at(b, self.self_obj, _TUPLE_ITEMS + 8 * OWNER_NDARRAY,
                                       PyObject))
        buf = self.alloca(PY_BUFFER)
        rc = self.call("PyObject_GetBuffer", obj, buf,
                       ir.Constant(lt.i32, buffer_flags(ty, writable)))
        self.fail_to_slow(b.icmp_signed("!=", rc, ir.Constant(lt.i32, 0)))
        self.buffers.append(buf)

        def field(index: int) -> ir.Value:
            return b.load(b.gep(buf, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, index)]))

        ndim_bad = b.icmp_signed("!=", field(_BUF_NDIM), ir.Constant(lt.i32, ty.ndim))
        size_bad = b.icmp_signed("!=", field(_BUF_ITEMSIZE),
                                 ir.Constant(lt.i64, ty.dtype.itemsize))
        self.fail_to_slow(b.or_(ndim_bad, size_bad))
        fmt = field(_BUF_FORMAT)
        first = b.load(fmt)
        prefixed = ir.Constant(lt.i1, 0)
        for c in NATIVE_ORDER_PREFIXES:
            prefixed = b.or_(prefixed, b.icmp_unsigned("==", first, ir.Constant(lt.i8, c)))
        fmt = b.gep(fmt, [b.zext(prefixed, lt.i64)])
        code = b.load(fmt)
        ok = ir.Constant(lt.i1, 0)
        for c in buffer_formats(ty.dtype):
            ok = b.or_(ok, b.icmp_unsigned("==", code, ir.Constant(lt.i8, c)))
        ends = b.icmp_unsigned("==", b.load(b.gep(fmt, [ir.Constant(lt.i64, 1)])),
                               ir.Constant(lt.i8, 0))
        self.fail_to_slow(b.not_(b.and_(ok, ends)))
        out = ir.Constant(lt.array(ty), ir.Undefined)
        data = b.bitcast(field(_BUF_DATA), lt.memory(ty.dtype).as_pointer())
        out = b.insert_value(out, data, 0)
        out = b.insert_value(out, ir.Constant(lt.i8p, None), lt.OWNER)  # the caller's
        shape, strides = field(_BUF_SHAPE), field(_BUF_STRIDES)
        for k in range(ty.ndim):
            at = ir.Constant(lt.i64, k)
            out = b.insert_value(out, b.load(b.gep(shape, [at])), [1, k])
            out = b.insert_value(out, b.load(b.gep(strides, [at])), [2, k])
        self.array_args.append((obj, out, ty))
        return out

    def emit(self) -> ir.Function:
        b = self.builder
        self.fail_to_slow(b.icmp_signed("!=", self.nargs,
                                        ir.Constant(lt.i64, len(self.arg_types))))
        args = [self.unbox(k, ty) for k, ty in enumerate(self.arg_types)]
        status, out = self.call_kernel(self.kernel, self.return_type, args, self.release_gil)
        for buf in self.buffers:
            self.call("PyBuffer_Release", buf)
        self.return_result(status, out, self.return_type, self.self_obj)
        b.position_at_end(self.slow)
        self.call("PyErr_Clear")
        reporter = self.call("PyTuple_GetItem", self.self_obj, ir.Constant(lt.i64, 0))
        b.ret(self.call("PyObject_Vectorcall", reporter, self.args, self.nargs,
                        ir.Constant(PyObject, None)))
        return self.finish()


_ARGUMENTS_OFFSET_MASK = (1 << 63) - 1


def emit_vectorcall(module: ir.Module, entry: ir.Function, symbol: str) -> ir.Function:
    """``vectorcall(callable, args, nargsf, kwnames)`` forwarding to the FASTCALL entry.

    It lets an Executable object be called as cheaply as a builtin function:
    the owner tuple is read from the callable, keywords go to the slow path.
    """
    fnty = ir.FunctionType(PyObject, [PyObject, PyObject.as_pointer(), lt.i64, PyObject])
    fn = ir.Function(module, fnty, name=symbol)
    callable_, args, nargsf, kwnames = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    owner = load_at(b, callable_, OWNER_OFFSET, PyObject)
    nargs = b.and_(nargsf, ir.Constant(lt.i64, _ARGUMENTS_OFFSET_MASK))
    fast = fn.append_basic_block("fast")
    keywords = fn.append_basic_block("keywords")
    b.cbranch(b.icmp_unsigned("==", kwnames, ir.Constant(PyObject, None)), fast, keywords)
    b.position_at_end(fast)
    b.ret(b.call(entry, [owner, args, nargs], tail="tail"))
    b.position_at_end(keywords)
    reporter = b.call(declare_api(module, "PyTuple_GetItem"), [owner, ir.Constant(lt.i64, 0)])
    b.ret(b.call(declare_api(module, "PyObject_Vectorcall"), [reporter, args, nargsf, kwnames]))
    return fn


#: NumPy's PyArrayObject and PyArray_Descr fields the guard reads (stable in NumPy 1 and 2).
_ARRAY_NDIM, _ARRAY_DESCR, _ARRAY_FLAGS, _DESCR_TYPE_NUM = 24, 56, 64, 28
_NPY_C_CONTIGUOUS, _NPY_F_CONTIGUOUS = 0x1, 0x2
#: Where a tuple's items (PyTupleObject.ob_item) and a bytes object's data
#: (PyBytesObject.ob_sval) begin.
_TUPLE_ITEMS, _BYTES_DATA = 24, 32


def guardable(arg_types: tuple[t.Type, ...]) -> bool:
    """Whether a dispatch guard can recognise every parameter from the object alone."""
    return all(isinstance(ty, t.ArrayType) or ty in (t.float64, t.int64, t.bool_)
               for ty in arg_types)


def emit_guard(module: ir.Module, entry: ir.Function, symbol: str,
               arg_types: tuple[t.Type, ...], dtype_nums: tuple[int, ...]) -> ir.Function:
    """A vectorcall function for ``fl.jit`` dispatchers: exact type checks, then the entry.

    It accepts exactly the arguments for which the dispatcher would choose this
    executable (``typeof`` of each argument equals the parameter type) and hands
    anything else to the dispatcher's Python path.  The dispatcher's owner tuple is
    ``(python_dispatch, executable_owner, numpy.ndarray)``.
    """
    fnty = ir.FunctionType(PyObject, [PyObject, PyObject.as_pointer(), lt.i64, PyObject])
    fn = ir.Function(module, fnty, name=symbol)
    callable_, args, nargsf, kwnames = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slow = fn.append_basic_block("slow")

    load = functools.partial(load_at, b)

    def check(cond: ir.Value) -> None:
        ok = fn.append_basic_block("ok")
        b.cbranch(cond, ok, slow)
        b.position_at_end(ok)

    owner = load(callable_, OWNER_OFFSET, PyObject)
    nargs = b.and_(nargsf, ir.Constant(lt.i64, _ARGUMENTS_OFFSET_MASK))
    check(b.icmp_unsigned("==", kwnames, ir.Constant(PyObject, None)))
    check(b.icmp_unsigned("==", nargs, ir.Constant(lt.i64, len(arg_types))))
    float_type, long_type = declare_data(module, "PyFloat_Type"), declare_data(module,
                                                                                "PyLong_Type")
    true, false = declare_data(module, "_Py_TrueStruct"), declare_data(module,
                                                                       "_Py_FalseStruct")
    ndarray = load(owner, _TUPLE_ITEMS + 16, PyObject)
    for k, (ty, num) in enumerate(zip(arg_types, dtype_nums, strict=True)):
        obj = b.load(b.gep(args, [ir.Constant(lt.i64, k)]))
        obj_type = load(obj, 8, PyObject)
        if ty == t.float64:
            check(b.icmp_unsigned("==", obj_type, float_type))
        elif ty == t.int64:
            check(b.icmp_unsigned("==", obj_type, long_type))
        elif ty == t.bool_:
            check(b.or_(b.icmp_unsigned("==", obj, true), b.icmp_unsigned("==", obj, false)))
        else:
            assert isinstance(ty, t.ArrayType)
            check(b.icmp_unsigned("==", obj_type, ndarray))
            check(b.icmp_signed("==", load(obj, _ARRAY_NDIM, lt.i32),
                                ir.Constant(lt.i32, ty.ndim)))
            descr = load(obj, _ARRAY_DESCR, PyObject)
            check(b.icmp_signed("==", load(descr, _DESCR_TYPE_NUM, lt.i32),
                                ir.Constant(lt.i32, num)))
            contiguity = b.and_(load(obj, _ARRAY_FLAGS, lt.i32),
                                ir.Constant(lt.i32, _NPY_C_CONTIGUOUS | _NPY_F_CONTIGUOUS))
            # typeof: C if C-contiguous, else F if F-contiguous, else A.
            if ty.layout == "C":
                check(b.icmp_unsigned("!=", b.and_(contiguity, ir.Constant(
                    lt.i32, _NPY_C_CONTIGUOUS)), ir.Constant(lt.i32, 0)))
            elif ty.layout == "F":
                check(b.icmp_unsigned("==", contiguity, ir.Constant(lt.i32, _NPY_F_CONTIGUOUS)))
            else:
                check(b.icmp_unsigned("==", contiguity, ir.Constant(lt.i32, 0)))
    executable_owner = load(owner, _TUPLE_ITEMS + 8, PyObject)
    b.ret(b.call(entry, [executable_owner, args, nargs], tail="tail"))
    b.position_at_end(slow)
    python_dispatch = load(owner, _TUPLE_ITEMS, PyObject)
    b.ret(b.call(declare_api(module, "PyObject_Vectorcall"),
                 [python_dispatch, args, nargsf, kwnames]))
    return fn


def emit_bound(module: ir.Module, symbol: str, kernel: ir.Function,
               arg_types: tuple[t.Type, ...], return_type: t.Type,
               release_gil: bool, runtime: Runtime) -> ir.Function:
    """The vectorcall function of a ``BoundCall``: the kernel on the packed arguments it
    holds (``bound.py``), its result boxed or its error raised as by the entry.

    The owner tuple is ``(refuse_arguments, error_reporter, packed_bytes, views)``;
    a call with any argument goes to ``refuse_arguments``, which raises a TypeError.
    It is left unoptimised (``optnone``): it is a few loads and calls, and optimising
    it would cost every compilation about a millisecond to save about a nanosecond a call.
    """
    fnty = ir.FunctionType(PyObject, [PyObject, PyObject.as_pointer(), lt.i64, PyObject])
    e = CallEmitter(module, fnty, symbol, runtime)
    e.func.attributes.add("optnone")
    e.func.attributes.add("noinline")  # which optnone requires
    callable_, args, nargsf, kwnames = e.func.args
    e.keep = callable_  # the BoundCall holds its Executable, which holds the library
    b = e.builder

    load = functools.partial(load_at, b)

    owner = load(callable_, OWNER_OFFSET, PyObject)
    nargs = b.and_(nargsf, ir.Constant(lt.i64, _ARGUMENTS_OFFSET_MASK))
    e.fail_to_slow(b.or_(b.icmp_unsigned("!=", nargs, ir.Constant(lt.i64, 0)),
                         b.icmp_unsigned("!=", kwnames, ir.Constant(PyObject, None))))
    packed = b.gep(load(owner, _TUPLE_ITEMS + 16, PyObject), [ir.Constant(lt.i64, _BYTES_DATA)])
    values = []
    for ty, word in zip(arg_types, packed_offsets(arg_types)[0], strict=True):
        if ty == t.bool_:  # a byte, 0 or 1
            values.append(b.icmp_unsigned("!=", load(packed, word * WORD, lt.i8),
                                          ir.Constant(lt.i8, 0)))
        else:
            values.append(load(packed, word * WORD, lt.value(ty)))
    status, out = e.call_kernel(kernel, return_type, values, release_gil)
    e.return_result(status, out, return_type, owner)
    b.position_at_end(e.slow)
    reporter = load(owner, _TUPLE_ITEMS, PyObject)
    b.ret(e.call("PyObject_Vectorcall", reporter, args, nargsf, kwnames))
    return e.finish()
