"""frostline kernels on a Dask distributed cluster.

Compiled code travels to worker processes by pickle: an ``fl.Executable`` as its
object code, an ``fl.jit`` function with its parsed program and the object code
of each compiled signature.  The workers start with the disk cache turned off
(``FROSTLINE_CACHE=0``), so code they run without compiling came over the wire.
Kernels built by ``_define`` exist only in this process (their source is
registered in this process's ``linecache`` alone), so a worker cannot import
or re-read them either.
"""

from __future__ import annotations

import linecache
import math
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import frostline as fl
from frostline.toolchain.cache import default_disk_cache

distributed = pytest.importorskip("distributed")

Stats = dict[str, dict[str, int]]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes that cannot use the disk cache."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FROSTLINE_CACHE", "0")  # spawned workers inherit the environment
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    try:
        with distributed.Client(cluster) as dask_client:
            dask_client.wait_for_workers(2)
            yield dask_client
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def workers(client: Any) -> list[str]:
    """The workers' addresses, so each test can give every worker work."""
    return sorted(client.scheduler_info()["workers"])


def _define(source: str, **namespace: Any) -> dict[str, Any]:
    """Run ``source`` in a fresh namespace whose source only this process can read."""
    filename = f"<frostline-dask-{uuid.uuid4().hex}>"
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    names: dict[str, Any] = {"__name__": "frostline_dask_kernels", "fl": fl, "np": np,
                             "math": math, **namespace}
    exec(compile(source, filename, "exec"), names)
    return names


def _cache_setting() -> tuple[str | None, bool]:
    """``FROSTLINE_CACHE`` and whether a disk cache is configured, in the calling process."""
    return os.environ.get("FROSTLINE_CACHE"), default_disk_cache() is not None


def _run_on_each(client: Any, workers: list[str], fn: Callable[..., Any],
                 *args: Any) -> list[Any]:
    """``fn(*args)`` once on every worker (each future pinned to its worker)."""
    futures = [client.submit(fn, *args, workers=[addr], pure=False) for addr in workers]
    results = client.gather(futures)
    where = client.who_has(futures)
    assert [where[f.key] for f in futures] == [(addr,) for addr in workers], \
        f"each call should have run on its own worker: {where}"
    return results


def _compiled_since(client: Any, before: Stats) -> dict[str, int]:
    """Code generation runs on each worker since the ``before`` snapshot; no worker may
    ever load from the disk cache."""
    after: Stats = client.run(fl.stats)
    assert all(s["disk_hits"] == 0 for s in after.values()), \
        f"a worker read the disk cache, which was meant to be off: {after}"
    return {addr: after[addr]["compiled"] - before[addr]["compiled"] for addr in after}


def _module_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * 2.0
    return s


module_sum = fl.jit(_module_sum)


def _exec_sum() -> fl.Dispatcher:
    return _define("""
        @fl.jit
        def exec_sum(a):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i] * 2.0
            return s
    """)["exec_sum"]


def test_workers_cannot_read_the_disk_cache(client: Any) -> None:
    settings = client.run(_cache_setting)
    assert settings and all(s == ("0", False) for s in settings.values()), \
        f"workers should run with FROSTLINE_CACHE=0 and no disk cache: {settings}"


@pytest.mark.parametrize("kernel", [lambda: module_sum, _exec_sum], ids=["module", "exec"])
def test_executable_runs_on_every_worker_without_compiling(
        client: Any, workers: list[str], kernel: Callable[[], fl.Dispatcher]) -> None:
    exe = kernel().compile("float64[::1]")
    arrays = [np.arange(10.0), np.linspace(-1.0, 1.0, 7)]
    before = client.run(fl.stats)

    futures = [client.submit(exe, a, workers=[addr], pure=False)
               for addr in workers for a in arrays]
    results = client.gather(futures)

    where = client.who_has(futures)
    assert {where[f.key] for f in futures} == {(addr,) for addr in workers}, \
        f"every worker should have run the executable: {where}"
    assert results == pytest.approx([2.0 * a.sum() for _ in workers for a in arrays])
    assert _compiled_since(client, before) == dict.fromkeys(workers, 0), \
        "workers compiled code that arrived compiled"


def test_jit_function_runs_its_signatures_and_compiles_new_ones(
        client: Any, workers: list[str]) -> None:
    total = _exec_sum()
    a = np.arange(12.0)
    assert total(a) == 132.0
    before = client.run(fl.stats)

    assert _run_on_each(client, workers, total, a) == [132.0, 132.0]
    assert _compiled_since(client, before) == dict.fromkeys(workers, 0), \
        "workers compiled a signature that travelled compiled"

    local = fl.stats()["compiled"]
    floats = np.arange(12, dtype=np.float32)
    assert _run_on_each(client, workers, total, floats) == [132.0, 132.0]
    compiled = _compiled_since(client, before)
    assert all(compiled[addr] >= 1 for addr in workers), \
        f"each worker should have compiled float32[::1] from the travelling program: {compiled}"
    assert fl.stats()["compiled"] == local, "the client compiled what the workers ran"


def _calls_and_constants() -> dict[str, Any]:
    return _define("""
        @fl.jit
        def hypot(x, y):
            return math.sqrt(x * x + y * y)

        @fl.jit
        def path_length(xs, ys):
            s = 0.0
            for i in range(xs.shape[0] - 1):
                s += hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i])
            return s

        @fl.jit
        def weighted(a):
            s = 0.0
            for i in range(WEIGHTS.shape[0]):
                s += WEIGHTS[i] * a[i]
            return s
    """, WEIGHTS=np.array([0.5, 1.0, 2.0, 4.0]))


@pytest.mark.parametrize("form", ["executable", "jit"])
def test_callees_and_global_arrays_travel(client: Any, workers: list[str], form: str) -> None:
    kernels = _calls_and_constants()
    xs, ys = np.array([0.0, 3.0, 3.0]), np.array([0.0, 4.0, 16.0])
    a = np.array([1.0, 2.0, 3.0, 4.0])
    path_length, weighted = kernels["path_length"], kernels["weighted"]
    if form == "executable":
        path_length = path_length.compile("float64[::1], float64[::1]")
        weighted = weighted.compile("float64[::1]")
    else:
        path_length(xs, ys), weighted(a)  # compile here, for these argument types
    before = client.run(fl.stats)

    assert _run_on_each(client, workers, path_length, xs, ys) == [17.0, 17.0]
    assert _run_on_each(client, workers, weighted, a) == [24.5, 24.5]
    assert _compiled_since(client, before) == dict.fromkeys(workers, 0), \
        "workers compiled a callee or a kernel with a global array"


@pytest.mark.parametrize("form", ["executable", "jit"])
def test_errors_travel_back_to_the_client(client: Any, workers: list[str], form: str) -> None:
    ratio = _define("""
        @fl.jit
        def ratio(a, b):
            return a / b
    """)["ratio"]
    kernel = ratio.compile("float64, float64") if form == "executable" else ratio
    assert ratio(1.0, 4.0) == 0.25

    for addr in workers:
        future = client.submit(kernel, 1.0, 0.0, workers=[addr], pure=False)
        with pytest.raises(ZeroDivisionError, match="float division by zero"):
            future.result()


def _exec_softmax() -> fl.Dispatcher:
    return _define("""
        @fl.jit
        def softmax(x):
            e = np.exp(x - np.max(x))
            return e / np.sum(e)
    """)["softmax"]


def test_array_code_runs_on_workers_and_returns_arrays(client: Any,
                                                       workers: list[str]) -> None:
    exe = _exec_softmax().compile("float64[::1]")
    x = np.log(np.array([1.0, 3.0]))
    before = client.run(fl.stats)
    results = _run_on_each(client, workers, exe, x)
    for result in results:
        assert isinstance(result, np.ndarray)
        np.testing.assert_allclose(result, [0.25, 0.75])
    assert _compiled_since(client, before) == dict.fromkeys(workers, 0)


def _exec_parallel_sum() -> fl.Dispatcher:
    return _define("""
        @fl.jit
        def parallel_sum(m):
            s = 0.0
            for i in fl.prange(m.shape[0]):
                for j in range(m.shape[1]):
                    s += m[i, j]
            return s
    """)["parallel_sum"]


def test_parallel_kernels_run_on_workers_without_compiling(client: Any,
                                                           workers: list[str]) -> None:
    """Each worker process starts its own thread pool from code that arrived compiled."""
    exe = _exec_parallel_sum().compile("float64[:, ::1]")
    m = np.arange(600.0).reshape(100, 6)
    want = exe(m)
    before = client.run(fl.stats)
    results = _run_on_each(client, workers, exe, m)
    assert results == [want] * len(workers) and want == m.sum()
    assert _compiled_since(client, before) == dict.fromkeys(workers, 0)
