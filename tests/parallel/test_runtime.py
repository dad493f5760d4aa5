"""The pool at run time: exceptions, threads, the thread count, fork, exit, idle CPU."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import frostline as fl
from frostline import parallel, prange

from . import kernels as k
from .test_prange import jitted

PACKAGE_ROOT = str(Path(fl.__file__).resolve().parents[1])


def raises_at(x, first, second):
    for i in prange(x.shape[0]):
        for _ in range(1):  # a loop in the body: one iteration per chunk
            if i == first:
                raise ValueError("first")
            if i == second:
                raise IndexError("second")
        x[i] = 1.0


def broadcast_at(a, b, out):
    for i in prange(out.shape[0]):
        n = i % 7 + 1
        out[i] = np.sum(a[:n] + b)  # (n,) and (3,) broadcast for n in (1, 3) only


def test_the_lowest_raising_iteration_wins():
    f = jitted(raises_at)
    x = np.zeros(200)
    for _ in range(30):
        lo, hi = sorted(random.sample(range(200), 2))
        with pytest.raises(ValueError, match="first"):
            f(x, lo, hi)
        with pytest.raises(IndexError, match="second"):
            f(x, hi, lo)
    f(x, -1, -1)  # and the pool still works
    assert (x == 1.0).all()


def test_the_lowest_iterations_message_payload():
    """Messages with runtime shapes come from the lowest failing iteration's context."""
    f = jitted(broadcast_at)
    a, b = np.ones(10), np.ones(3)
    for _ in range(20):
        with pytest.raises(ValueError, match=r"shapes \(2,\) \(3,\)"):
            f(a, b, np.zeros(150))
    out = np.zeros(1)
    f(a, b, out)
    assert out[0] == 6.0


def slow_unless_first(out, work):
    for i in prange(out.shape[0]):
        if i == 0:
            raise ValueError("first")
        acc = 0.0
        for j in range(work):
            acc += j * 0.5
        out[i] = acc


def test_an_exception_stops_the_other_tasks():
    """Iteration 0 raises at once; the other threads stop at their next chunk, so most of
    the 256 slow iterations never run."""
    out = np.zeros(256)
    with pytest.raises(ValueError, match="first"):
        jitted(slow_unless_first)(out, 200_000)
    assert np.count_nonzero(out) < 128


def test_a_raising_loop_leaves_no_array_alive():
    before = fl.stats()["arrays_live"]
    with pytest.raises(ValueError):
        jitted(broadcast_at)(np.ones(10), np.ones(3), np.zeros(500))
    assert fl.stats()["arrays_live"] == before


def test_thread_count_api():
    fl.set_num_threads(3)
    assert fl.get_num_threads() == 3
    for bad in (0, -1, parallel.MAX_THREADS + 1):
        with pytest.raises(ValueError, match="between 1 and"):
            fl.set_num_threads(bad)
    for bad in (2.0, "2", True, None):
        with pytest.raises(TypeError, match="must be an int"):
            fl.set_num_threads(bad)
    assert fl.get_num_threads() == 3


def test_workers_start_at_a_launch_for_the_threads_wanted():
    m = np.ones((64, 8))
    out = np.zeros(64)
    for threads in (2, 5, 3):
        fl.set_num_threads(threads)
        jitted(k.row_sums)(m, out)
        assert (out == 8.0).all()
        state = parallel.pool_state()
        assert state["wanted"] == threads and state["pid"] == os.getpid()
        assert state["started"] >= threads - 1
    fl.set_num_threads(1)
    out[:] = 0
    jitted(k.row_sums)(m, out)
    assert (out == 8.0).all()


def two_slow_rows(out, work):
    for i in prange(2):  # a loop in the body: two chunks
        acc = 0.0
        for j in range(work):
            acc += j * 0.5
        out[i] = acc


def test_a_launch_wakes_only_as_many_workers_as_it_has_chunks():
    fl.set_num_threads(5)
    out = np.zeros(2)
    f = jitted(two_slow_rows)
    f(out, 10)
    jitted(k.row_sums)(np.ones((64, 4)), np.zeros(64))  # all 4 workers started
    workers = parallel.pool_state()["started"]  # 4, or more started by earlier tests
    assert workers >= 4
    deadline = time.monotonic() + 10
    while parallel.pool_state()["sleeping"] < workers and time.monotonic() < deadline:
        time.sleep(0.01)  # past their spin
    assert parallel.pool_state()["sleeping"] == workers
    thread = threading.Thread(target=f, args=(out, 30_000_000))
    thread.start()
    fewest = workers
    while thread.is_alive():
        fewest = min(fewest, parallel.pool_state()["sleeping"])
    thread.join()
    assert fewest >= workers - 1, "a two-chunk launch woke more than one worker"
    assert out[0] == out[1] > 0


def test_cgroup_quota(tmp_path):
    member = tmp_path / "cgroup"
    member.write_text("0::/job\n")
    (tmp_path / "job").mkdir()
    assert parallel.cgroup_quota(tmp_path, member) is None
    (tmp_path / "job" / "cpu.max").write_text("250000 100000\n")
    assert parallel.cgroup_quota(tmp_path, member) == 3
    (tmp_path / "job" / "cpu.max").write_text("max 100000\n")
    assert parallel.cgroup_quota(tmp_path, member) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert parallel.cgroup_quota(v1, member) == 2
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert parallel.cgroup_quota(v1, member) is None
    assert 1 <= parallel.available_cpus() <= len(os.sched_getaffinity(0))


def run_script(body: str, env: dict[str, str] | None = None, timeout: float = 120
               ) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent('''
        import os, sys, threading, time
        import numpy as np
        import frostline as fl
        from tests.parallel import kernels

        mandel = fl.jit(cache=False)(kernels.mandelbrot)
        total = fl.jit(cache=False)(kernels.sum_2d)
    ''') + textwrap.dedent(body)
    full_env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT, **(env or {})}
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "parallel_script.py"  # kernels need source in a file
        path.write_text(script)
        return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              timeout=timeout, env=full_env)


def test_thread_count_from_the_environment():
    done = run_script("print(fl.get_num_threads())", {"FROSTLINE_NUM_THREADS": "3"})
    assert done.stdout.strip() == "3", done.stderr
    done = run_script("print(fl.get_num_threads())", {"FROSTLINE_NUM_THREADS": "lots"})
    assert done.stdout.strip() == str(parallel.available_cpus())
    assert "FROSTLINE_NUM_THREADS='lots'" in done.stderr


def test_a_forked_child_starts_a_fresh_pool():
    done = run_script('''
        m = np.ones((300, 10))
        assert total(m) == 451500.0          # the parent's pool is running
        busy = threading.Thread(target=lambda: [total(m) for _ in range(300)])
        busy.start()                       # and busy in another thread at the fork
        pid = os.fork()
        if pid == 0:
            ok = total(m) == 451500.0 and fl.parallel.pool_state()["pid"] == os.getpid()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        busy.join()
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert total(m) == 451500.0
        print("ok")
    ''', {"FROSTLINE_NUM_THREADS": "4"}, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_interpreter_exit_never_hangs(busy):
    done = run_script(f'''
        out = np.zeros((2000, 400), dtype=np.int64)
        mandel(8, 8, 10, out)
        if {busy}:
            threading.Thread(target=lambda: [mandel(2000, 400, 3000, out)
                                             for _ in range(50)], daemon=True).start()
            time.sleep(0.3)
        print("exiting", flush=True)
    ''', {"FROSTLINE_NUM_THREADS": "4"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"


def test_an_idle_pool_uses_no_cpu():
    done = run_script('''
        m = np.ones((500, 100))
        for _ in range(20):
            total(m)
        time.sleep(0.2)                    # past the workers' spin
        before = time.process_time()
        time.sleep(1.0)
        print(time.process_time() - before)
    ''', {"FROSTLINE_NUM_THREADS": "4"})
    assert float(done.stdout.strip()) < 0.05, done.stderr


def test_the_gil_is_released_while_a_parallel_loop_runs():
    f = jitted(k.mandelbrot)
    out = np.zeros((400, 300), dtype=np.int64)
    f(4, 4, 4, out[:4, :4])
    thread = threading.Thread(target=f, args=(400, 300, 2000, out))
    ticks = 0
    thread.start()
    while thread.is_alive():
        ticks += 1
        time.sleep(0.001)
    assert ticks > 20
    np.testing.assert_array_equal(out, k.mandelbrot(400, 300, 2000, np.zeros_like(out)))


def test_many_python_threads_launch_at_once():
    """8 threads x 100 launches of different kernels, the thread count changing."""
    m = np.random.default_rng(0).standard_normal((97, 31))
    u = np.random.default_rng(1).standard_normal((60, 50))
    want_rows = m.sum(axis=1)
    want_lap = k.laplacian(u, np.zeros_like(u))
    want_total = jitted(k.total)(np.ones(50_000))
    failures: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(100):
            choice = rng.randrange(4)
            if choice == 0:
                got = jitted(k.row_sums)(m, np.zeros(97))
                ok = np.allclose(got, want_rows)
            elif choice == 1:
                ok = np.array_equal(jitted(k.laplacian)(u, np.zeros_like(u)), want_lap)
            elif choice == 2:
                ok = jitted(k.total)(np.ones(50_000)) == want_total
            else:
                ok = jitted(k.nested_prange)(m) == pytest.approx(m.sum())
            if n % 25 == 0:
                fl.set_num_threads(rng.randrange(1, 6))
            if not ok:
                failures.append(f"thread {seed}, launch {n}, kernel {choice}")

    for fn in (k.row_sums, k.laplacian, k.total, k.nested_prange):  # compile first
        jitted(fn)
    jitted(k.row_sums)(m, np.zeros(97))
    jitted(k.laplacian)(u, np.zeros_like(u))
    jitted(k.nested_prange)(m)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a launch hung"
    assert not failures, failures
