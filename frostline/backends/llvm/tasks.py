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

Tasks are claimed through an atomic counter (dynamic scheduling), each
claim a share of the tasks left (guided: long runs of neighbouring tasks
first, single ones last).  A failing task stops its thread; no thread runs a
task above the lowest failed one after that, but the tasks below it still
run, so the failure reported is the one running the tasks in order meets
first.  Tasks started from a task (a parallel loop inside a parallel
loop, directly or in a callee: the context's ``NESTED`` flag says so), tasks
of arrays with one task, and every task when the thread count is 1 run on
the calling thread, in order, with no pool.

The pool (``frostline.parallel``) is one block per process; its workers start
on the first launch that needs them, spin a while when out of work, then
sleep on a futex of their own, which a launch wakes (``workers``).  All of
it (futex, mutex, workers, claims) is emitted here, in ``workers`` and with
the layout of ``taskabi``; the compiled code needs only pthreads and
``syscall`` from libc.  docs/parallel.md describes the whole.
"""

from __future__ import annotations

from llvmlite import ir

from frostline import parallel as pool
from frostline.backends.llvm import callcontext
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.memory import POOL, RUNTIME, WORKER, runtime_record
from frostline.backends.llvm.taskabi import (
    ACTIVE,
    CLAIM,
    ENV,
    FAILED,
    FN,
    FUTEX_WAIT,
    FUTEX_WAKE,
    GUIDE,
    GUIDE_PER_THREAD,
    LINK,
    LOCK,
    NTASKS,
    PAYLOAD,
    PUBLISHED,
    RESULT_SIZE,
    RESULTS,
    SPIN_WAIT,
    STATUS,
    SYS_FUTEX,
    TASK,
    TASK_ARRAY,
    const,
    half,
    i64p,
    load,
    store,
    word,
)
from frostline.backends.llvm.workers import WorkerRuntime


class Tasks(WorkerRuntime):
    """The pool runtime of one module, emitted on first use."""

    def __init__(self, module: ir.Module, runtime_symbol: str, extern):  # type: ignore[no-untyped-def]
        self.module = module
        self.runtime_symbol = runtime_symbol
        self.extern = extern
        arch = (module.triple or "x86_64").split("-")[0]
        if arch not in SYS_FUTEX or "linux" not in (module.triple or "linux"):
            raise NotImplementedError(f"parallel loops need Linux on x86-64 or aarch64, "
                                      f"not {module.triple}")
        self.arch = arch
        self.functions: dict[str, ir.Function] = {}

    # --- primitives ------------------------------------------------------------------

    def _function(self, name: str, ret: ir.Type, args: list[ir.Type]) -> tuple[
            ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        fn.linkage = "internal"
        # Not optimised: written as it should run, it gains little from O3, which would
        # cost every parallel kernel's compilation most of its time.
        fn.attributes.add("noinline")
        fn.attributes.add("optnone")
        self.functions[name] = fn
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def pause(self, b: ir.IRBuilder) -> None:
        if self.arch == "x86_64":
            b.call(self.extern("llvm.x86.sse2.pause", lt.void, []), [])

    def futex(self, b: ir.IRBuilder, address: ir.Value, op: int, value: ir.Value) -> None:
        syscall = self.module.globals.get("syscall") or ir.Function(
            self.module, ir.FunctionType(lt.i64, [lt.i64], var_arg=True), name="syscall")
        b.call(syscall, [const(SYS_FUTEX[self.arch]), b.ptrtoint(address, lt.i64), const(op),
                         b.zext(value, lt.i64) if value.type == lt.i32 else value, const(0)])

    def loop(self, fn: ir.Function, b: ir.IRBuilder, name: str) -> tuple[ir.Block, ir.Block]:
        """A loop head (branched to now) and its exit."""
        head, out = fn.append_basic_block(name), fn.append_basic_block(f"{name}.end")
        b.branch(head)
        b.position_at_end(head)
        return head, out

    def pool(self, b: ir.IRBuilder) -> ir.Value:
        """The process's pool block (null before the loader fills the record)."""
        record = runtime_record(self.module, self.runtime_symbol)
        got = b.load(b.gep(record, [const(0, lt.i32), const(POOL, lt.i32)]))
        return b.bitcast(got, i64p)

    # --- the mutex over the list of task arrays (a futex: 0 free, 1 held, 2 contended)

    def lock(self) -> ir.Function:
        name = "fl.par.lock"
        if name in self.functions:
            return self.functions[name]
        fn, b = self._function(name, lt.void, [i64p])
        m = half(b, fn.args[0])
        got = b.cmpxchg(m, const(0, lt.i32), const(1, lt.i32), "acquire", "monotonic")
        taken, slow = fn.append_basic_block("taken"), fn.append_basic_block("slow")
        b.cbranch(b.extract_value(got, 1), taken, slow)
        b.position_at_end(taken)
        b.ret_void()
        b.position_at_end(slow)
        first = b.atomic_rmw("xchg", m, const(2, lt.i32), "acquire")
        head, out = self.loop(fn, b, "wait")
        state = b.phi(lt.i32)
        state.add_incoming(first, slow)
        sleep = fn.append_basic_block("sleep")
        b.cbranch(b.icmp_unsigned("==", state, const(0, lt.i32)), out, sleep)
        b.position_at_end(sleep)
        self.futex(b, m, FUTEX_WAIT, const(2, lt.i32))
        state.add_incoming(b.atomic_rmw("xchg", m, const(2, lt.i32), "acquire"), sleep)
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
        before = b.atomic_rmw("sub", m, const(1, lt.i32), "release")
        wake, done = fn.append_basic_block("wake"), fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("==", before, const(1, lt.i32)), done, wake)
        b.position_at_end(wake)
        store(b, const(0, lt.i32), m)
        self.futex(b, m, FUTEX_WAKE, const(1, lt.i32))
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()
        return fn

    # --- running tasks ---------------------------------------------------------------

    def run_tasks(self) -> ir.Function:
        """``fl.par.run(ta, ctx)``: claim and run tasks until none is left or one failed;
        a failure is recorded if its task is the lowest so far.  A claim takes
        1/GUIDE of the tasks left (at least one); unpublished, GUIDE is 1: all of them."""
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
        guide = b.load(word(b, ta, GUIDE))
        head, out = self.loop(fn, b, "claim")
        go, take, batch, run, failed = (fn.append_basic_block(x) for x in (
            "go", "take", "batch", "run", "failed"))
        b.branch(go)
        # Guided claims: a share of what is left (at least one task), so threads take
        # long runs of neighbouring tasks first and single ones at the end.  Tasks above
        # the lowest failed one are not run; those below it still are, so the failure
        # that stands is the one running the tasks in order would meet first.
        b.position_at_end(go)
        first = load(b, word(b, ta, CLAIM), "monotonic")
        b.cbranch(b.icmp_unsigned("<", first, load(b, word(b, ta, FAILED), "acquire")),
                  take, out)
        b.position_at_end(take)
        share = b.udiv(b.sub(n, first), guide)
        share = b.select(b.icmp_unsigned("==", share, const(0)), const(1), share)
        end = b.add(first, share)
        got = b.cmpxchg(word(b, ta, CLAIM), first, end, "monotonic", "monotonic")
        b.cbranch(b.extract_value(got, 1), batch, head)
        b.position_at_end(batch)
        k = b.phi(lt.i64)
        k.add_incoming(first, take)
        more = fn.append_basic_block("batch.more")
        b.cbranch(b.icmp_unsigned("<", k, end), more, head)
        b.position_at_end(more)
        stopped = b.icmp_unsigned(">", k, load(b, word(b, ta, FAILED), "acquire"))
        b.cbranch(stopped, out, run)
        b.position_at_end(run)
        result = b.inttoptr(b.add(results, b.mul(k, size)), lt.i8p)
        status = b.call(task, [env, k, result, ctx])
        k.add_incoming(b.add(k, const(1)), run)
        b.cbranch(b.icmp_signed("==", status, const(0, lt.i32)), batch, failed)
        b.position_at_end(failed)
        self.record_failure(fn, b, ta, ctx, k, status)
        b.branch(out)
        b.position_at_end(out)
        b.ret_void()
        return fn

    def record_failure(self, fn: ir.Function, b: ir.IRBuilder, ta: ir.Value, ctx: ir.Value,
                       k: ir.Value, status: ir.Value) -> None:
        """Under the array's spin lock: keep the failure of the lowest task, and its payload."""
        spin_lock = word(b, ta, LOCK)
        head, out = self.loop(fn, b, "failure.lock")
        got = b.cmpxchg(spin_lock, const(0), const(1), "acquire", "monotonic")
        again = fn.append_basic_block("failure.spin")
        b.cbranch(b.extract_value(got, 1), out, again)
        b.position_at_end(again)
        self.pause(b)
        b.branch(head)
        b.position_at_end(out)
        lower, done = fn.append_basic_block("failure.lowest"), fn.append_basic_block("failure.done")
        b.cbranch(b.icmp_unsigned("<", k, b.load(word(b, ta, FAILED))), lower, done)
        b.position_at_end(lower)
        b.store(b.sext(status, lt.i64), word(b, ta, STATUS))
        self.copy_payload(b, b.bitcast(ctx, i64p), callcontext.PAYLOAD, ta, PAYLOAD)
        store(b, k, word(b, ta, FAILED))
        b.branch(done)
        b.position_at_end(done)
        store(b, const(0), spin_lock)

    def copy_payload(self, b: ir.IRBuilder, src: ir.Value, src_at: int, dst: ir.Value,
                     dst_at: int) -> None:
        """Copy an error payload (``callcontext.PAYLOAD_WORDS`` words)."""
        memcpy = self.extern("llvm.memcpy.p0i8.p0i8.i64", lt.void,
                             [lt.i8p, lt.i8p, lt.i64, lt.i1])
        b.call(memcpy, [b.bitcast(word(b, dst, dst_at), lt.i8p),
                        b.bitcast(word(b, src, src_at), lt.i8p),
                        const(8 * callcontext.PAYLOAD_WORDS), const(0, lt.i1)])

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
        nested = b.icmp_unsigned("!=", b.and_(flags, const(callcontext.NESTED)), const(0))
        alone = b.or_(nested, b.or_(b.icmp_unsigned("<", n, const(2)),
                                    b.icmp_unsigned("==", block, ir.Constant(i64p, None))))
        inline, check, publish = (fn.append_basic_block(x) for x in (
            "inline", "check", "publish"))
        b.cbranch(alone, inline, check)
        b.position_at_end(inline)
        b.ret_void()
        b.position_at_end(check)
        wanted = load(b, word(b, block, pool.WANTED), "monotonic")
        wanted = b.select(b.icmp_signed(">", wanted, const(pool.MAX_THREADS)),
                          const(pool.MAX_THREADS), wanted)
        ready = fn.append_basic_block("ready")
        b.cbranch(b.icmp_signed("<", wanted, const(2)), inline, ready)
        b.position_at_end(ready)
        workers = b.call(self.ensure_pool(), [block, wanted])
        b.cbranch(b.icmp_signed("<", workers, const(1)), inline, publish)
        b.position_at_end(publish)
        b.store(b.mul(wanted, const(GUIDE_PER_THREAD)), word(b, ta, GUIDE))  # before publishing
        b.call(self.lock(), [word(b, block, pool.MUTEX)])
        b.store(b.load(word(b, block, pool.HEAD)), word(b, ta, LINK))
        store(b, b.ptrtoint(ta, lt.i64), word(b, block, pool.HEAD), "seq_cst")
        b.call(self.unlock(), [word(b, block, pool.MUTEX)])
        b.store(const(1), word(b, ta, PUBLISHED))
        # Wake the first workers, as many as there are tasks for (one fewer: this
        # thread works too), those that sleep.
        wake = b.sub(n, const(1))
        for bound in (b.sub(wanted, const(1)), workers):
            wake = b.select(b.icmp_unsigned("<", bound, wake), bound, wake)
        head, out = self.loop(fn, b, "wake")
        w = b.phi(lt.i64)
        w.add_incoming(const(0), publish)
        one, asleep, signal, nxt = (fn.append_basic_block(x) for x in (
            "wake.one", "wake.asleep", "wake.signal", "wake.next"))
        b.cbranch(b.icmp_unsigned("<", w, wake), one, out)
        b.position_at_end(one)
        slot = word(b, block, b.add(const(pool.HEADER_WORDS), b.mul(w, const(pool.SLOT_WORDS))))
        b.cbranch(b.icmp_unsigned("!=", load(b, word(b, slot, pool.SLEEPING), "seq_cst"),
                                  const(0)), asleep, nxt)
        b.position_at_end(asleep)
        futex = half(b, word(b, slot, pool.SIGNAL))
        got = b.cmpxchg(futex, const(0, lt.i32), const(1, lt.i32), "seq_cst", "monotonic")
        b.cbranch(b.extract_value(got, 1), signal, nxt)
        b.position_at_end(signal)
        self.futex(b, futex, FUTEX_WAKE, const(1, lt.i32))
        b.branch(nxt)
        b.position_at_end(nxt)
        w.add_incoming(b.add(w, const(1)), nxt)
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
        b.store(b.or_(flags, const(callcontext.NESTED)), flags_at)
        b.call(self.run_tasks(), [ta, ctx])
        b.store(flags, flags_at)
        withdraw, done = fn.append_basic_block("withdraw"), fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("!=", b.load(word(b, ta, PUBLISHED)), const(0)), withdraw, done)
        b.position_at_end(withdraw)
        self.unpublish(fn, b, ta)
        self.wait_idle(fn, b, ta)
        b.branch(done)
        b.position_at_end(done)
        status = b.trunc(b.load(word(b, ta, STATUS)), lt.i32)
        failed, ok = fn.append_basic_block("failed"), fn.append_basic_block("ok")
        b.cbranch(b.icmp_signed("!=", status, const(0, lt.i32)), failed, ok)
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
        k.add_incoming(const(0), before)
        now = load(b, active, "acquire")
        busy, spin, sleep = (fn.append_basic_block(x) for x in ("idle.busy", "idle.spin",
                                                                 "idle.sleep"))
        b.cbranch(b.icmp_unsigned("==", now, const(0, lt.i32)), out, busy)
        b.position_at_end(busy)
        b.cbranch(b.icmp_unsigned("<", k, const(SPIN_WAIT)), spin, sleep)
        b.position_at_end(spin)
        self.pause(b)
        k.add_incoming(b.add(k, const(1)), spin)
        b.branch(head)
        b.position_at_end(sleep)
        self.futex(b, active, FUTEX_WAIT, now)
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
        results = (b.ptrtoint(self.results, lt.i64) if self.results is not None else const(0))
        size = (b.ptrtoint(b.gep(ir.Constant(self.result_type.as_pointer(), None), [const(1)]),
                           lt.i64) if self.result_type is not None else const(0))
        for k, value in ((LINK, const(0)), (FN, b.ptrtoint(self.task, lt.i64)),
                         (ENV, b.ptrtoint(env, lt.i64)), (NTASKS, n), (RESULTS, results),
                         (RESULT_SIZE, size), (PUBLISHED, const(0)), (LOCK, const(0)),
                         (CLAIM, const(0)), (ACTIVE, const(0)), (FAILED, n),
                         (STATUS, const(0)), (GUIDE, const(1))):
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
        return b.gep(self.results, [const(0, lt.i32), k])
