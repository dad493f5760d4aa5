"""Native memory of arrays: blocks with a reference count, emitted in IR in every module.

An array a kernel allocates is one heap block: a ``HEADER``-byte header (the
reference count and the size) and then the data.  The array struct's owner
field points at the block; arguments and frozen constants have no owner
(null): their memory belongs to someone else for the whole call.  Views share
their base's owner.

Every library carries a runtime record (``EntryABI.runtime_symbol``) that the
loader fills when it loads the code: the process-wide allocation counters
(``fl.stats()['arrays_live']``) and NumPy's C API table.  Until then the
record points at counters of the library's own, so the code never reads null.

Reference counts change atomically: the tasks of a parallel loop (``tasks``)
take and drop references to the arrays they share from several threads.

An array returned to Python becomes an ``ndarray`` over the block, with no
copy: its base is a capsule that owns the block's reference, and whose
destructor (``fl.rt.release``) drops it.  The capsule also holds the
library's owner tuple, so the destructor's code stays loaded while any such
array lives; it drops that reference last, by a tail call, so no frame of the
library is on the stack if that unloads it.
"""

from __future__ import annotations

from llvmlite import ir

from frostline.backends.llvm import irtypes as lt

#: Bytes before the data of a block: the reference count, the data size, padding to a
#: cache line, so data is as aligned as malloc makes blocks.
HEADER = 64
#: The counters: live blocks, live bytes, blocks ever allocated.
COUNTERS = 3
#: The runtime record: a pointer to the counters, a pointer to NumPy's API table, the
#: process's thread pool (``tasks``; null until the loader fills it) and this library's
#: pool worker function (null in a library without parallel loops).
RUNTIME = ir.LiteralStructType([lt.i64.as_pointer(), lt.i8p.as_pointer(), lt.i8p, lt.i8p])
#: The fields of the runtime record.
POOL, WORKER = 2, 3


def runtime_record(module: ir.Module, symbol: str) -> ir.GlobalVariable:
    """The module's runtime record, exported as ``symbol`` (made once)."""
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    own = ir.GlobalVariable(module, ir.ArrayType(lt.i64, COUNTERS), name=f"{symbol}.own")
    own.linkage = "internal"
    own.initializer = ir.Constant(own.value_type, [0] * COUNTERS)
    record = ir.GlobalVariable(module, RUNTIME, name=symbol)
    record.initializer = ir.Constant(RUNTIME, [
        own.gep([ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 0)]),
        ir.Constant(lt.i8p.as_pointer(), None), ir.Constant(lt.i8p, None),
        ir.Constant(lt.i8p, None)])
    return record


class Runtime:
    """The allocation functions of one module, emitted on first use."""

    def __init__(self, module: ir.Module, symbol: str):
        self.module = module
        self.symbol = symbol
        self.functions: dict[str, ir.Function] = {}

    def _declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        return ir.Function(self.module, ir.FunctionType(ret, args), name=name)

    def _counter(self, b: ir.IRBuilder, index: int) -> ir.Value:
        record = runtime_record(self.module, self.symbol)
        counters = b.load(b.gep(record, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 0)]))
        return b.gep(counters, [ir.Constant(lt.i64, index)])

    def _count(self, b: ir.IRBuilder, index: int, by: ir.Value) -> None:
        b.atomic_rmw("add", self._counter(b, index), by, "monotonic")

    def _function(self, name: str, ret: ir.Type, args: list[ir.Type]) -> tuple[
            ir.Function, ir.IRBuilder] | ir.Function:
        fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        fn.linkage = "internal"
        self.functions[name] = fn
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def alloc(self) -> ir.Function:
        """``i8* fl.rt.alloc(i64 nbytes, i1 zeroed)``: a block with one reference, or
        null when memory runs out (or the size overflows)."""
        name = "fl.rt.alloc"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.i8p, [lt.i64, lt.i1])  # type: ignore[misc]
        nbytes, zeroed = fn.args
        total = b.add(nbytes, ir.Constant(lt.i64, HEADER))
        too_big = b.icmp_unsigned(">", nbytes, ir.Constant(lt.i64, (1 << 62)))
        calloc = self._declare("calloc", lt.i8p, [lt.i64, lt.i64])
        malloc = self._declare("malloc", lt.i8p, [lt.i64])
        fail = fn.append_basic_block("fail")
        go = fn.append_basic_block("go")
        b.cbranch(too_big, fail, go)
        b.position_at_end(go)
        zero_block = fn.append_basic_block("zeroed")
        plain_block = fn.append_basic_block("plain")
        got = fn.append_basic_block("got")
        b.cbranch(zeroed, zero_block, plain_block)
        b.position_at_end(zero_block)
        z = b.call(calloc, [ir.Constant(lt.i64, 1), total])  # fresh pages stay untouched
        b.branch(got)
        b.position_at_end(plain_block)
        p = b.call(malloc, [total])
        b.branch(got)
        b.position_at_end(got)
        block = b.phi(lt.i8p)
        block.add_incoming(z, zero_block)
        block.add_incoming(p, plain_block)
        ok = fn.append_basic_block("ok")
        b.cbranch(b.icmp_unsigned("==", block, ir.Constant(lt.i8p, None)), fail, ok)
        b.position_at_end(ok)
        header = b.bitcast(block, lt.i64.as_pointer())
        b.store(ir.Constant(lt.i64, 1), header)
        b.store(nbytes, b.gep(header, [ir.Constant(lt.i64, 1)]))
        self._count(b, 0, ir.Constant(lt.i64, 1))
        self._count(b, 1, nbytes)
        self._count(b, 2, ir.Constant(lt.i64, 1))
        b.ret(block)
        b.position_at_end(fail)
        b.ret(ir.Constant(lt.i8p, None))
        return fn

    def incref(self) -> ir.Function:
        """``fl.rt.incref(i8* owner)``: one more reference (none for a null owner)."""
        name = "fl.rt.incref"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [lt.i8p])  # type: ignore[misc]
        fn.attributes.add("alwaysinline")
        (owner,) = fn.args
        some = fn.append_basic_block("some")
        done = fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("==", owner, ir.Constant(lt.i8p, None)), done, some)
        b.position_at_end(some)
        count = b.bitcast(owner, lt.i64.as_pointer())
        b.atomic_rmw("add", count, ir.Constant(lt.i64, 1), "monotonic")
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()
        return fn

    def decref(self) -> ir.Function:
        """``fl.rt.decref(i8* owner)``: one reference fewer; the last frees the block."""
        name = "fl.rt.decref"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [lt.i8p])  # type: ignore[misc]
        (owner,) = fn.args
        some = fn.append_basic_block("some")
        last = fn.append_basic_block("last")
        done = fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("==", owner, ir.Constant(lt.i8p, None)), done, some)
        b.position_at_end(some)
        count = b.bitcast(owner, lt.i64.as_pointer())
        before = b.atomic_rmw("sub", count, ir.Constant(lt.i64, 1), "acq_rel")
        b.cbranch(b.icmp_signed("==", before, ir.Constant(lt.i64, 1)), last, done)
        b.position_at_end(last)
        nbytes = b.load(b.gep(count, [ir.Constant(lt.i64, 1)]))
        self._count(b, 0, ir.Constant(lt.i64, -1))
        self._count(b, 1, b.sub(ir.Constant(lt.i64, 0), nbytes))
        b.call(self._declare("free", lt.void, [lt.i8p]), [owner])
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()
        return fn

    def release(self) -> ir.Function:
        """``fl.rt.release(PyObject *capsule)``: the destructor of a returned array's
        capsule: drop the block, then (a tail call) the library's owner tuple."""
        name = "fl.rt.release"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [lt.i8p])  # type: ignore[misc]
        (capsule,) = fn.args
        get_pointer = self._declare("PyCapsule_GetPointer", lt.i8p, [lt.i8p, lt.i8p])
        get_context = self._declare("PyCapsule_GetContext", lt.i8p, [lt.i8p])
        owner = b.call(get_pointer, [capsule, ir.Constant(lt.i8p, None)])
        keep = b.call(get_context, [capsule])
        b.call(self.decref(), [owner])
        decref = self._declare("Py_DecRef", lt.void, [lt.i8p])
        b.call(decref, [keep], tail="musttail")
        b.ret_void()
        return fn

    def numpy_api(self, b: ir.IRBuilder, slot: int, fnty: ir.FunctionType) -> ir.Value:
        """Function ``slot`` of NumPy's C API table, as a function pointer."""
        record = runtime_record(self.module, self.symbol)
        table = b.load(b.gep(record, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 1)]))
        entry = b.load(b.gep(table, [ir.Constant(lt.i64, slot)]))
        return b.bitcast(entry, fnty.as_pointer())

    def numpy_type(self, b: ir.IRBuilder) -> ir.Value:
        """``&PyArray_Type`` (slot 2 of the API table)."""
        record = runtime_record(self.module, self.symbol)
        table = b.load(b.gep(record, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 1)]))
        return b.load(b.gep(table, [ir.Constant(lt.i64, 2)]))
