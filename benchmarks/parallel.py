"""The parallel suite: ``prange`` loops run by frostline on its thread pool, by frostline
serially (the same source with ``range``) and by numba ``njit(parallel=True)`` with
``numba.prange``, plus the cost of one launch and the compile time of parallel kernels.

Each kernel is one plain function whose loop calls the module-level name ``prange``;
a clone per variant rebinds it (``fl.prange``, ``numba.prange`` or ``range``).  Every
variant's result is checked against a NumPy reference on the timed inputs first.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import Backend, clone_function
from .harness import (
    Outcome,
    WrongResult,
    best_of,
    describe_error,
    log,
    mismatch,
    python_runner,
)
from .kernels import laplacian2d_np, mandelbrot_ref

if TYPE_CHECKING:
    from .suites import Config

prange = range  # what the kernels see as plain Python; each compiled clone rebinds it

# --- the kernels -----------------------------------------------------------------------


def mandelbrot_rows(xs, ys, max_iter, out):
    for i in prange(ys.shape[0]):
        cy = ys[i]
        for j in range(xs.shape[0]):
            cx = xs[j]
            zx = 0.0
            zy = 0.0
            n = 0
            while n < max_iter and zx * zx + zy * zy <= 4.0:
                t = zx * zx - zy * zy + cx
                zy = 2.0 * zx * zy + cy
                zx = t
                n += 1
            out[i, j] = n


def laplacian_rows(a, out):
    for i in prange(1, a.shape[0] - 1):
        for j in range(1, a.shape[1] - 1):
            out[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]


def axpy_par(out, a, x, y):
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


def sum_par(x):
    s = 0.0
    for i in prange(x.shape[0]):
        s += x[i]
    return s


def launch(out):
    # The inner loop makes frostline hand every iteration to the pool as its own chunk
    # (it runs short loops with simple bodies inline); the body does nothing measurable.
    for i in prange(out.shape[0]):
        for j in range(1):
            out[i] = j


# --- inputs and references ---------------------------------------------------------------


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _mandelbrot_args(quick: bool, threads: int) -> tuple:
    nx, ny, max_iter = (300, 200, 200) if quick else (600, 400, 300)
    # Rows near y = 0 cross the set (max_iter per point), rows near 1.2 escape at
    # once: an even split of the rows gives one thread most of the work.
    xs, ys = np.linspace(-2.0, 0.6, nx), np.linspace(-0.1, 1.2, ny)
    return (xs, ys, max_iter, np.zeros((ny, nx), dtype=np.int32))


def _axpy_ref(out: np.ndarray, a: float, x: np.ndarray, y: np.ndarray) -> None:
    out[:] = a * x + y


def _launch_ref(out: np.ndarray) -> None:
    out[:] = 0


def _big(quick: bool) -> int:
    return 1_000_000 if quick else 10_000_000


def _grid(quick: bool) -> int:
    return 500 if quick else 2000


@dataclass(frozen=True)
class ParallelKernel:
    name: str
    fn: Callable[..., Any]
    make: Callable[[bool, int], tuple]
    """``make(quick, threads)``: fresh arguments."""
    reference: Callable[..., Any]
    """Writes the expected output argument (``output``) or returns the expected value."""
    output: int | None
    signature: str
    what: str
    goal: str = "—"


KERNELS = (
    ParallelKernel("mandelbrot", mandelbrot_rows, _mandelbrot_args, mandelbrot_ref, 3,
                   "float64[:], float64[:], int64, int32[:, :]",
                   "escape counts by rows, 600x400 (quick 300x200), max_iter 300 (200), "
                   "rows of very different cost", "fl speed-up ≥ 1.9× on 2 cores"),
    ParallelKernel("laplacian", laplacian_rows,
                   lambda q, t: (_rng().random((_grid(q),) * 2), np.zeros((_grid(q),) * 2)),
                   laplacian2d_np, 1,
                   "float64[:, :], float64[:, :]",
                   "5-point Laplacian by rows, 2000x2000 (quick 500x500)",
                   "fl speed-up ≥ numba's"),
    ParallelKernel("axpy", axpy_par,
                   lambda q, t: (np.zeros(_big(q)), 2.5, *_rng().random((2, _big(q)))),
                   _axpy_ref, 0,
                   "float64[:], float64, float64[:], float64[:]",
                   "out[i] = a*x[i] + y[i], 10^7 float64 (quick 10^6)", "fl speed-up ≥ numba's"),
    ParallelKernel("sum", sum_par, lambda q, t: (_rng().random(_big(q)),), math.fsum, None,
                   "float64[:]",
                   "s += x[i] reduction, 10^7 float64 (quick 10^6)"),
    ParallelKernel("launch", launch, lambda q, t: (np.ones(2 * t, dtype=np.int64),),
                   _launch_ref, 0, "int64[:]",
                   "one empty launch: 2 x threads iterations, each its own chunk",
                   "≤ 5 µs per call"),
)
COMPUTE = ("mandelbrot", "laplacian", "axpy", "sum")
"""The kernels the 1-thread goal applies to (a launch does no work to compare)."""
MANDELBROT_SPEEDUP_MIN = 1.9
LAUNCH_MAX = 5e-6
ONE_THREAD_MAX = 1.05
COMPILE_GEOMEAN_MAX = 0.4
SUM_RTOL = 1e-9


@dataclass
class ParallelRow:
    kernel: ParallelKernel
    cells: dict[str, Outcome] = field(default_factory=dict)
    compile: dict[str, Outcome] = field(default_factory=dict)


@dataclass
class ParallelResults:
    threads: int | None = None
    numba_threads: int | None = None
    launch_inline: bool | None = None
    """True when the launch kernel started no pool worker (frostline ran it inline)."""
    rows: list[ParallelRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- measuring ---------------------------------------------------------------------------


def _copies(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _result(kernel: ParallelKernel, args: tuple, returned: Any) -> Any:
    return returned if kernel.output is None else np.array(args[kernel.output], copy=True)


def _check(kernel: ParallelKernel, fn: Callable[..., Any], args: tuple, want: Any) -> None:
    """Run ``fn`` on copies of ``args``; raise ``WrongResult`` unless it gives ``want``."""
    copies = _copies(args)
    got = _result(kernel, copies, fn(*copies))
    if kernel.output is None:  # the sum: chunks round differently from the serial order
        bad = None if math.isclose(got, want, rel_tol=SUM_RTOL) else \
            f"got {got!r}, expected {want!r} (rtol {SUM_RTOL:g})"
    else:
        bad = mismatch(got, want)
    if bad:
        raise WrongResult(bad)


def _rebound(fn: Callable[..., Any], loop: Any) -> Callable[..., Any]:
    """A clone of ``fn`` whose ``prange`` is ``loop``."""
    clone = clone_function(fn)
    clone.__globals__["prange"] = loop
    return clone


def _variant(backend: Backend, fn: Callable[..., Any], parallel: bool) -> tuple[Any, dict]:
    """The clone of ``fn`` for ``backend`` (parallel or serial) and its decorator options."""
    if backend.name == "numba":
        return _rebound(fn, backend.module.prange), {"parallel": True}
    return _rebound(fn, backend.module.prange if parallel else range), {}


def _on_threads(fl: Any, n: int, restore: int, run: Callable[[int], None]) -> Callable:
    """``run`` with frostline on ``n`` threads, back to ``restore`` afterwards."""

    def go(number: int) -> None:
        fl.set_num_threads(n)
        try:
            run(number)
        finally:
            fl.set_num_threads(restore)

    return go


def _failed(where: str, exc: Exception) -> Outcome:
    log(f"  !! {where}: {describe_error(exc)}")
    log("".join(traceback.format_exception(exc)).rstrip())
    return Outcome(error=describe_error(exc))


def _set_threads(backends: dict[str, Backend], results: ParallelResults) -> int:
    """Read frostline's thread count and give numba the same; the count to size inputs."""
    fl, nb = backends["frostline"], backends["numba"]
    if fl.available:
        try:
            results.threads = int(fl.module.get_num_threads())
        except Exception as exc:
            results.notes.append(f"fl.get_num_threads() failed: {describe_error(exc)}")
    if nb.available:
        want = results.threads or nb.module.get_num_threads()
        most = nb.module.config.NUMBA_NUM_THREADS
        if want > most:
            results.notes.append(f"numba runs at most {most} threads (NUMBA_NUM_THREADS), "
                                 f"not frostline's {want}")
        nb.module.set_num_threads(min(want, most))
        results.numba_threads = nb.module.get_num_threads()
    return results.threads or results.numba_threads or 1


def _runtime(kernel: ParallelKernel, backends: dict[str, Backend], row: ParallelRow,
             quick: bool, threads: int, repeat: int, min_sample: float) -> None:
    args = kernel.make(quick, threads)
    expect = _copies(args)
    want = _result(kernel, expect, kernel.reference(*expect))
    runners: dict[str, Callable[[int], None]] = {}
    fl, nb = backends["frostline"], backends["numba"]
    for name, backend, parallel in (("frostline", fl, True), ("serial", fl, False),
                                    ("numba", nb, True)):
        if not backend.available:
            row.cells[name] = (Outcome(note="not installed") if backend.name == "numba"
                               else Outcome(error=f"import failed: {backend.error}"))
            continue
        log(f"  check {name}")
        try:
            clone, options = _variant(backend, kernel.fn, parallel)
            jitted = backend.jit(clone, options)
            _check(kernel, jitted, args, want)  # compiles on the first call
            if name == "frostline":  # the same dispatcher on one thread
                fl.module.set_num_threads(1)
                try:
                    _check(kernel, jitted, args, want)
                except Exception as exc:
                    row.cells["1 thread"] = _failed(f"1 thread {kernel.name}", exc)
                else:
                    runners["1 thread"] = _on_threads(fl.module, 1, threads,
                                                      python_runner(jitted, args))
                finally:
                    fl.module.set_num_threads(threads)
            runners[name] = python_runner(jitted, args)
        except Exception as exc:
            row.cells[name] = _failed(f"{name} {kernel.name}", exc)
    row.cells.setdefault("1 thread", Outcome(note="—"))  # frostline's own cell says why
    log(f"  timing {', '.join(runners)}")
    for name, value in best_of(runners, repeat=repeat, min_sample=min_sample).items():
        if isinstance(value, Exception):
            row.cells[name] = _failed(f"{name} {kernel.name} while timing", value)
        else:
            row.cells[name] = Outcome(seconds=value)


def _compile_times(backends: dict[str, Backend], rows: list[ParallelRow], rounds: int) -> None:
    """Ahead-of-time compile of each kernel's parallel variant, fresh each time; best."""
    live = [b for b in (backends["frostline"], backends["numba"]) if b.available]
    for backend in live:  # the first parallel compile of a process loads extra machinery
        try:
            clone, options = _variant(backend, launch, True)
            backend.compile(clone, "int64[:]", options)
        except Exception as exc:
            log(f"  !! {backend.name} warm-up compile: {describe_error(exc)}")
    for row in rows:
        log(f"parallel: compile {row.kernel.name}")
        best: dict[str, float] = {}
        for _ in range(rounds):
            for backend in live:
                if backend.name in row.compile:  # already failed
                    continue
                try:
                    clone, options = _variant(backend, row.kernel.fn, True)
                    t0 = time.perf_counter()
                    backend.compile(clone, row.kernel.signature, options)
                    seconds = time.perf_counter() - t0
                    best[backend.name] = min(best.get(backend.name, math.inf), seconds)
                except Exception as exc:
                    row.compile[backend.name] = _failed(f"compile {backend.name} "
                                                        f"{row.kernel.name}", exc)
        for backend in (backends["frostline"], backends["numba"]):
            if not backend.available:
                row.compile[backend.name] = row.cells[backend.name]
            elif backend.name not in row.compile:
                row.compile[backend.name] = Outcome(seconds=best[backend.name])


def _reaches_pool(fl: Backend, threads: int) -> bool | None:
    """Whether the launch kernel starts a frostline pool worker (None: cannot tell).

    Run first, before any other parallel loop could have started one."""
    state = getattr(getattr(fl.module, "parallel", None), "pool_state", None)
    if not fl.available or state is None or threads < 2:
        return None
    try:
        clone, options = _variant(fl, launch, True)
        fl.jit(clone, options)(np.ones(2 * threads, dtype=np.int64))
        return int(state()["started"]) > 0
    except Exception:  # the launch row reports what failed
        return None


def parallel_suite(backends: dict[str, Backend], cfg: Config) -> ParallelResults:
    """Check and time every variant of every kernel, then time compiles."""
    results = ParallelResults()
    threads = _set_threads(backends, results)
    reached = _reaches_pool(backends["frostline"], threads)
    results.launch_inline = None if reached is None else not reached
    if results.launch_inline:
        results.notes.append("the launch kernel started no frostline pool worker: frostline "
                             "ran it inline, so its time is not that of a launch")
    quick = cfg.scale == "quick"
    for kernel in KERNELS:
        log(f"parallel: {kernel.name}")
        row = ParallelRow(kernel)
        _runtime(kernel, backends, row, quick, threads, cfg.repeat, cfg.min_sample)
        results.rows.append(row)
    _compile_times(backends, results.rows, cfg.compile_repeat)
    return results
