"""The pool suite: frostline's compiler worker processes (``CompilerPool``).

What a worker costs to start (first ``ping``, compiler imported, resident memory), the
extra time of a compile in a warm worker over the same compile in this process, a
``frostline build`` of 32 generated kernels on P workers against one, the memory of an
idle pool before and after its idle timeout, and (``pool_transfer``) how a worker best
hands back a binary result.  Nothing comes from a cache: compiles in a worker go through
``pool.object_code`` (no cache), ``build`` runs with ``cache=None`` and every dispatcher
is a fresh ``fl.jit(cache=False)`` clone (``FROSTLINE_CACHE=0`` is set before frostline
is imported, and the workers inherit it).
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .backends import Backend
from .harness import describe_error, log
from .kernels import KERNELS, Kernel
from .pool_build import BuildResults, build_suite
from .pool_transfer import TransferRow, transfer_suite

if TYPE_CHECKING:
    from .suites import Config

FIRST_PING_MAX = 0.100
READY_RSS_MAX = 80.0
"""MiB (VmRSS / 1024) of a worker with the compiler imported."""
EXTRA_MAX = 3e-3
"""Seconds a warm worker's compile may take beyond the same compile in process (median)."""
MAX_BUILD_WORKERS = 16
IDLE_TIMEOUT = 1.0
IDLE_WAIT = 15.0
"""How long after the idle timeout the idle measurement waits for the workers to exit."""
START_KERNEL = "mandelbrot"
"""The kernel a fresh worker compiles before its memory is read again."""
ROUNDS = {  # per scale: fresh pools, compile rounds, build rounds, transfer rounds
    "quick": {"start": 2, "compile": 3, "build": 1, "transfer": 3},
    "full": {"start": 5, "compile": 9, "build": 3, "transfer": 9},
}


@dataclass
class StartSample:
    ping: float
    """Seconds from the first ``submit`` on a fresh pool to the first ``ping`` answer."""
    ready: float
    """Seconds from the same start to the answer of ``ping {"wait": True}``."""
    rss_ready: float
    first_compile: float
    rss_compiled: float


@dataclass
class CompileRow:
    name: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    """``in process``, ``first`` (a function new to the worker), ``known``: seconds;
    ``first transport``, ``known transport``: the worker's time less its own compile."""
    error: str | None = None

    def median(self, key: str) -> float | None:
        values = self.samples.get(key)
        return statistics.median(values) if values else None

    def extra(self, key: str) -> float | None:
        """Median over the rounds of the pool's time less the in-process one."""
        pool, here = self.samples.get(key), self.samples.get("in process")
        if not pool or not here:
            return None
        return statistics.median(p - h for p, h in zip(pool, here, strict=False))


@dataclass
class IdleResult:
    workers: int
    live: int | None = None
    rss_busy: float | None = None
    rss_idle: float | None = None
    detached_after: float | None = None
    """Seconds from the last result until ``pool.live_workers() == 0``."""
    exit_after: float | None = None
    """Seconds from the last result until every worker process had exited (None: not
    within ``IDLE_TIMEOUT + IDLE_WAIT``)."""
    error: str | None = None


@dataclass
class PoolResults:
    workers: int = 1
    """P: the CPUs this process may use (``fl.parallel.available_cpus()``), at most 16."""
    start: list[StartSample] = field(default_factory=list)
    start_error: str | None = None
    compile: list[CompileRow] = field(default_factory=list)
    build: BuildResults | None = None
    idle: IdleResult | None = None
    transfers: list[TransferRow] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytecode: bool = False
    """Whether frostline's modules have compiled bytecode (as ``pip install`` leaves
    them): without it a worker compiles their source at every start."""


# --- helpers --------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _failed(where: str, exc: BaseException) -> str:
    log(f"  !! pool {where}: {describe_error(exc)}")
    log("".join(traceback.format_exception(exc)).rstrip())
    return describe_error(exc)


def _closure(fl: Backend, kernel: Kernel) -> Any:
    """A Closure of a fresh clone of ``kernel`` (a new name: a new fingerprint)."""
    from frostline.stages.closure import Closure

    dispatcher = fl.jit(kernel.fn, kernel.options, fresh=True)
    return Closure(dispatcher.program, dispatcher.signature_from(kernel.signature))


def _kernel(name: str) -> Kernel:
    return next(k for k in KERNELS if k.name == name)


def _pool(**kwargs: Any) -> Any:
    from frostline.toolchain.service.pool import CompilerPool

    return CompilerPool(**kwargs)


def _check_code(code: Any) -> None:
    if not getattr(code, "data", None):
        raise RuntimeError(f"the worker returned no object code: {code!r}")


# --- 1. start-up ----------------------------------------------------------------------


def _start_once(fl: Backend) -> StartSample:
    closure = _closure(fl, _kernel(START_KERNEL))
    with _pool(workers=1) as pool:
        t0 = time.perf_counter()
        first = pool.submit("ping").result(60)
        ping = time.perf_counter() - t0
        ready = pool.submit("ping", {"wait": True}).result(120)
        ready_s = time.perf_counter() - t0
        if not ready.get("compiler") or ready.get("pid") != first.get("pid"):
            raise RuntimeError(f"ping answers {first!r}, then {ready!r}")
        rss_ready = rss_mib(first["pid"])
        t1 = time.perf_counter()
        _check_code(pool.object_code(closure))
        compiled = time.perf_counter() - t1
        return StartSample(ping, ready_s, rss_ready, compiled, rss_mib(first["pid"]))


def _start(fl: Backend, results: PoolResults, pools: int) -> None:
    for i in range(pools):
        log(f"pool: fresh worker {i + 1}/{pools}")
        try:
            results.start.append(_start_once(fl))
        except Exception as exc:
            results.start_error = _failed("start-up", exc)
            return


# --- 2. a compile in a warm worker against one in process -----------------------------


def _in_process(chain: Any, closure: Any) -> tuple[float, None]:
    t0 = time.perf_counter()
    code = chain.object_code(closure)
    seconds = time.perf_counter() - t0
    _check_code(code)
    return seconds, None


def _in_worker(pool: Any, closure: Any) -> tuple[float, float]:
    """``pool.object_code(closure)``, spelt out to keep the worker's own compile time:
    the seconds, and those beyond the worker's compile (the transport)."""
    t0 = time.perf_counter()
    result = pool.submit_closure(closure).result()
    code = pool.read_result(result)
    seconds = time.perf_counter() - t0
    _check_code(code)
    return seconds, seconds - float(result["seconds"])


def _compile_row(fl: Backend, pool: Any, chain: Any, kernel: Kernel, rounds: int) -> CompileRow:
    row = CompileRow(kernel.name, {k: [] for k in ("in process", "first", "known",
                                                   "first transport", "known transport")})
    try:
        for round_ in range(rounds):
            here, there = _closure(fl, kernel), _closure(fl, kernel)  # both never seen
            steps: list[tuple[str, Callable[[], tuple[float, float | None]]]] = [
                ("first", functools.partial(_in_worker, pool, there)),
                ("known", functools.partial(_in_worker, pool, there)),  # the worker has it
            ]
            step_here = ("in process", functools.partial(_in_process, chain, here))
            steps = [step_here, *steps] if round_ % 2 == 0 else [*steps, step_here]
            for key, action in steps:
                seconds, transport = action()
                row.samples[key].append(seconds)
                if transport is not None:
                    row.samples[f"{key} transport"].append(transport)
    except Exception as exc:
        row.error = _failed(f"compile {kernel.name}", exc)
    return row


def _compiles(fl: Backend, results: PoolResults, rounds: int) -> None:
    from frostline.toolchain.pipeline import default_toolchain

    chain = default_toolchain()
    with _pool(workers=1) as pool:
        try:
            pool.submit("ping", {"wait": True}).result(120)
            for _ in range(2):  # warm both compilers up on the same code
                _check_code(pool.object_code(_closure(fl, _kernel("dot"))))
                _check_code(chain.object_code(_closure(fl, _kernel("dot"))))
        except Exception as exc:
            results.errors.append(("pool / compile / warm-up", _failed("warm-up", exc)))
            return
        for kernel in KERNELS:
            log(f"pool: compile {kernel.name}")
            results.compile.append(_compile_row(fl, pool, chain, kernel, rounds))


# --- 4. an idle pool ------------------------------------------------------------------


def _idle(fl: Backend, results: PoolResults) -> None:
    idle = results.idle = IdleResult(results.workers)
    log(f"pool: idle pool of {idle.workers} worker(s), idle_timeout={IDLE_TIMEOUT:g} s")
    try:
        closures = [_closure(fl, KERNELS[i % len(KERNELS)]) for i in range(2 * idle.workers)]
        with _pool(workers=idle.workers, idle_timeout=IDLE_TIMEOUT) as pool:
            handles = [pool.submit_closure(c) for c in closures]
            for h in handles:
                _check_code(pool.read_result(h.result(120)))
            done = time.perf_counter()
            pids = [w.process.pid for w in pool.workers
                    if w.process is not None and w.process.poll() is None]
            idle.live = len(pids)
            idle.rss_busy = sum(rss_mib(pid) for pid in pids)
            while time.perf_counter() - done < IDLE_TIMEOUT + IDLE_WAIT:
                now = time.perf_counter() - done
                if idle.detached_after is None and pool.live_workers() == 0:
                    idle.detached_after = now
                if idle.detached_after is not None and not any(map(rss_mib, pids)):
                    idle.exit_after = now  # the processes are gone, not only forgotten
                    break
                time.sleep(0.01)
            idle.rss_idle = sum(rss_mib(pid) for pid in pids)
        if idle.live != idle.workers:
            results.notes.append(f"idle pool: {idle.live} of {idle.workers} workers were "
                                 f"running after {len(closures)} compiles submitted at once")
    except Exception as exc:
        idle.error = _failed("idle", exc)


# --- the suite ------------------------------------------------------------------------


def _has_bytecode() -> bool:
    import importlib.util

    import frostline.toolchain.pipeline as module

    return os.path.exists(importlib.util.cache_from_source(module.__file__))


def pool_suite(backends: dict[str, Backend], cfg: Config) -> PoolResults:
    """Start-up, warm compiles, builds, the idle pool and the transfer methods."""
    results = PoolResults(bytecode=_has_bytecode())
    fl = backends["frostline"]
    if not fl.available:
        results.errors.append(("pool", f"frostline did not import: {fl.error}"))
        return results
    # The pools' temporary directories go to a private folder, removed at the end, so
    # that any a pool leaves behind is counted here and does not stay in /tmp.
    saved, tempfile.tempdir = tempfile.tempdir, tempfile.mkdtemp(prefix="frostline-bench-")
    private = tempfile.tempdir
    try:
        _run(fl, cfg, results)
    finally:
        tempfile.tempdir = saved
        left = [n for n in os.listdir(private) if n.startswith("frostline-pool-")]
        if left:
            results.notes.append(f"{len(left)} `frostline-pool-*` temporary directories were "
                                 "left behind by the pools (removed by the benchmark)")
        shutil.rmtree(private, ignore_errors=True)
    return results


def _run(fl: Backend, cfg: Config, results: PoolResults) -> None:
    from frostline.parallel import available_cpus

    rounds = ROUNDS["quick" if cfg.scale == "quick" else "full"]
    results.workers = max(1, min(available_cpus(), MAX_BUILD_WORKERS))
    if results.workers == 1:
        results.notes.append("one CPU available: the build runs on one worker only")
    _start(fl, results, rounds["start"])
    _compiles(fl, results, rounds["compile"])
    results.build = build_suite(results.workers, rounds["build"])
    results.notes += results.build.notes
    _idle(fl, results)
    results.transfers, notes = transfer_suite(rounds["transfer"])
    results.notes += notes
