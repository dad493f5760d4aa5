"""The pool's high-level API and its life cycle: compile_async, isolated tiered and
asynchronous compiles, idle workers, workers that cannot start, pickling."""

import os
import pickle
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

import frostline as fl
from frostline.toolchain.runner import CompileHandle
from frostline.toolchain.service.pool import CompilerPool, WorkerCrashed, WorkerTimeout


def scale(a, x):
    for i in range(x.shape[0]):
        x[i] *= a


def crashme(x):
    return x + 1.0


def wait_ready(pool):
    deadline = time.monotonic() + 120
    while not pool.ready():
        assert time.monotonic() < deadline, "no worker came up"
        time.sleep(0.01)


def test_compile_async_returns_a_compile_handle_with_callbacks(tmp_path):
    cache = fl.DiskCache(tmp_path / "cache")
    seen, done = [], threading.Event()
    with CompilerPool(2) as pool:
        f = fl.jit(cache=cache)(scale)
        handle = pool.compile_async(f, "float64, float64[::1]")
        assert isinstance(handle, CompileHandle)
        handle.add_callback_on_success(seen.append)
        handle.add_finalize(done.set)
        exe = handle.result(120)
        assert done.wait(10) and seen == [exe]
        compiled = fl.stats()["compiled"]
        x = np.ones(3)
        f(2.0, x)  # the dispatcher uses what the pool compiled: no compile here
        assert list(x) == [2.0] * 3
        assert f.signatures == [f.signature_from("float64, float64[::1]")]
        assert fl.stats()["compiled"] == compiled
        assert pool.compile_async(f, "float64, float64[::1]").result(1) is exe
    assert any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_compile_async_failures_reach_the_fail_callbacks():
    failed = []
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "abort@crashme"}) as pool:
        handle = pool.compile_async(fl.jit(cache=False)(crashme), "float64")
        handle.add_callback_on_fail(failed.append)
        with pytest.raises(WorkerCrashed, match="SIGABRT"):
            handle.result(120)
        assert len(failed) == 1 and isinstance(failed[0], WorkerCrashed)


def test_a_crash_is_not_kept_the_next_compile_tries_again():
    with CompilerPool(1, environment={"FROSTLINE_WORKER_FAULT": "abort@crashme"}) as pool:
        wait_ready(pool)
        f = fl.jit(isolated=pool, cache=False)(crashme)
        for attempt in (1, 2):
            wait_ready(pool)  # (a compile before the replacement is up runs in process)
            with pytest.raises(WorkerCrashed):
                f.compile("float64")
            assert pool.counts["respawned"] == attempt  # compiled again, not replayed


def test_isolated_background_compiles_tier_up_out_of_process():
    with CompilerPool(1) as pool:
        wait_ready(pool)
        f = fl.jit(isolated=pool, background=True, cache=False)(scale)
        x = np.ones(4)
        f(2.0, x)  # runs as Python while the worker compiles
        before = fl.stats()["worker_compiles"]
        deadline = time.monotonic() + 120
        while not f.signatures:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        f(2.0, x)
        assert list(x) == [4.0] * 4
        assert fl.stats()["worker_compiles"] >= before
        assert pool.counts["requests"] >= 2  # the probe and the compile


def test_isolated_compile_async_goes_to_the_pool():
    with CompilerPool(1) as pool:
        wait_ready(pool)
        f = fl.jit(isolated=pool, cache=False)(scale)
        requests = pool.counts["requests"]
        exe = f.compile_async("float64, float64[:]").result(120)
        assert pool.counts["requests"] == requests + 1
        x = np.ones(2)
        exe(3.0, x)
        assert list(x) == [3.0, 3.0]


def test_idle_workers_exit_and_come_back():
    with CompilerPool(1, idle_timeout=0.3) as pool:
        wait_ready(pool)
        assert pool.live_workers() == 1
        pid = pool.workers[0].process.pid
        deadline = time.monotonic() + 30
        while pool.live_workers():
            assert time.monotonic() < deadline, "the idle worker did not exit"
            time.sleep(0.05)
        assert pool.counts["idle_exits"] == 1
        with pytest.raises(ProcessLookupError):  # exited, and reaped
            os.kill(pid, 0)
        assert not pool.ready()  # no worker up: compiles run in process meanwhile
        assert pool.submit("ping").result(120)["pid"] > 0  # started again on demand
        assert pool.counts["started"] == 2


def test_a_worker_that_cannot_start_gives_a_clear_error():
    with CompilerPool(1, command=["/nonexistent/frostline-worker"]) as pool:
        with pytest.raises(WorkerCrashed, match="does not start"):
            pool.submit("ping").result(60)
        assert not pool.ready()
        f = fl.jit(isolated=pool, cache=False)(crashme)
        assert f(1.0) == 2.0  # compiled in process: the pool never came up
    with CompilerPool(1, command=[sys.executable, "-c", "import sys; "
                                  "sys.stderr.write('no compiler here'); sys.exit(5)"]) as pool:
        with pytest.raises(WorkerCrashed, match="status 5") as info:
            pool.submit("ping").result(60)
        assert "no compiler here" in str(info.value)
        with pytest.raises(WorkerCrashed, match="status 5"):  # and again: still serving
            pool.submit("ping").result(60)


def test_isolation_survives_pickling():
    f = fl.jit(isolated=True, signatures=["float64(float64)"])(crashme)
    g = pickle.loads(pickle.dumps(f))
    assert g.isolated is True
    assert g.declared_signatures == f.declared_signatures


def test_environment_sets_the_default_size(monkeypatch):
    monkeypatch.setenv("FROSTLINE_WORKERS", "3")
    assert CompilerPool().size == 3
    monkeypatch.setenv("FROSTLINE_WORKERS", "lots")
    with pytest.warns(RuntimeWarning, match="FROSTLINE_WORKERS"):
        assert CompilerPool().size >= 1
    with pytest.raises(ValueError, match="at least one worker"):
        CompilerPool(0)


def test_a_warm_idle_worker_takes_the_next_request():
    with CompilerPool(2) as pool:
        pids = {pool.submit("ping").result(60)["pid"] for _ in range(4)}
        assert len(pids) == 1 and pool.counts["started"] == 1  # no second start
        busy = [pool.submit("ping", {"wait": True}) for _ in range(3)]  # all at once
        for h in busy:
            h.result(120)
        assert pool.counts["started"] <= 2


def test_pools_leave_no_temporary_directories(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pools = [CompilerPool(1) for _ in range(3)]  # (alive while the others start)
    for pool in pools:
        pool.compile(fl.jit(cache=False)(crashme), "float64")
    for pool in pools:
        pool.close()
    assert not list(tmp_path.glob("frostline-pool-*"))


def test_after_the_pool_closes_isolated_compiles_run_in_process():
    pool = CompilerPool(1)
    wait_ready(pool)
    pool.close()
    assert not pool.ready()
    f = fl.jit(isolated=pool, cache=False)(crashme)
    assert f(1.0) == 2.0
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit("ping")


def test_a_timeout_is_kept_the_next_call_raises_it_again():
    with CompilerPool(1, timeout=1.0,
                      environment={"FROSTLINE_WORKER_FAULT": "hang@crashme"}) as pool:
        wait_ready(pool)
        f = fl.jit(isolated=pool, cache=False)(crashme)
        with pytest.raises(WorkerTimeout) as first:
            f.compile("float64")
        with pytest.raises(WorkerTimeout) as second:
            f.compile("float64")
        assert second.value is first.value and pool.counts["respawned"] == 1
