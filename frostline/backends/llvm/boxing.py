"""Arrays a kernel returns, as ``numpy.ndarray`` objects: no copy, the right owner.

- An array the kernel allocated (its owner is a block, ``memory``) becomes an
  ndarray over the block's data whose base is a capsule holding the block's
  reference; the ndarray frees it when NumPy frees the ndarray.
- A view of an argument (no owner; its data inside an argument's buffer) becomes
  an ndarray whose base is that argument, writable if the argument is, so
  ``np.shares_memory`` holds as in NumPy.
- A view of anything else without an owner (a frozen global array) is a
  read-only ndarray kept alive by the library's owner.

NumPy's C API is reached through its table (``memory.Runtime.numpy_api``):
``PyArray_New`` (slot 93) and ``PyArray_SetBaseObject`` (slot 282), stable
from NumPy 1.7 to 2.x.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import types as t
from frostline.backends.llvm import irtypes as lt

if TYPE_CHECKING:
    from frostline.backends.llvm.wrapper import CallEmitter

PyObject = lt.i8p
_NEW = 93
_SET_BASE = 282
_NEW_TYPE = ir.FunctionType(PyObject, [PyObject, lt.i32, lt.i64.as_pointer(), lt.i32,
                                       lt.i64.as_pointer(), lt.i8p, lt.i32, lt.i32, PyObject])
_SET_BASE_TYPE = ir.FunctionType(lt.i32, [PyObject, PyObject])
#: PyArrayObject.flags and the writeable flag.
_ARRAY_FLAGS, _WRITEABLE = 64, 0x0400


def byte_extent(b: ir.IRBuilder, data: ir.Value, shape: list[ir.Value],
                strides: list[ir.Value], itemsize: int) -> tuple[ir.Value, ir.Value, ir.Value]:
    """The lowest address an array touches, one past its highest, and whether it is empty
    (as i64, i64, i1)."""
    zero, one = ir.Constant(lt.i64, 0), ir.Constant(lt.i64, 1)
    lo: ir.Value = zero
    hi: ir.Value = ir.Constant(lt.i64, itemsize)
    empty: ir.Value = ir.Constant(lt.i1, 0)
    for extent, stride in zip(shape, strides, strict=True):
        span = b.mul(b.sub(extent, one), stride)
        negative = b.icmp_signed("<", span, zero)
        lo = b.add(lo, b.select(negative, span, zero))
        hi = b.add(hi, b.select(negative, zero, span))
        empty = b.or_(empty, b.icmp_signed("<=", extent, zero))
    base = b.ptrtoint(data, lt.i64)
    return b.add(base, lo), b.add(base, hi), empty


def parts(b: ir.IRBuilder, value: ir.Value, ty: t.ArrayType) -> tuple[
        ir.Value, list[ir.Value], list[ir.Value], ir.Value]:
    data = b.bitcast(b.extract_value(value, 0), lt.i8p)
    shape = [b.extract_value(value, [1, k]) for k in range(ty.ndim)]
    strides = [b.extract_value(value, [2, k]) for k in range(ty.ndim)]
    return data, shape, strides, b.extract_value(value, lt.OWNER)


def box_array(e: CallEmitter, value: ir.Value, ty: t.ArrayType, keep: ir.Value) -> ir.Value:
    """The ndarray for an array the kernel returned (NULL, with the error set, if it cannot
    be made); ``keep`` is what keeps the library loaded."""
    b = e.builder
    rt = e.runtime
    data, shape, strides, owner = parts(b, value, ty)
    dims = e.alloca(ir.ArrayType(lt.i64, max(ty.ndim, 1)))
    steps = e.alloca(ir.ArrayType(lt.i64, max(ty.ndim, 1)))
    for k in range(ty.ndim):
        at = [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, k)]
        b.store(shape[k], b.gep(dims, at))
        b.store(strides[k], b.gep(steps, at))
    null = ir.Constant(PyObject, None)
    owned = e.func.append_basic_block("box.owned")
    borrowed = e.func.append_basic_block("box.borrowed")
    make = e.func.append_basic_block("box.make")
    failed = e.func.append_basic_block("box.failed")
    done = e.func.append_basic_block("box.done")
    b.cbranch(b.icmp_unsigned("!=", owner, null), owned, borrowed)

    b.position_at_end(owned)
    capsule = e.call("PyCapsule_New", owner, null, rt.release())
    no_capsule = e.func.append_basic_block("box.no_capsule")
    with_capsule = e.func.append_basic_block("box.capsule")
    b.cbranch(b.icmp_unsigned("==", capsule, null), no_capsule, with_capsule)
    b.position_at_end(no_capsule)
    b.call(rt.decref(), [owner])
    b.branch(failed)
    b.position_at_end(with_capsule)
    e.call("PyCapsule_SetContext", capsule, keep)
    e.call("Py_IncRef", keep)
    owned_end = b.block
    b.branch(make)

    b.position_at_end(borrowed)
    base, writable = view_base(e, data, keep)
    e.call("Py_IncRef", base)
    borrowed_end = b.block
    b.branch(make)

    b.position_at_end(make)
    base_phi = b.phi(PyObject)
    base_phi.add_incoming(capsule, owned_end)
    base_phi.add_incoming(base, borrowed_end)
    flags = b.phi(lt.i32)
    flags.add_incoming(ir.Constant(lt.i32, _WRITEABLE), owned_end)
    flags.add_incoming(writable, borrowed_end)
    first = [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 0)]
    array = b.call(rt.numpy_api(b, _NEW, _NEW_TYPE), [
        rt.numpy_type(b), ir.Constant(lt.i32, ty.ndim), b.gep(dims, first),
        ir.Constant(lt.i32, ty.dtype.numpy_dtype.num), b.gep(steps, first), data,
        ir.Constant(lt.i32, ty.dtype.itemsize), flags, null])
    no_array = e.func.append_basic_block("box.no_array")
    with_array = e.func.append_basic_block("box.array")
    b.cbranch(b.icmp_unsigned("==", array, null), no_array, with_array)
    b.position_at_end(no_array)
    e.call("Py_DecRef", base_phi)
    b.branch(failed)
    b.position_at_end(with_array)
    status = b.call(rt.numpy_api(b, _SET_BASE, _SET_BASE_TYPE), [array, base_phi])  # steals
    no_base = e.func.append_basic_block("box.no_base")
    b.cbranch(b.icmp_signed("!=", status, ir.Constant(lt.i32, 0)), no_base, done)
    b.position_at_end(no_base)
    e.call("Py_DecRef", array)
    b.branch(failed)

    b.position_at_end(failed)
    b.branch(done)
    b.position_at_end(done)
    result = b.phi(PyObject)
    result.add_incoming(array, with_array)
    result.add_incoming(null, failed)
    return result


def view_base(e: CallEmitter, data: ir.Value, keep: ir.Value) -> tuple[ir.Value, ir.Value]:
    """The argument whose buffer holds a view's data and its writeable flag (as i32);
    ``keep`` and read-only when no argument does."""
    b = e.builder
    base: ir.Value = keep
    flags: ir.Value = ir.Constant(lt.i32, 0)
    addr = b.ptrtoint(data, lt.i64)
    for obj, arg, aty in e.array_args:
        adata, ashape, astrides, _ = parts(b, arg, aty)
        lo, hi, empty = byte_extent(b, adata, ashape, astrides, aty.dtype.itemsize)
        inside = b.and_(b.not_(empty), b.and_(b.icmp_unsigned("<=", lo, addr),
                                              b.icmp_unsigned("<", addr, hi)))
        base = b.select(inside, obj, base)
        flag_ptr = b.bitcast(b.gep(obj, [ir.Constant(lt.i64, _ARRAY_FLAGS)]),
                             lt.i32.as_pointer())
        writable = b.and_(b.load(flag_ptr), ir.Constant(lt.i32, _WRITEABLE))
        flags = b.select(inside, writable, flags)
    return base, flags
