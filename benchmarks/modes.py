"""Execution-mode suites: ``f.run`` batches, and the latency of tiered compilation.

* *Batch*: ``f.run(*batched_args)`` under ``mode="run"`` calls a small kernel
  once per batch element in one native loop.  It is timed against a Python
  loop of single calls, ``[f(a[i], b[i], c) for i in range(n)]``, through the
  compiled dispatcher and through the ``Executable`` directly, and against
  numba running the same driver loop (``frostline.batch.driver_source``) under
  ``numba.njit``.
* *Tiered*: with ``fl.jit(background=True, cache=False)``, the time from
  ``f.compile_async(sig)`` returning to its handle being done (the caller
  waiting, or calling ``f`` in a loop meanwhile) and to the first call that
  runs native code, next to ``f.compile(sig)`` in place.  Every repetition
  compiles a new function whose source has a unique constant, so no cache
  can answer.
"""

from __future__ import annotations

import itertools
import linecache
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import Backend
from .harness import (
    Outcome,
    Runner,
    WrongResult,
    best_of,
    describe_error,
    log,
    mismatch,
    prepared,
)
from .kernels import Args
from .suites import Config, _cache_warnings, missing_cell

BATCH_N = 10_000
"""Calls per batch."""
ROW = 8
"""Row length of the 2-D batched array."""
OPTIONS = {"fastmath": False, "boundscheck": False}

TIERED_REPEATS = {"quick": 3, "full": 15}
TIERED_SIGNATURE = "float64[::1], float64"
TIERED_TIMEOUT = 30.0
"""Seconds a repetition may wait for its background compilation."""

IN_PLACE = "in_place"
ASYNC_RETURN = "async_return"
DONE_WAITING = "done_waiting"
DONE_CALLING = "done_calling"
FIRST_NATIVE = "first_native"
TIERED_LABELS = {
    IN_PLACE: "`f.compile(sig)` in place",
    ASYNC_RETURN: "`f.compile_async(sig)` itself (until it returns)",
    DONE_WAITING: "handle done, caller blocked in `handle.result()`",
    DONE_CALLING: "handle done, caller calling `f(x, 2.0)` in a loop",
    FIRST_NATIVE: "first native call, caller calling `f(x, 2.0)` in a loop",
}
"""The tiered measurements; all but the first two count from ``compile_async`` returning."""


# --------------------------------------------------------------------------
# Batch kernels
# --------------------------------------------------------------------------


def axpb(a, b, c):  # type: ignore[no-untyped-def]
    """Three floats in, one out: all call overhead."""
    return a * b + c


def row_norm(row, scale):  # type: ignore[no-untyped-def]
    """A short row in, one float out."""
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j] * row[j]
    return math.sqrt(s) * scale


def row_minmax(row):  # type: ignore[no-untyped-def]
    """A short row in, a tuple of two floats out."""
    lo = row[0]
    hi = row[0]
    for j in range(1, row.shape[0]):
        v = row[j]
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi


Loop = Callable[[Callable[..., Any], Args], list[Any]]


def _loop_axpb(f: Callable[..., Any], args: Args) -> list[Any]:
    a, b, c = args
    return [f(a[i], b[i], c) for i in range(a.shape[0])]


def _loop_row_scale(f: Callable[..., Any], args: Args) -> list[Any]:
    x, scale = args
    return [f(x[i], scale) for i in range(x.shape[0])]


def _loop_row(f: Callable[..., Any], args: Args) -> list[Any]:
    (x,) = args
    return [f(x[i]) for i in range(x.shape[0])]


def _vectors(n: int) -> Args:
    rng = np.random.default_rng(1)
    return (rng.random(n), rng.random(n), 0.25)


def _rows(n: int) -> Args:
    return (np.random.default_rng(2).standard_normal((n, ROW)), 0.5)


def _rows_only(n: int) -> Args:
    return (np.random.default_rng(3).standard_normal((n, ROW)),)


@dataclass(frozen=True)
class BatchCase:
    """One kernel run over a batch: its inputs, its Python loop and its NumPy reference."""

    name: str
    call: str
    """One call of the Python loop, as the report shows it."""
    kernel: Callable[..., Any]
    signature: str
    """One call's argument types, for ``f.compile``."""
    args: Callable[[int], Args]
    """The batched arguments for ``n`` calls (arrays with a leading batch axis, scalars once)."""
    loop: Loop
    reference: Callable[..., Any]


BATCH_CASES = (
    BatchCase(
        "axpb",
        "f(a[i], b[i], c)",
        axpb,
        "float64, float64, float64",
        _vectors,
        _loop_axpb,
        lambda a, b, c: a * b + c,
    ),
    BatchCase(
        "row_norm",
        f"f(x[i], scale), x: ({BATCH_N}, {ROW})",
        row_norm,
        "float64[::1], float64",
        _rows,
        _loop_row_scale,
        lambda x, scale: np.sqrt((x * x).sum(axis=1)) * scale,
    ),
    BatchCase(
        "row_minmax",
        f"f(x[i]) → tuple, x: ({BATCH_N}, {ROW})",
        row_minmax,
        "float64[::1]",
        _rows_only,
        _loop_row,
        lambda x: (x.min(axis=1), x.max(axis=1)),
    ),
)


@dataclass
class BatchRow:
    """Times of ``BATCH_N`` calls of one kernel: ``f.run`` (``"run"``), the Python loops
    through the dispatcher (``"loop"``) and the Executable (``"exe_loop"``), ``"numba"``."""

    case: BatchCase
    cells: dict[str, Outcome]


def loop_result(results: list[Any]) -> Any:
    """A Python loop's results shaped like ``f.run``'s: an array, or a tuple of arrays."""
    if results and isinstance(results[0], tuple):
        return tuple(np.asarray(column) for column in zip(*results, strict=True))
    return np.asarray(results)


def _checked(label: str, got: Any, expected: Any) -> None:
    bad = mismatch(got, expected)
    if bad:
        raise WrongResult(f"{label}: {bad}")


def _prepare_run(f: Any, case: BatchCase, args: Args, expected: Any) -> Runner:
    """Compile and check ``f.run`` (its first call compiles the kernel and the driver)."""
    _checked("f.run", f.run(*args), expected)

    def run(number: int) -> None:
        for _ in range(number):
            f.run(*args)

    return run


def _prepare_loop(g: Callable[..., Any], case: BatchCase, args: Args, expected: Any) -> Runner:
    """Check a Python loop of calls of ``g`` (a dispatcher or an Executable)."""
    _checked("Python loop", loop_result(case.loop(g, args)), expected)

    def run(number: int) -> None:
        for _ in range(number):
            case.loop(g, args)

    return run


def _prepare_exe_loop(f: Any, case: BatchCase, args: Args, expected: Any) -> Runner:
    """Check a Python loop of calls of the Executable ``f.compile(signature)``."""
    return _prepare_loop(f.compile(case.signature), case, args, expected)


def _prepare_numba(nb: Backend, case: BatchCase, args: Args, expected: Any) -> Runner:
    """The loop ``f.run`` compiles, as a numba function calling the kernel under ``njit``."""
    from frostline.batch import driver_source

    batched = [isinstance(a, np.ndarray) for a in args]
    nresults = len(expected) if isinstance(expected, tuple) else 1
    source = driver_source(case.name, [f"p{k}" for k in range(len(args))], batched, nresults)
    namespace: dict[str, Any] = {"kernel": nb.jit(case.kernel, OPTIONS)}
    exec(compile(source, f"<numba driver {case.name}>", "exec"), namespace)  # noqa: S102
    driver = nb.decorate(namespace[f"run_{case.name}"], OPTIONS)
    n = args[0].shape[0]

    def call() -> Any:
        outs = [np.empty(n) for _ in range(nresults)]
        driver(n, *outs, *args)
        return tuple(outs) if nresults > 1 else outs[0]

    _checked("numba driver", call(), expected)

    def run(number: int) -> None:
        for _ in range(number):
            call()

    return run


def batch_suite(backends: dict[str, Backend], cfg: Config) -> list[BatchRow]:
    """Time ``f.run`` over ``BATCH_N`` calls against Python loops of the same calls."""
    fl, nb = backends["frostline"], backends["numba"]
    rows = []
    for case in BATCH_CASES:
        log(f"[batch] {case.name} ({BATCH_N} calls)")
        args = case.args(BATCH_N)
        expected = case.reference(*args)
        cells: dict[str, Outcome] = {}
        runners: dict[str, Runner | None] = {}
        if not fl.available:
            cells.update({impl: missing_cell(fl) for impl in ("run", "loop", "exe_loop")})
        else:
            f = fl.module.jit(mode="run", cache=False, **OPTIONS)(case.kernel)
            runners["run"], cells["run"] = prepared(
                f"f.run {case.name}", _prepare_run, f, case, args, expected
            )
            runners["loop"], cells["loop"] = prepared(
                f"dispatcher loop {case.name}", _prepare_loop, f, case, args, expected
            )
            runners["exe_loop"], cells["exe_loop"] = prepared(
                f"Executable loop {case.name}", _prepare_exe_loop, f, case, args, expected
            )
        if not nb.available:
            cells["numba"] = missing_cell(nb)
        else:
            runners["numba"], cells["numba"] = prepared(
                f"numba driver {case.name}", _prepare_numba, nb, case, args, expected
            )
        live = {name: run for name, run in runners.items() if run is not None}
        if live:
            log(f"  timing {', '.join(live)}")
        for name, seconds in best_of(live, repeat=cfg.repeat, min_sample=cfg.min_sample).items():
            if isinstance(seconds, Exception):
                cells[name] = Outcome(error=f"while timing: {describe_error(seconds)}")
            else:
                cells[name] = Outcome(seconds=seconds)
        rows.append(BatchRow(case, cells))
    return rows


# --------------------------------------------------------------------------
# Tiered compilation latency
# --------------------------------------------------------------------------

_TIERED_SOURCE = """\
def tiered_kernel_{k}(row, scale):
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j] * row[j]
    return math.sqrt(s + {k}.0) * scale
"""
_fresh_kernels = itertools.count()


def fresh_kernel() -> tuple[Callable[..., Any], float]:
    """A new kernel whose source (a unique constant) no cache has seen; its result on
    ``(np.arange(8.0), 2.0)``."""
    k = next(_fresh_kernels)
    source = _TIERED_SOURCE.format(k=k)
    filename = f"<benchmarks tiered kernel {k}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"math": math, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated above
    return namespace[f"tiered_kernel_{k}"], math.sqrt(140.0 + k) * 2.0


@dataclass
class TieredResult:
    """Seconds per repetition of each tiered measurement (keys of ``TIERED_LABELS``)."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    python_calls: list[int] = field(default_factory=list)
    """Calls answered by the Python function while the caller waited for native code."""
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self, key: str, statistic: Callable[[list[float]], float]) -> Outcome:
        """``statistic`` (``min``, ``max``, ``statistics.median``) of one measurement."""
        if self.error is not None:
            return Outcome(error=self.error)
        values = self.samples.get(key, [])
        return Outcome(seconds=statistic(values)) if values else Outcome(note="—")


class _Clock:
    """When a handle's success callback ran (``perf_counter``; it may run in a worker)."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, _result: object) -> None:
        self.at = time.perf_counter()

    def wait(self, handle: Any) -> float:
        """When the callback ran; the handle's result is set just before its callbacks run."""
        handle.result(timeout=TIERED_TIMEOUT)
        while self.at is None:
            time.sleep(1e-4)
        return self.at


def _check_native(f: Any, x: np.ndarray, expected: float) -> None:
    _checked("native call", f(x, 2.0), expected)


def _in_place(fl: Any, x: np.ndarray) -> dict[str, float]:
    fn, expected = fresh_kernel()
    f = fl.jit(cache=False, **OPTIONS)(fn)
    t0 = time.perf_counter()
    f.compile(TIERED_SIGNATURE)
    elapsed = time.perf_counter() - t0
    _check_native(f, x, expected)
    return {IN_PLACE: elapsed}


def _waiting(fl: Any, x: np.ndarray) -> dict[str, float]:
    """``compile_async``, then block in ``handle.result()``."""
    fn, expected = fresh_kernel()
    f = fl.jit(background=True, cache=False, **OPTIONS)(fn)
    clock = _Clock()
    t0 = time.perf_counter()
    handle = f.compile_async(TIERED_SIGNATURE)
    returned = time.perf_counter()
    handle.add_callback_on_success(clock)
    done = clock.wait(handle)
    _check_native(f, x, expected)
    return {ASYNC_RETURN: returned - t0, DONE_WAITING: done - returned}


def _calling(fl: Any, x: np.ndarray) -> tuple[dict[str, float], int]:
    """``compile_async``, then call ``f`` until a call adds nothing to ``python_calls``."""
    fn, expected = fresh_kernel()
    f = fl.jit(background=True, cache=False, **OPTIONS)(fn)
    clock = _Clock()
    handle = f.compile_async(TIERED_SIGNATURE)
    returned = time.perf_counter()
    handle.add_callback_on_success(clock)
    start = before = fl.stats()["python_calls"]
    while True:
        f(x, 2.0)
        after = fl.stats()["python_calls"]
        if after == before:
            native = time.perf_counter()
            break
        before = after
        if time.perf_counter() - returned > TIERED_TIMEOUT:
            raise TimeoutError(f"no native call {TIERED_TIMEOUT:g} s after compile_async")
    done = clock.wait(handle)
    _check_native(f, x, expected)
    return {DONE_CALLING: done - returned, FIRST_NATIVE: native - returned}, before - start


def _counter_warnings(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Signs that a round did not compile its three fresh kernels, two in the background."""
    warnings = _cache_warnings(before, after)
    for counter, expected in (("compiled", 3), ("background_started", 2)):
        grew = after[counter] - before[counter]
        if grew != expected:
            warnings.append(f"stats()[{counter!r}] grew by {grew} in a round, not {expected}")
    return warnings


def _tiered_round(fl: Any, x: np.ndarray, result: TieredResult) -> None:
    """One repetition of every measurement, each on its own fresh kernel."""
    before = fl.stats()
    times = _in_place(fl, x) | _waiting(fl, x)
    calling, python_calls = _calling(fl, x)
    times |= calling
    for key, seconds in times.items():
        result.samples.setdefault(key, []).append(seconds)
    result.python_calls.append(python_calls)
    for warning in _counter_warnings(before, fl.stats()):
        if warning not in result.notes:
            log(f"  !! tiered: {warning}")
            result.notes.append(warning)


def _tiered(fl: Any, repeats: int) -> TieredResult:
    result = TieredResult()
    x = np.arange(8.0)
    log("[tiered] warm-up (starts the compiler threads)")
    _tiered_round(fl, x, TieredResult())
    for round_ in range(repeats):
        log(f"[tiered] round {round_ + 1}/{repeats}")
        _tiered_round(fl, x, result)
    return result


def tiered_suite(backends: dict[str, Backend], cfg: Config) -> TieredResult:
    """Latency from ``compile_async`` to native code, next to compiling in place."""
    fl = backends["frostline"]
    if not fl.available:
        return TieredResult(error=missing_cell(fl).error)
    try:
        return _tiered(fl.module, TIERED_REPEATS[cfg.scale])
    except Exception as exc:
        log(f"  !! tiered: {describe_error(exc)}")
        log("".join(traceback.format_exception(exc)).rstrip())
        return TieredResult(error=describe_error(exc))
