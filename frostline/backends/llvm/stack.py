"""How deep a recursive kernel may go: the running thread's real stack.

The entry (``wrapper.call_kernel``) passes every kernel ``stack_base``: the
address of the call's context in its own frame, ``callcontext.CONTEXT_WORDS`` i64 slots of
which the first holds 0 and the rest are where a failing kernel leaves what
its error message needs (``codegen.raise_shapes``).  The address marks where
the call from Python entered; the slot caches, once a recursion is deep, the
lowest stack address it may reach, derived from the thread's stack as
``pthread_getattr_np`` reports it (its size is ``threading.stack_size`` for a
thread Python started, ``ulimit -s`` for the main thread).  A recursive
function checks at entry: beyond ``SHALLOW`` bytes below the entry it reads the
limit (computing it the first time) and raises RecursionError below it, so a
small stack gives the exception where it would have crashed.
"""

from __future__ import annotations

from llvmlite import ir

from frostline.backends.llvm import irtypes as lt

#: Recursion this shallow is never checked against the thread's stack (which would
#: cost a pthread_getattr_np, which reads /proc/self/maps for the main thread, per
#: call from Python).  Every stack Python runs on has this much room left.
SHALLOW = 16 << 10
#: Room kept below the limit: a frame with the check at its entry, and the way back.
MARGIN = 64 << 10
#: The limit where the thread's stack cannot be found: the fixed budget of before.
FALLBACK = 1 << 20
#: Bytes for a pthread_attr_t (56 on x86-64 glibc, 64 on aarch64).
_ATTR_BYTES = 128


def emit_stack_limit(module: ir.Module, extern) -> ir.Function:  # type: ignore[no-untyped-def]
    """``i64 fl.stack.limit(i8* base)``: the lowest address a recursion below ``base``
    may reach, cached in the i64 slot at ``base``. ``extern(name, ret, args)`` declares
    a C function in the module."""
    fn = ir.Function(module, ir.FunctionType(lt.i64, [lt.i8p]), name="fl.stack.limit")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("cold")
    (base,) = fn.args
    entry, compute, found, done = (fn.append_basic_block(n)
                                   for n in ("entry", "compute", "found", "done"))
    b = ir.IRBuilder(entry)
    attr = b.alloca(ir.ArrayType(lt.i8, _ATTR_BYTES), name="attr")
    attr.align = 16
    low_slot = b.alloca(lt.i8p, name="low")
    size_slot = b.alloca(lt.i64, name="size")
    slot = b.bitcast(base, lt.i64.as_pointer())
    cached = b.load(slot)
    b.cbranch(b.icmp_unsigned("!=", cached, ir.Constant(lt.i64, 0)), done, compute)

    b.position_at_end(compute)
    attr_ptr = b.bitcast(attr, lt.i8p)
    thread = b.call(extern("pthread_self", lt.i64, []), [])
    got = b.call(extern("pthread_getattr_np", lt.i32, [lt.i64, lt.i8p]), [thread, attr_ptr])
    fallback = b.sub(b.ptrtoint(base, lt.i64), ir.Constant(lt.i64, FALLBACK))
    b.cbranch(b.icmp_signed("==", got, ir.Constant(lt.i32, 0)), found, done)

    b.position_at_end(found)
    b.store(ir.Constant(lt.i8p, None), low_slot)
    getstack = extern("pthread_attr_getstack", lt.i32,
                      [lt.i8p, lt.i8p.as_pointer(), lt.i64.as_pointer()])
    ok = b.call(getstack, [attr_ptr, low_slot, size_slot])
    b.call(extern("pthread_attr_destroy", lt.i32, [lt.i8p]), [attr_ptr])
    low = b.ptrtoint(b.load(low_slot), lt.i64)
    usable = b.and_(b.icmp_signed("==", ok, ir.Constant(lt.i32, 0)),
                    b.icmp_unsigned("!=", low, ir.Constant(lt.i64, 0)))
    from_stack = b.select(usable, b.add(low, ir.Constant(lt.i64, MARGIN)), fallback)
    b.branch(done)

    b.position_at_end(done)
    limit = b.phi(lt.i64)
    limit.add_incoming(cached, entry)
    limit.add_incoming(fallback, compute)
    limit.add_incoming(from_stack, found)
    b.store(limit, slot)
    b.ret(limit)
    return fn
