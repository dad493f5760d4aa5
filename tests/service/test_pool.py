"""The compiler pool: compiles in workers, and survives their crashes, hangs and garbage."""

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import frostline as fl
from frostline.toolchain.service.pool import CompilerPool, WorkerCrashed, WorkerTimeout

ROOT = str(Path(fl.__file__).resolve().parents[1])


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def crashme(x):
    return x + 1.0


def scale_isolated(a, x):
    for i in range(x.shape[0]):
        x[i] *= a


def bad(x):
    return x.nope


AXPY = "float64, float64[::1], float64[::1]"


@pytest.fixture(scope="module")
def pool():
    with CompilerPool(2, environment={"FROSTLINE_WORKER_FAULT": "abort@crashme"}) as p:
        yield p


def in_worker(p, fn, sig):
    """Compiled by a worker of ``p`` whatever the caches hold."""
    from frostline.backends import llvm
    from frostline.stages.closure import Closure

    dispatcher = fl.jit(fn)
    return llvm.load(p.object_code(Closure(dispatcher.program, dispatcher.signature_from(sig))))


def check_axpy(exe):
    y = np.zeros(4)
    exe(2.0, np.arange(4.0), y)
    np.testing.assert_array_equal(y, 2.0 * np.arange(4.0))


def test_compile_in_a_worker(pool):
    assert pool.submit("ping").result(60)["pid"] != os.getpid()
    exe = pool.compile(axpy, AXPY)
    check_axpy(exe)
    assert exe.object_code.fingerprint == fl.jit(axpy).compile(AXPY).object_code.fingerprint


def test_a_compile_error_arrives_as_in_process(pool):
    with pytest.raises(fl.CompileError) as remote:
        pool.compile(bad, "float64")
    with pytest.raises(fl.CompileError) as local:
        fl.jit(bad).compile("float64")
    assert str(remote.value) == str(local.value)
    assert (remote.value.filename, remote.value.lineno, remote.value.col) == (
        local.value.filename, local.value.lineno, local.value.col)


def test_unknown_methods_get_their_error_code(pool):
    with pytest.raises(fl.CompileError, match="-32601"):
        pool.submit("frobnicate").result(60)


def test_a_crash_fails_that_job_only_and_the_pool_respawns(pool):
    before = pool.counts["respawned"]
    with pytest.raises(WorkerCrashed, match="SIGABRT") as info:
        pool.compile(crashme, "float64")
    assert info.value.status == -signal.SIGABRT
    assert pool.counts["respawned"] == before + 1
    check_axpy(in_worker(pool, axpy, AXPY))


@pytest.mark.parametrize("fault, match", [("segv", "SIGSEGV"), ("exit", "status 3"),
                                          ("junk", "broke the protocol"),
                                          ("badid", "a response to request -1")])
def test_every_kind_of_worker_death(fault, match):
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": f"{fault}@crashme"}) as p:
        with pytest.raises(WorkerCrashed, match=match):
            p.compile(crashme, "float64")
        check_axpy(in_worker(p, axpy, AXPY))
        assert p.counts["respawned"] == 1


def test_a_worker_killed_from_outside():
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "hang@crashme"}) as p:
        pid = p.submit("ping").result(60)["pid"]
        job = threading.Thread(target=lambda: pytest.raises(  # (a timeout if the kill
            WorkerCrashed, p.compile, crashme, "float64", timeout=30.0))  # came too early)
        job.start()
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        job.join(60)
        assert not job.is_alive() and p.counts["respawned"] == 1
        assert p.submit("ping").result(60)["pid"] != pid


def test_a_hang_times_out():
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "hang@crashme"}) as p:
        start = time.monotonic()
        with pytest.raises(WorkerTimeout, match="longer than 2 s"):
            p.compile(crashme, "float64", timeout=2.0)
        assert time.monotonic() - start < 30
        check_axpy(in_worker(p, axpy, AXPY))


def test_cancel_before_start_and_while_running():
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "hang@crashme"}) as p:
        p.submit("ping").result(60)
        busy = threading.Thread(target=lambda: pytest.raises(
            WorkerTimeout, p.compile, crashme, "float64", timeout=3.0))
        busy.start()
        time.sleep(0.5)  # the one worker hangs on crashme
        queued = p.submit("ping")
        assert queued.cancel() and queued.future.cancelled()  # no worker had taken it
        busy.join(60)
        running = p.submit("ping")
        running.cancel()  # taken or not, it ends cancelled (a taken one's reply is dropped)
        with pytest.raises(concurrent.futures.CancelledError):
            running.result(60)
        assert p.submit("ping").result(60)["pid"] > 0


def test_eight_threads_submitting_at_once(pool):
    before = pool.counts["requests"]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        exes = list(ex.map(lambda _: in_worker(pool, axpy, AXPY), range(8)))
    for exe in exes:
        check_axpy(exe)
    assert pool.counts["requests"] == before + 8


def test_exit_with_jobs_in_flight_is_quick():
    script = textwrap.dedent('''
        import time
        from frostline.toolchain.service.pool import CompilerPool
        def crashme(x):
            return x + 1.0
        pool = CompilerPool(2, environment={"FROSTLINE_WORKER_FAULT": "hang@crashme"})
        import atexit; atexit.register(pool.close)
        for _ in range(3):
            pool.submit("ping")
        import threading
        threading.Thread(target=lambda: pool.compile(crashme, "float64"), daemon=True).start()
        time.sleep(2)
        print("exiting", flush=True)
    ''')
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pool_exit_{os.getpid()}.py"
    path.write_text(script)
    try:
        start = time.monotonic()
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
        took = time.monotonic() - start
    finally:
        path.unlink()
    assert done.returncode == 0 and done.stdout.strip() == "exiting", done.stderr
    assert took < 2.0 + 2.0 + 5.0  # the sleep, the close, and the interpreter's start


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_gets_workers_of_its_own(pool):
    parent_pid = pool.submit("ping").result(60)["pid"]
    child = os.fork()
    if child == 0:
        try:
            exe = in_worker(pool, axpy, AXPY)
            y = np.zeros(2)
            exe(1.0, np.ones(2), y)
            ok = list(y) == [1.0, 1.0] and pool.submit("ping").result(60)["pid"] != parent_pid
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    check_axpy(in_worker(pool, axpy, AXPY))


def test_isolated_jit_functions_compile_in_the_pool_and_fill_the_caches(tmp_path):
    cache = fl.DiskCache(tmp_path / "cache")
    with CompilerPool(1) as p:
        deadline = time.monotonic() + 60
        while not p.ready() and time.monotonic() < deadline:  # until then: in process
            time.sleep(0.01)
        before = p.counts["requests"]
        sig = "float64, float64[::1]"
        x = np.ones(3)
        fl.jit(isolated=p, cache=cache)(scale_isolated).compile(sig)(2.0, x)
        assert p.counts["requests"] == before + 1 and list(x) == [2.0] * 3
        fl.jit(isolated=p, cache=cache)(scale_isolated).compile(sig)  # the memory cache
        assert p.counts["requests"] == before + 1
    assert any(path.is_file() for path in (tmp_path / "cache").rglob("*")), \
        "the worker's object code did not reach the disk cache"


def test_an_isolated_crash_falls_back_under_auto():
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "abort@crashme"}) as p:
        while not p.ready():
            time.sleep(0.01)
        strict = fl.jit(isolated=p, cache=False)(crashme)
        with pytest.raises(WorkerCrashed, match="SIGABRT"):
            strict(1.0)
        while not p.ready():  # the replacement is up (until then: in process)
            time.sleep(0.01)
        auto = fl.jit(isolated=p, cache=False, mode="auto")(crashme)
        with pytest.warns(fl.FallbackWarning, match="SIGABRT"):
            assert auto(1.0) == 2.0


def test_a_worker_out_of_memory_under_its_limit_is_replaced():
    with CompilerPool(1, memory_limit=1 << 30,
                      environment={"FROSTLINE_WORKER_FAULT": "oom@crashme"}) as p:
        pid = p.submit("ping", {"wait": True}).result(60)["pid"]
        with pytest.raises(WorkerCrashed, match="ran out of memory"):
            p.compile(fl.jit(cache=False)(crashme), "float64")
        assert p.counts["respawned"] == 1
        assert p.submit("ping").result(60)["pid"] != pid  # a fresh worker
        check_axpy(in_worker(p, axpy, AXPY))  # which compiles under the same limit
