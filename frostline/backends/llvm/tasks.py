"""Task arrays on a thread pool, emitted in LLVM IR: the runtime of parallel loops.

A *task* is a function and its arguments; a *task array* is ``n`` tasks of one
function, ``fn(env, k, result_k, ctx)`` for ``k`` in ``0..n``, started
together.  It lives in the frame of the function that starts it (no heap
allocation per launch) and must be waited for before that function returns.
Each task writes its return value into ``result_k`` (``result_size`` bytes
apart), which the caller reads once ``wait_all`` is done.  Several task arrays
may be in flight at once, from several threads.

The API for the rest of the backend (``TaskArray``): ``start`` publishes the
array to the pool and wakes as many sleeping workers as it has tasks (one
fewer, as the calling thread works too); ``wait_all`` runs tasks on the calling
thread until none is left to claim, waits for the workers still running one,
and returns the status of the lowest task that failed (0 if none did), whose
error payload it copies into the caller's context; ``result(k)`` is the
address of task ``k``'s return value.

Tasks are claimed one at a time through an atomic counter (dynamic
scheduling).  A failing task stops its thread, and every thread stops at its
next claim.  Tasks started from a task (a parallel loop inside a parallel
loop, directly or in a callee: the context's ``NESTED`` flag says so), tasks
of arrays with one task, and every task when the thread count is 1 run on
the calling thread, in order, with no pool.

The pool (``frostline.parallel``) is one block per process; its workers start
on the first launch that needs them, spin a while when out of work, then
sleep on a futex of their own, which a launch wakes.  All of it (futex,
mutex, workers, claims) is in this module; the compiled code needs only
pthreads and ``syscall`` from libc.
"""

from __future__ import annotations

from llvmlite import ir

from frostline import parallel as pool
from frostline.backends.llvm import callcontext
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.memory import POOL, RUNTIME, WORKER, runtime_record

# --- a task array: i64 words in the starting function's frame ------------------------
LINK, FN, ENV, NTASKS, RESULTS, RESULT_SIZE, PUBLISHED, LOCK = range(8)
CLAIM, ACTIVE, STOP, FAILED, STATUS = range(8, 13)  # the contended words: a line apart
PAYLOAD = 16
WORDS = PAYLOAD + callcontext.PAYLOAD_WORDS
TASK_ARRAY = ir.ArrayType(lt.i64, WORDS)
#: ``i32 task(i8* env, i64 k, i8* result, i8* ctx)``: 0 or an error number.
TASK = ir.FunctionType(lt.i32, [lt.i8p, lt.i64, lt.i8p, lt.i8p])

#: Pauses a worker spins for work before it sleeps (about a millisecond), and a
#: caller for the last tasks of its array before it sleeps.
SPIN = 1 << 14
SPIN_WAIT = 1 << 12
#: Linux futex: the syscall's number per architecture, and the private operations.
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98}
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129
_SIG_BLOCK = 0
_SIGSET_BYTES = 128

i32p = lt.i32.as_pointer()
i64p = lt.i64.as_pointer()


def _c(value: int, ty: ir.Type = lt.i64) -> ir.Constant:
    return ir.Constant(ty, value)


def word(b: ir.IRBuilder, base: ir.Value, k: int | ir.Value) -> ir.Value:
    """The address of i64 word ``k`` of a block of words."""
    return b.gep(base, [_c(k) if isinstance(k, int) else k])


def half(b: ir.IRBuilder, address: ir.Value) -> ir.Value:
    """The low 32 bits of a word, where a futex is (little-endian targets)."""
    return b.bitcast(address, i32p)


def load(b: ir.IRBuilder, address: ir.Value, ordering: str = "acquire") -> ir.Value:
    return b.load_atomic(address, ordering, 8 if address.type.pointee == lt.i64 else 4)


def store(b: ir.IRBuilder, value: ir.Value, address: ir.Value,
          ordering: str = "release") -> None:
    b.store_atomic(value, address, ordering, 8 if value.type == lt.i64 else 4)


class Tasks:
    """The pool runtime of one module, emitted on first use."""

    def __init__(self, module: ir.Module, runtime_symbol: str, extern):  # type: ignore[no-untyped-def]
        self.module = module
        self.runtime_symbol = runtime_symbol
        self.extern = extern
        arch = (module.triple or "x86_64").split("-")[0]
        if arch not in _SYS_FUTEX:
            raise NotImplementedError(f"parallel loops need Linux on x86-64 or aarch64, "
                                      f"not {module.triple}")
        self.arch = arch
        self.functions: dict[str, ir.Function] = {}

    # --- primitives ------------------------------------------------------------------

    def _function(self, name: str, ret: ir.Type, args: list[ir.Type]) -> tuple[
            ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        fn.linkage = "internal"
        self.functions[name] = fn
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def pause(self, b: ir.IRBuilder) -> None:
        if self.arch == "x86_64":
            b.call(self.extern("llvm.x86.sse2.pause", lt.void, []), [])

    def futex(self, b: ir.IRBuilder, address: ir.Value, op: int, value: ir.Value) -> None:
        syscall = self.module.globals.get("syscall") or ir.Function(
            self.module, ir.FunctionType(lt.i64, [lt.i64], var_arg=True), name="syscall")
        b.call(syscall, [_c(_SYS_FUTEX[self.arch]), b.ptrtoint(address, lt.i64), _c(op),
                         b.zext(value, lt.i64) if value.type == lt.i32 else value, _c(0)])

    def loop(self, fn: ir.Function, b: ir.IRBuilder, name: str) -> tuple[ir.Block, ir.Block]:
        """A loop head (branched to now) and its exit."""
        head, out = fn.append_basic_block(name), fn.append_basic_block(f"{name}.end")
        b.branch(head)
        b.position_at_end(head)
        return head, out

    def pool(self, b: ir.IRBuilder) -> ir.Value:
        """The process's pool block (null before the loader fills the record)."""
        record = runtime_record(self.module, self.runtime_symbol)
        got = b.load(b.gep(record, [_c(0, lt.i32), _c(POOL, lt.i32)]))
        return b.bitcast(got, i64p)

    # --- the mutex over the list of task arrays (a futex: 0 free, 1 held, 2 contended)

    def lock(self) -> ir.Function:
        name = "fl.par.lock"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [i64p])
        m = half(b, fn.args[0])
        got = b.cmpxchg(m, _c(0, lt.i32), _c(1, lt.i32), "acquire", "monotonic")
        taken, slow = fn.append_basic_block("taken"), fn.append_basic_block("slow")
        b.cbranch(b.extract_value(got, 1), taken, slow)
        b.position_at_end(taken)
        b.ret_void()
        b.position_at_end(slow)
        first = b.atomic_rmw("xchg", m, _c(2, lt.i32), "acquire")
        head, out = self.loop(fn, b, "wait")
        state = b.phi(lt.i32)
        state.add_incoming(first, slow)
        sleep = fn.append_basic_block("sleep")
        b.cbranch(b.icmp_unsigned("==", state, _c(0, lt.i32)), out, sleep)
        b.position_at_end(sleep)
        self.futex(b, m, _FUTEX_WAIT, _c(2, lt.i32))
        state.add_incoming(b.atomic_rmw("xchg", m, _c(2, lt.i32), "acquire"), sleep)
        b.branch(head)
        b.position_at_end(out)
        b.ret_void()
        return fn

    def unlock(self) -> ir.Function:
        name = "fl.par.unlock"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [i64p])
        m = half(b, fn.args[0])
        before = b.atomic_rmw("sub", m, _c(1, lt.i32), "release")
        wake, done = fn.append_basic_block("wake"), fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("==", before, _c(1, lt.i32)), done, wake)
        b.position_at_end(wake)
        store(b, _c(0, lt.i32), m)
        self.futex(b, m, _FUTEX_WAKE, _c(1, lt.i32))
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()
        return fn

    # --- running tasks ---------------------------------------------------------------

    def run_tasks(self) -> ir.Function:
        """``fl.par.run(ta, ctx)``: claim and run tasks until none is left or one failed;
        a failure is recorded if its task is the lowest so far."""
        name = "fl.par.run"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [i64p, lt.i8p])
        ta, ctx = fn.args
        task = b.inttoptr(b.load(word(b, ta, FN)), TASK.as_pointer())
        env = b.inttoptr(b.load(word(b, ta, ENV)), lt.i8p)
        n = b.load(word(b, ta, NTASKS))
        results = b.load(word(b, ta, RESULTS))
        size = b.load(word(b, ta, RESULT_SIZE))
        head, out = self.loop(fn, b, "claim")
        go, run, failed = (fn.append_basic_block(x) for x in ("go", "run", "failed"))
        b.cbranch(b.icmp_unsigned("!=", load(b, word(b, ta, STOP), "monotonic"), _c(0)),
                  out, go)
        b.position_at_end(go)
        k = b.atomic_rmw("add", word(b, ta, CLAIM), _c(1), "monotonic")
        b.cbranch(b.icmp_unsigned("<", k, n), run, out)
        b.position_at_end(run)
        result = b.inttoptr(b.add(results, b.mul(k, size)), lt.i8p)
        status = b.call(task, [env, k, result, ctx])
        b.cbranch(b.icmp_signed("==", status, _c(0, lt.i32)), head, failed)
        b.position_at_end(failed)
        self.record_failure(fn, b, ta, ctx, k, status)
        store(b, _c(1), word(b, ta, STOP))
        b.branch(out)
        b.position_at_end(out)
        b.ret_void()
        return fn

    def record_failure(self, fn: ir.Function, b: ir.IRBuilder, ta: ir.Value, ctx: ir.Value,
                       k: ir.Value, status: ir.Value) -> None:
        """Under the array's spin lock: keep the failure of the lowest task, and its payload."""
        spin_lock = word(b, ta, LOCK)
        head, out = self.loop(fn, b, "failure.lock")
        got = b.cmpxchg(spin_lock, _c(0), _c(1), "acquire", "monotonic")
        again = fn.append_basic_block("failure.spin")
        b.cbranch(b.extract_value(got, 1), out, again)
        b.position_at_end(again)
        self.pause(b)
        b.branch(head)
        b.position_at_end(out)
        lower, done = fn.append_basic_block("failure.lowest"), fn.append_basic_block("failure.done")
        b.cbranch(b.icmp_unsigned("<", k, b.load(word(b, ta, FAILED))), lower, done)
        b.position_at_end(lower)
        b.store(k, word(b, ta, FAILED))
        b.store(b.sext(status, lt.i64), word(b, ta, STATUS))
        self.copy_payload(b, b.bitcast(ctx, i64p), callcontext.PAYLOAD, ta, PAYLOAD)
        b.branch(done)
        b.position_at_end(done)
        store(b, _c(0), spin_lock)

    def copy_payload(self, b: ir.IRBuilder, src: ir.Value, src_at: int, dst: ir.Value,
                     dst_at: int) -> None:
        """Copy an error payload (``callcontext.PAYLOAD_WORDS`` words)."""
        memcpy = self.extern("llvm.memcpy.p0i8.p0i8.i64", lt.void,
                             [lt.i8p, lt.i8p, lt.i64, lt.i1])
        b.call(memcpy, [b.bitcast(word(b, dst, dst_at), lt.i8p),
                        b.bitcast(word(b, src, src_at), lt.i8p),
                        _c(8 * callcontext.PAYLOAD_WORDS), _c(0, lt.i1)])

    # --- workers ---------------------------------------------------------------------

    def take_work(self) -> ir.Function:
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
        b.cbranch(b.icmp_unsigned("==", cur, _c(0)), none, look)
        b.position_at_end(look)
        ta = b.inttoptr(cur, i64p)
        left = b.icmp_unsigned("<", load(b, word(b, ta, CLAIM), "monotonic"),
                               b.load(word(b, ta, NTASKS)))
        going = b.icmp_unsigned("==", load(b, word(b, ta, STOP), "monotonic"), _c(0))
        b.cbranch(b.and_(left, going), found, skip)
        b.position_at_end(skip)
        cur.add_incoming(b.load(word(b, ta, LINK)), skip)
        b.branch(head)
        b.position_at_end(found)
        b.atomic_rmw("add", half(b, word(b, ta, ACTIVE)), _c(1, lt.i32), "acq_rel")
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.ret(ta)
        b.position_at_end(none)
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.ret(ir.Constant(i64p, None))
        return fn

    def has_work(self, b: ir.IRBuilder, block: ir.Value, index: ir.Value) -> ir.Value:
        """Whether a worker should look for work: it is among the threads wanted (the
        calling thread is one of them) and some task array is published."""
        wanted = load(b, word(b, block, pool.WANTED), "monotonic")
        eligible = b.icmp_signed("<", b.add(index, _c(1)), wanted)
        published = b.icmp_unsigned("!=", load(b, word(b, block, pool.HEAD), "acquire"), _c(0))
        return b.and_(eligible, published)

    def worker(self) -> ir.Function:
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
        sigset = b.alloca(ir.ArrayType(lt.i8, _SIGSET_BYTES))
        sigset.align = 16
        mask = b.bitcast(sigset, lt.i8p)
        b.call(self.extern("sigfillset", lt.i32, [lt.i8p]), [mask])
        b.call(self.extern("pthread_sigmask", lt.i32, [lt.i32, lt.i8p, lt.i8p]),
               [_c(_SIG_BLOCK, lt.i32), mask, ir.Constant(lt.i8p, None)])
        ctx = b.alloca(ir.ArrayType(lt.i64, callcontext.CONTEXT_WORDS))
        ctx_words = b.bitcast(ctx, i64p)
        b.store(_c(0), word(b, ctx_words, 0))
        b.store(_c(callcontext.NESTED), word(b, ctx_words, callcontext.FLAGS))
        ctx_ptr = b.bitcast(ctx, lt.i8p)
        spins = b.alloca(lt.i64)
        b.store(_c(0), spins)
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
        before = b.atomic_rmw("sub", active, _c(1, lt.i32), "acq_rel")
        b.cbranch(b.icmp_unsigned("==", before, _c(1, lt.i32)), last, again)
        b.position_at_end(last)  # the array's caller may be asleep waiting for this
        self.futex(b, active, _FUTEX_WAKE, _c(0x7FFFFFFF, lt.i32))
        b.branch(again)
        b.position_at_end(again)
        b.store(_c(0), spins)
        b.branch(look)

        b.position_at_end(idle)
        count = b.load(spins)
        b.cbranch(b.icmp_unsigned("<", count, _c(SPIN)), pause, sleep)
        b.position_at_end(pause)
        b.store(b.add(count, _c(1)), spins)
        self.pause(b)
        b.branch(look)

        # Say it sleeps, then look once more: a launch publishes, then reads the flag,
        # so either it sees this worker asleep and signals, or this sees its array.
        b.position_at_end(sleep)
        store(b, _c(0, lt.i32), signal, "seq_cst")
        store(b, _c(1), sleeping, "seq_cst")
        b.cbranch(self.has_work(b, block, index), woken, doze)
        b.position_at_end(doze)
        self.futex(b, signal, _FUTEX_WAIT, _c(0, lt.i32))
        b.branch(woken)
        b.position_at_end(woken)
        store(b, _c(0), sleeping, "seq_cst")
        b.store(_c(0), spins)
        b.branch(look)
        return fn

    # --- the pool ----------------------------------------------------------------------

    def ensure_pool(self) -> ir.Function:
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
            b.store(_c(0), word(b, block, k))
        slots = b.bitcast(word(b, block, pool.HEADER_WORDS), lt.i8p)
        b.call(self.extern("memset", lt.i8p, [lt.i8p, lt.i32, lt.i64]),
               [slots, _c(0, lt.i32), _c(8 * pool.SLOT_WORDS * (pool.MAX_THREADS - 1))])
        store(b, pid, word(b, block, pool.READY_PID), "seq_cst")
        b.branch(ready)
        b.position_at_end(wait)  # another thread of this process is setting it up
        self.pause(b)
        b.cbranch(b.icmp_signed("==", load(b, word(b, block, pool.READY_PID)), pid),
                  ready, wait)

        b.position_at_end(ready)
        want = b.sub(wanted, _c(1))
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

    def start_threads(self, fn: ir.Function, b: ir.IRBuilder, block: ir.Value,
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
        slot = word(b, block, b.add(_c(pool.HEADER_WORDS), b.mul(have, _c(pool.SLOT_WORDS))))
        b.store(_c(0), word(b, slot, pool.SIGNAL))
        b.store(_c(0), word(b, slot, pool.SLEEPING))
        b.store(b.ptrtoint(block, lt.i64), word(b, slot, pool.SLOT_POOL))
        b.store(have, word(b, slot, pool.SLOT_INDEX))
        create = self.extern("pthread_create", lt.i32, [i64p, lt.i8p, worker.type, lt.i8p])
        status = b.call(create, [tid, ir.Constant(lt.i8p, None), worker,
                                 b.bitcast(slot, lt.i8p)])
        b.cbranch(b.icmp_signed("==", status, _c(0, lt.i32)), made, out)
        b.position_at_end(made)
        b.call(self.extern("pthread_detach", lt.i32, [lt.i64]), [b.load(tid)])
        store(b, b.add(have, _c(1)), word(b, block, pool.STARTED))
        b.branch(head)
        b.position_at_end(out)

    def start(self) -> ir.Function:
        """``fl.par.start(ta, ctx)``: publish a task array and wake workers for it, unless
        its tasks run on the calling thread alone (see the module's docstring)."""
        name = "fl.par.start"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [i64p, lt.i8p])
        ta, ctx = fn.args
        block = self.pool(b)
        n = b.load(word(b, ta, NTASKS))
        flags = b.load(word(b, b.bitcast(ctx, i64p), callcontext.FLAGS))
        nested = b.icmp_unsigned("!=", b.and_(flags, _c(callcontext.NESTED)), _c(0))
        alone = b.or_(nested, b.or_(b.icmp_unsigned("<", n, _c(2)),
                                    b.icmp_unsigned("==", block, ir.Constant(i64p, None))))
        inline, check, publish = (fn.append_basic_block(x) for x in (
            "inline", "check", "publish"))
        b.cbranch(alone, inline, check)
        b.position_at_end(inline)
        b.ret_void()
        b.position_at_end(check)
        wanted = load(b, word(b, block, pool.WANTED), "monotonic")
        wanted = b.select(b.icmp_signed(">", wanted, _c(pool.MAX_THREADS)),
                          _c(pool.MAX_THREADS), wanted)
        ready = fn.append_basic_block("ready")
        b.cbranch(b.icmp_signed("<", wanted, _c(2)), inline, ready)
        b.position_at_end(ready)
        workers = b.call(self.ensure_pool(), [block, wanted])
        b.cbranch(b.icmp_signed("<", workers, _c(1)), inline, publish)
        b.position_at_end(publish)
        b.call(self.lock(), [word(b, block, pool.MUTEX)])
        b.store(b.load(word(b, block, pool.HEAD)), word(b, ta, LINK))
        store(b, b.ptrtoint(ta, lt.i64), word(b, block, pool.HEAD), "seq_cst")
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.store(_c(1), word(b, ta, PUBLISHED))
        # Wake the first workers, as many as there are tasks for (one fewer: this
        # thread works too), those that sleep.
        wake = b.sub(n, _c(1))
        for bound in (b.sub(wanted, _c(1)), workers):
            wake = b.select(b.icmp_unsigned("<", bound, wake), bound, wake)
        head, out = self.loop(fn, b, "wake")
        w = b.phi(lt.i64)
        w.add_incoming(_c(0), publish)
        one, asleep, signal, nxt = (fn.append_basic_block(x) for x in (
            "wake.one", "wake.asleep", "wake.signal", "wake.next"))
        b.cbranch(b.icmp_unsigned("<", w, wake), one, out)
        b.position_at_end(one)
        slot = word(b, block, b.add(_c(pool.HEADER_WORDS), b.mul(w, _c(pool.SLOT_WORDS))))
        b.cbranch(b.icmp_unsigned("!=", load(b, word(b, slot, pool.SLEEPING), "seq_cst"),
                                  _c(0)), asleep, nxt)
        b.position_at_end(asleep)
        futex = half(b, word(b, slot, pool.SIGNAL))
        got = b.cmpxchg(futex, _c(0, lt.i32), _c(1, lt.i32), "seq_cst", "monotonic")
        b.cbranch(b.extract_value(got, 1), signal, nxt)
        b.position_at_end(signal)
        self.futex(b, futex, _FUTEX_WAKE, _c(1, lt.i32))
        b.branch(nxt)
        b.position_at_end(nxt)
        w.add_incoming(b.add(w, _c(1)), nxt)
        b.branch(head)
        b.position_at_end(out)
        b.ret_void()
        return fn

    def wait_all(self) -> ir.Function:
        """``i32 fl.par.wait(ta, ctx)``: run tasks here until none is left to claim, take
        the array back from the pool, wait for the workers still in it; the status of
        the lowest failed task (its payload copied into ``ctx``), or 0."""
        name = "fl.par.wait"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.i32, [i64p, lt.i8p])
        ta, ctx = fn.args
        ctx_words = b.bitcast(ctx, i64p)
        flags_at = word(b, ctx_words, callcontext.FLAGS)
        flags = b.load(flags_at)
        b.store(b.or_(flags, _c(callcontext.NESTED)), flags_at)
        b.call(self.run_tasks(), [ta, ctx])
        b.store(flags, flags_at)
        withdraw, done = fn.append_basic_block("withdraw"), fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("!=", b.load(word(b, ta, PUBLISHED)), _c(0)), withdraw, done)
        b.position_at_end(withdraw)
        self.unpublish(fn, b, ta)
        self.wait_idle(fn, b, ta)
        b.branch(done)
        b.position_at_end(done)
        status = b.trunc(b.load(word(b, ta, STATUS)), lt.i32)
        failed, ok = fn.append_basic_block("failed"), fn.append_basic_block("ok")
        b.cbranch(b.icmp_signed("!=", status, _c(0, lt.i32)), failed, ok)
        b.position_at_end(failed)
        self.copy_payload(b, ta, PAYLOAD, ctx_words, callcontext.PAYLOAD)
        b.ret(status)
        b.position_at_end(ok)
        b.ret(status)
        return fn

    def unpublish(self, fn: ir.Function, b: ir.IRBuilder, ta: ir.Value) -> None:
        """Take ``ta`` out of the pool's list (no worker joins it after this)."""
        block = self.pool(b)
        b.call(self.lock(), [word(b, block, pool.MUTEX)])
        me = b.ptrtoint(ta, lt.i64)
        first = word(b, block, pool.HEAD)
        before = b.block
        head, out = self.loop(fn, b, "unlink")
        at = b.phi(i64p)
        at.add_incoming(first, before)
        step = fn.append_basic_block("unlink.next")
        b.cbranch(b.icmp_unsigned("==", b.load(at), me), out, step)
        b.position_at_end(step)
        at.add_incoming(word(b, b.inttoptr(b.load(at), i64p), LINK), step)
        b.branch(head)
        b.position_at_end(out)
        store(b, b.load(word(b, ta, LINK)), at)
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])

    def wait_idle(self, fn: ir.Function, b: ir.IRBuilder, ta: ir.Value) -> None:
        """Until no worker is inside ``ta``: spin a while, then sleep on its futex."""
        active = half(b, word(b, ta, ACTIVE))
        before = b.block
        head, out = self.loop(fn, b, "idle")
        k = b.phi(lt.i64)
        k.add_incoming(_c(0), before)
        now = load(b, active, "acquire")
        busy, spin, sleep = (fn.append_basic_block(x) for x in ("idle.busy", "idle.spin",
                                                                 "idle.sleep"))
        b.cbranch(b.icmp_unsigned("==", now, _c(0, lt.i32)), out, busy)
        b.position_at_end(busy)
        b.cbranch(b.icmp_unsigned("<", k, _c(SPIN_WAIT)), spin, sleep)
        b.position_at_end(spin)
        self.pause(b)
        k.add_incoming(b.add(k, _c(1)), spin)
        b.branch(head)
        b.position_at_end(sleep)
        self.futex(b, active, _FUTEX_WAIT, now)
        k.add_incoming(k, sleep)
        b.branch(head)
        b.position_at_end(out)

    def export_worker(self) -> None:
        """Put this module's worker function in its runtime record, where the loader
        finds it (the pool's threads run the first loaded library's)."""
        record = runtime_record(self.module, self.runtime_symbol)
        fields = list(record.initializer.constant)
        fields[WORKER] = self.worker().bitcast(lt.i8p)
        record.initializer = ir.Constant(RUNTIME, fields)


class TaskArray:
    """A task array in the frame of the function being lowered (``lowerer``): its words
    and its results are allocas there, so starting it allocates nothing."""

    def __init__(self, lowerer, tasks: Tasks, task: ir.Function,  # type: ignore[no-untyped-def]
                 result_type: ir.Type | None, max_tasks: int):
        self.lowerer = lowerer
        self.tasks = tasks
        self.task = task
        self.words = lowerer.alloca(TASK_ARRAY, "task.array")
        self.words.align = 64
        self.result_type = result_type
        self.results = (lowerer.alloca(ir.ArrayType(result_type, max_tasks), "task.results")
                        if result_type is not None else None)

    def start(self, env: ir.Value, n: ir.Value) -> None:
        """Start ``n`` tasks of ``task(env, k, result_k, ctx)``."""
        b = self.lowerer.builder
        ta = b.bitcast(self.words, i64p)
        results = (b.ptrtoint(self.results, lt.i64) if self.results is not None else _c(0))
        size = (b.ptrtoint(b.gep(ir.Constant(self.result_type.as_pointer(), None), [_c(1)]),
                           lt.i64) if self.result_type is not None else _c(0))
        for k, value in ((LINK, _c(0)), (FN, b.ptrtoint(self.task, lt.i64)),
                         (ENV, b.ptrtoint(env, lt.i64)), (NTASKS, n), (RESULTS, results),
                         (RESULT_SIZE, size), (PUBLISHED, _c(0)), (LOCK, _c(0)),
                         (CLAIM, _c(0)), (ACTIVE, _c(0)), (STOP, _c(0)), (FAILED, n),
                         (STATUS, _c(0))):
            b.store(value, word(b, ta, k))
        b.call(self.tasks.start(), [ta, self.lowerer.stack_base])

    def wait_all(self) -> ir.Value:
        """Run and wait for every task: 0, or the error number of the lowest that failed
        (its message payload is in the caller's context then)."""
        b = self.lowerer.builder
        return b.call(self.tasks.wait_all(), [b.bitcast(self.words, i64p),
                                              self.lowerer.stack_base])

    def result(self, k: ir.Value) -> ir.Value:
        """Where task ``k`` left its return value."""
        b = self.lowerer.builder
        return b.gep(self.results, [_c(0, lt.i32), k])
