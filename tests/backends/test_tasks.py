"""The task-array API on its own (docs/parallel.md, "The backend API"): a module built by
hand starts tasks, waits for all of them and reads their return values, the way later
parts of the backend (stencils) launch through it."""

from __future__ import annotations

import ctypes

import pytest
from llvmlite import ir

import frostline as fl
from frostline import parallel
from frostline.backends.llvm import callcontext, target
from frostline.backends.llvm import irtypes as lt
from frostline.backends.llvm.memory import runtime_record
from frostline.backends.llvm.taskabi import TASK
from frostline.backends.llvm.tasks import TaskArray, Tasks
from frostline.stats import NATIVE

RUNTIME = "test.tasks.runtime"
MAX = 64


class Frame:
    """What TaskArray needs of a function being lowered: allocas, a builder, a context."""

    def __init__(self, fn: ir.Function, ctx: ir.Value):
        self.entry = fn.append_basic_block("allocas")
        self.alloca_builder = ir.IRBuilder(self.entry)
        self.body = fn.append_basic_block("body")
        self.builder = ir.IRBuilder(self.body)
        self.stack_base = ctx

    def alloca(self, ty: ir.Type, name: str) -> ir.AllocaInstr:
        return self.alloca_builder.alloca(ty, name=name)


def build() -> str:
    """``i32 drive(i64 n, i64 bad, i64* sum, i8* ctx)``: n tasks; task k returns k*k + env,
    and fails with error 7 (leaving k in its payload) where k >= bad."""
    from frostline.backends.llvm.hostinfo import host_target

    spec = host_target()
    module = ir.Module("tasks_test")
    module.triple = spec.triple
    module.data_layout = target.data_layout(spec)
    runtime_record(module, RUNTIME)
    externs: dict[str, ir.Function] = {}

    def extern(name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        if name not in externs:
            externs[name] = module.globals.get(name) or ir.Function(
                module, ir.FunctionType(ret, args), name=name)
        return externs[name]

    tasks = Tasks(module, RUNTIME, extern)
    task = ir.Function(module, TASK, name="square")
    env, k, result, ctx = task.args
    b = ir.IRBuilder(task.append_basic_block())
    words = b.bitcast(env, lt.i64.as_pointer())
    fail, ok = task.append_basic_block("fail"), task.append_basic_block("ok")
    b.cbranch(b.icmp_signed(">=", k, b.load(b.gep(words, [ir.Constant(lt.i64, 1)]))), fail, ok)
    b.position_at_end(fail)
    payload = b.gep(b.bitcast(ctx, lt.i64.as_pointer()), [ir.Constant(lt.i64,
                                                                      callcontext.PAYLOAD)])
    b.store(k, payload)
    b.ret(ir.Constant(lt.i32, 7))
    b.position_at_end(ok)
    b.store(b.add(b.mul(k, k), b.load(words)), b.bitcast(result, lt.i64.as_pointer()))
    b.ret(ir.Constant(lt.i32, 0))

    drive = ir.Function(module, ir.FunctionType(lt.i32, [lt.i64, lt.i64, lt.i64.as_pointer(),
                                                         lt.i8p]), name="drive")
    n, bad, total, ctx = drive.args
    frame = Frame(drive, ctx)
    b = frame.builder
    env_words = frame.alloca(ir.ArrayType(lt.i64, 2), "env")
    b.store(ir.Constant(lt.i64, 1000), b.gep(env_words, [ir.Constant(lt.i32, 0),
                                                         ir.Constant(lt.i32, 0)]))
    b.store(bad, b.gep(env_words, [ir.Constant(lt.i32, 0), ir.Constant(lt.i32, 1)]))
    array = TaskArray(frame, tasks, task, lt.i64, MAX)
    array.start(b.bitcast(env_words, lt.i8p), n)
    status = array.wait_all()
    # The caller reads every task's return value (in order) after wait_all.
    acc = frame.alloca(lt.i64, "acc")
    b.store(ir.Constant(lt.i64, 0), acc)
    with b.if_then(b.icmp_signed("==", status, ir.Constant(lt.i32, 0))):
        i_slot = frame.alloca(lt.i64, "i")
        b.store(ir.Constant(lt.i64, 0), i_slot)
        head = drive.append_basic_block("head")
        body = drive.append_basic_block("sum")
        done = drive.append_basic_block("done")
        b.branch(head)
        b.position_at_end(head)
        i = b.load(i_slot)
        b.cbranch(b.icmp_signed("<", i, n), body, done)
        b.position_at_end(body)
        b.store(b.add(b.load(acc), b.load(array.result(i))), acc)
        b.store(b.add(i, ir.Constant(lt.i64, 1)), i_slot)
        b.branch(head)
        b.position_at_end(done)
    b.store(b.load(acc), total)
    b.ret(status)
    frame.alloca_builder.branch(frame.body)
    tasks.export_worker()
    return str(module)


@pytest.fixture(scope="module")
def drive():
    import llvmlite.binding as llvm

    from frostline.backends.llvm.hostinfo import host_target

    spec = host_target()
    module = target.parse_verified(build())
    target.optimize_module(module, spec)
    obj = target.emit_object(module, spec)
    jit = llvm.create_lljit_compiler(target.target_machine(spec))
    library = (llvm.JITLibraryBuilder().add_object_img(obj).add_current_process()
               .export_symbol("drive").export_symbol(RUNTIME).link(jit, "tasks_test"))
    record = (ctypes.c_void_p * 4).from_address(library[RUNTIME])
    record[0] = ctypes.addressof(NATIVE)
    record[2] = parallel.pool_for(record[3], (jit, library))
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64,
                          ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p)(library["drive"])
    yield fn, (jit, library)


@pytest.fixture(autouse=True)
def restore_threads():
    threads = fl.get_num_threads()
    yield
    fl.set_num_threads(threads)


def call(drive, n: int, bad: int) -> tuple[int, int, int]:
    fn, _ = drive
    total = ctypes.c_int64(0)
    ctx = (ctypes.c_int64 * callcontext.CONTEXT_WORDS)()
    status = fn(n, bad, ctypes.byref(total), ctypes.addressof(ctx))
    return status, total.value, ctx[callcontext.PAYLOAD]


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n", [0, 1, 5, MAX])
def test_tasks_run_and_return_values(drive, threads, n):
    fl.set_num_threads(threads)
    for _ in range(20):
        assert call(drive, n, n)[:2] == (0, sum(k * k + 1000 for k in range(n)))


@pytest.mark.parametrize("threads", [1, 4])
def test_the_lowest_failed_task_and_its_payload(drive, threads):
    fl.set_num_threads(threads)
    for bad in (0, 3, 40, MAX - 1):
        for _ in range(10):
            status, _, payload = call(drive, MAX, bad)
            assert (status, payload) == (7, bad)
