"""The pool's threads, emitted in IR: each one's main loop, and starting them.

Methods of ``tasks.Tasks`` kept in their own module.  A worker runs tasks while
some task array has tasks left to claim, spins ``SPIN`` pauses for more, then
sleeps on the futex of its own slot of the pool block until a launch wakes it.
The pool is set up once per process: the process id in the block tells a
forked child that the pool (and its threads) were its parent's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from frostline import parallel as pool
from frostline.backends.llvm import callcontext
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.taskabi import (
    ACTIVE,
    CLAIM,
    FAILED,
    FUTEX_WAIT,
    FUTEX_WAKE,
    LINK,
    SIG_BLOCK,
    SIGSET_BYTES,
    SPIN,
    const,
    half,
    i64p,
    load,
    store,
    word,
)

if TYPE_CHECKING:
    from frostline.backends.llvm.tasks import Tasks


class WorkerRuntime:
    """The worker-side functions of the pool runtime."""

    def take_work(self: Tasks) -> ir.Function:
        """``i64* fl.par.take(pool)``: a published task array with tasks left to claim,
        counted as having one more worker in it; or null."""
        name = "fl.par.take"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, i64p, [i64p])
        (block,) = fn.args
        b.call(self.lock(), [word(b, block, pool.MUTEX)])
        first = b.load(word(b, block, pool.HEAD))
        before = b.block
        head, none = self.loop(fn, b, "scan")
        cur = b.phi(lt.i64)
        cur.add_incoming(first, before)
        look, found, skip = (fn.append_basic_block(x) for x in ("look", "found", "skip"))
        b.cbranch(b.icmp_unsigned("==", cur, const(0)), none, look)
        b.position_at_end(look)
        ta = b.inttoptr(cur, i64p)
        left = b.icmp_unsigned("<", load(b, word(b, ta, CLAIM), "monotonic"),
                               load(b, word(b, ta, FAILED), "acquire"))  # ntasks if none
        b.cbranch(left, found, skip)
        b.position_at_end(skip)
        cur.add_incoming(b.load(word(b, ta, LINK)), skip)
        b.branch(head)
        b.position_at_end(found)
        b.atomic_rmw("add", half(b, word(b, ta, ACTIVE)), const(1, lt.i32), "acq_rel")
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.ret(ta)
        b.position_at_end(none)
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.ret(ir.Constant(i64p, None))
        return fn

    def has_work(self: Tasks, b: ir.IRBuilder, block: ir.Value, index: ir.Value) -> ir.Value:
        """Whether a worker should look for work: it is among the threads wanted (the
        calling thread is one of them) and some task array is published."""
        wanted = load(b, word(b, block, pool.WANTED), "monotonic")
        eligible = b.icmp_signed("<", b.add(index, const(1)), wanted)
        published = b.icmp_unsigned("!=", load(b, word(b, block, pool.HEAD), "acquire"), const(0))
        return b.and_(eligible, published)

    def worker(self: Tasks) -> ir.Function:
        """``i8* fl.par.worker(i8* slot)``: a pool thread's main loop (it never returns).

        It runs tasks while there are some, spins ``SPIN`` pauses for more, then sleeps
        on its slot's futex until a launch wakes it."""
        name = "fl.par.worker"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.i8p, [lt.i8p])
        slot = b.bitcast(fn.args[0], i64p)
        block = b.inttoptr(b.load(word(b, slot, pool.SLOT_POOL)), i64p)
        index = b.load(word(b, slot, pool.SLOT_INDEX))
        signal = half(b, word(b, slot, pool.SIGNAL))
        sleeping = word(b, slot, pool.SLEEPING)
        # Signals go to Python's threads, never to a worker.
        sigset = b.alloca(ir.ArrayType(lt.i8, SIGSET_BYTES))
        sigset.align = 16
        mask = b.bitcast(sigset, lt.i8p)
        b.call(self.extern("sigfillset", lt.i32, [lt.i8p]), [mask])
        b.call(self.extern("pthread_sigmask", lt.i32, [lt.i32, lt.i8p, lt.i8p]),
               [const(SIG_BLOCK, lt.i32), mask, ir.Constant(lt.i8p, None)])
        ctx = b.alloca(ir.ArrayType(lt.i64, callcontext.CONTEXT_WORDS))
        ctx_words = b.bitcast(ctx, i64p)
        b.store(const(0), word(b, ctx_words, 0))
        b.store(const(callcontext.NESTED), word(b, ctx_words, callcontext.FLAGS))
        ctx_ptr = b.bitcast(ctx, lt.i8p)
        spins = b.alloca(lt.i64)
        b.store(const(0), spins)
        look = fn.append_basic_block("look")
        take, work, idle, pause, sleep, doze, woken = (fn.append_basic_block(x) for x in (
            "take", "work", "idle", "pause", "sleep", "doze", "woken"))
        b.branch(look)

        b.position_at_end(look)
        b.cbranch(self.has_work(b, block, index), take, idle)
        b.position_at_end(take)
        ta = b.call(self.take_work(), [block])
        b.cbranch(b.icmp_unsigned("==", ta, ir.Constant(i64p, None)), idle, work)
        b.position_at_end(work)
        b.call(self.run_tasks(), [ta, ctx_ptr])
        active = half(b, word(b, ta, ACTIVE))
        last = fn.append_basic_block("last")
        again = fn.append_basic_block("again")
        before = b.atomic_rmw("sub", active, const(1, lt.i32), "acq_rel")
        b.cbranch(b.icmp_unsigned("==", before, const(1, lt.i32)), last, again)
        b.position_at_end(last)  # the array's caller may be asleep waiting for this
        self.futex(b, active, FUTEX_WAKE, const(0x7FFFFFFF, lt.i32))
        b.branch(again)
        b.position_at_end(again)
        b.store(const(0), spins)
        b.branch(look)

        b.position_at_end(idle)
        count = b.load(spins)
        b.cbranch(b.icmp_unsigned("<", count, const(SPIN)), pause, sleep)
        b.position_at_end(pause)
        b.store(b.add(count, const(1)), spins)
        self.pause(b)
        b.branch(look)

        # Say it sleeps, then look once more: a launch publishes, then reads the flag,
        # so either it sees this worker asleep and signals, or this sees its array.
        b.position_at_end(sleep)
        store(b, const(0, lt.i32), signal, "seq_cst")
        store(b, const(1), sleeping, "seq_cst")
        b.cbranch(self.has_work(b, block, index), woken, doze)
        b.position_at_end(doze)
        self.futex(b, signal, FUTEX_WAIT, const(0, lt.i32))
        b.branch(woken)
        b.position_at_end(woken)
        store(b, const(0), sleeping, "seq_cst")
        b.store(const(0), spins)
        b.branch(look)
        return fn

    # --- the pool ----------------------------------------------------------------------

    def ensure_pool(self: Tasks) -> ir.Function:
        """``i64 fl.par.ensure(pool, wanted)``: the pool set up in this process (a forked
        child sets up its own: the process id tells), with ``wanted - 1`` workers
        started if threads can be made; how many are."""
        name = "fl.par.ensure"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.i64, [i64p, lt.i64])
        block, wanted = fn.args
        pid = b.sext(b.call(self.extern("getpid", lt.i32, []), []), lt.i64)
        ready, setup, claim, reset, wait, started = (fn.append_basic_block(x) for x in (
            "ready", "setup", "claim", "reset", "wait", "started"))
        b.cbranch(b.icmp_signed("==", load(b, word(b, block, pool.READY_PID)), pid),
                  ready, setup)
        b.position_at_end(setup)
        claimed = load(b, word(b, block, pool.CLAIM_PID))
        b.cbranch(b.icmp_signed("==", claimed, pid), wait, claim)
        b.position_at_end(claim)
        got = b.cmpxchg(word(b, block, pool.CLAIM_PID), claimed, pid, "acq_rel", "acquire")
        b.cbranch(b.extract_value(got, 1), reset, wait)
        b.position_at_end(reset)  # no other thread of this process uses the pool yet
        for k in (pool.MUTEX, pool.HEAD, pool.STARTED):
            b.store(const(0), word(b, block, k))
        slots = b.bitcast(word(b, block, pool.HEADER_WORDS), lt.i8p)
        b.call(self.extern("memset", lt.i8p, [lt.i8p, lt.i32, lt.i64]),
               [slots, const(0, lt.i32), const(8 * pool.SLOT_WORDS * (pool.MAX_THREADS - 1))])
        store(b, pid, word(b, block, pool.READY_PID), "seq_cst")
        b.branch(ready)
        b.position_at_end(wait)  # another thread of this process is setting it up
        self.pause(b)
        b.cbranch(b.icmp_signed("==", load(b, word(b, block, pool.READY_PID)), pid),
                  ready, wait)

        b.position_at_end(ready)
        want = b.sub(wanted, const(1))
        have = load(b, word(b, block, pool.STARTED))
        grow = fn.append_basic_block("grow")
        b.cbranch(b.icmp_signed("<", have, want), grow, started)
        b.position_at_end(grow)
        b.call(self.lock(), [word(b, block, pool.MUTEX)])
        self.start_threads(fn, b, block, want)
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.branch(started)
        b.position_at_end(started)
        b.ret(load(b, word(b, block, pool.STARTED)))
        return fn

    def start_threads(self: Tasks, fn: ir.Function, b: ir.IRBuilder, block: ir.Value,
                      want: ir.Value) -> None:
        """Start workers until ``want`` run (the caller holds the mutex); stop early if
        the system makes no more threads."""
        tid = b.alloca(lt.i64)
        worker = b.inttoptr(b.load(word(b, block, pool.WORKER)),
                            ir.FunctionType(lt.i8p, [lt.i8p]).as_pointer())
        head, out = self.loop(fn, b, "spawn")
        have = b.load(word(b, block, pool.STARTED))
        make, made = fn.append_basic_block("spawn.make"), fn.append_basic_block("spawn.made")
        b.cbranch(b.icmp_signed("<", have, want), make, out)
        b.position_at_end(make)
        slot = word(b, block, b.add(const(pool.HEADER_WORDS), b.mul(have, const(pool.SLOT_WORDS))))
        b.store(const(0), word(b, slot, pool.SIGNAL))
        b.store(const(0), word(b, slot, pool.SLEEPING))
        b.store(b.ptrtoint(block, lt.i64), word(b, slot, pool.SLOT_POOL))
        b.store(have, word(b, slot, pool.SLOT_INDEX))
        create = self.extern("pthread_create", lt.i32, [i64p, lt.i8p, worker.type, lt.i8p])
        status = b.call(create, [tid, ir.Constant(lt.i8p, None), worker,
                                 b.bitcast(slot, lt.i8p)])
        b.cbranch(b.icmp_signed("==", status, const(0, lt.i32)), made, out)
        b.position_at_end(made)
        b.call(self.extern("pthread_detach", lt.i32, [lt.i64]), [b.load(tid)])
        store(b, b.add(have, const(1)), word(b, block, pool.STARTED))
        b.branch(head)
        b.position_at_end(out)
