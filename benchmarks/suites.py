"""The three in-process measurement suites: run time, compile time and per-call overhead.

The start-up suite, which times child processes, lives in ``startup.py``.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import Backend
from .c_kernels import CBuilder, gcc_path
from .harness import (
    Outcome,
    Runner,
    WrongResult,
    best_of,
    describe_error,
    expected_result,
    guarded,
    log,
    mismatch,
    ns_per_call,
    prepared,
    python_runner,
    result_of,
)
from .kernels import WARMUP_SIGNATURE, Args, Kernel, Scale, add3, first_sum, warmup

if TYPE_CHECKING:
    from .arrays import ArrayResults
    from .bound import BoundRow
    from .modes import BatchRow, TieredResult
    from .parallel import ParallelResults
    from .pool import PoolResults
    from .startup import StartupRow

IMPLS = ("frostline", "numba", "numpy", "c")


@dataclass(frozen=True)
class Config:
    """Sizes and repetition counts for one run."""

    scale: Scale
    repeat: int
    min_sample: float
    """Minimum duration (s) of one run-time sample; ``number`` is calibrated to reach it."""
    compile_repeat: int
    overhead_repeat: int
    overhead_number: int | None
    """Calls per overhead sample (None: let timeit pick, >= 0.2 s per sample)."""
    startup_runs: int
    """Timed child processes per start-up variant (after one untimed run)."""

    @classmethod
    def quick(cls) -> Config:
        """Small sizes and few repeats, for smoke tests."""
        return cls(
            "quick",
            repeat=3,
            min_sample=0.002,
            compile_repeat=1,
            overhead_repeat=3,
            overhead_number=20_000,
            startup_runs=4,
        )

    @classmethod
    def full(cls) -> Config:
        """Full-size problems (mostly 10-100 ms per call) and more repeats."""
        return cls(
            "full",
            repeat=9,
            min_sample=0.05,
            compile_repeat=5,
            overhead_repeat=7,
            overhead_number=None,
            startup_runs=15,
        )


@dataclass
class RuntimeRow:
    """Run-time results of one kernel, per implementation (keys of ``IMPLS``)."""

    kernel: Kernel
    size: str
    cells: dict[str, Outcome]
    python_check: str | None = None
    """Mismatch of the plain-Python kernel against the reference (a suite bug)."""


@dataclass
class CompileRow:
    """Compile-time results of one kernel for frostline and numba."""

    kernel: Kernel
    cells: dict[str, Outcome]


@dataclass
class OverheadRow:
    """Per-call overhead of one call expression, in nanoseconds."""

    key: str
    label: str
    outcome: Outcome


@dataclass
class Results:
    """Everything the report needs."""

    config: Config
    runtime: list[RuntimeRow] = field(default_factory=list)
    compile: list[CompileRow] = field(default_factory=list)
    overhead: list[OverheadRow] = field(default_factory=list)
    startup: list[StartupRow] = field(default_factory=list)
    batch: list[BatchRow] = field(default_factory=list)
    tiered: TieredResult | None = None
    bound: list[BoundRow] = field(default_factory=list)
    arrays: ArrayResults | None = None
    parallel: ParallelResults | None = None
    pool: PoolResults | None = None
    notes: list[str] = field(default_factory=list)


def missing_cell(backend: Backend) -> Outcome:
    """Cell for a back-end that failed to import: numba is optional, frostline is not."""
    if backend.name == "numba":
        return Outcome(note="not installed")
    return Outcome(error=f"import failed: {backend.error}")


# --------------------------------------------------------------------------
# Run time
# --------------------------------------------------------------------------


def _prepare_python(kernel: Kernel, fn: Any, expected: Any, cfg: Config, shared: Args) -> Runner:
    """Check ``fn`` on fresh timed-size inputs (JIT-compiling it); return a runner on ``shared``."""
    args = kernel.args(cfg.scale)
    returned = fn(*args)  # JIT-compiles on the first call
    bad = mismatch(result_of(kernel, args, returned), expected)
    if bad:
        raise WrongResult(bad)
    return python_runner(fn, shared)


def _prepare_jit(
    kernel: Kernel, backend: Backend, expected: Any, cfg: Config, shared: Args
) -> Runner:
    fn = backend.jit(kernel.fn, kernel.options)
    return _prepare_python(kernel, fn, expected, cfg, shared)


def _prepare_c(
    kernel: Kernel, builder: CBuilder, expected: Any, cfg: Config, shared: Args
) -> Runner:
    args = kernel.args(cfg.scale)
    bad = mismatch(result_of(kernel, args, builder.bind(kernel, args)(1)), expected)
    if bad:
        raise WrongResult(bad)
    return builder.bind(kernel, shared)


def _python_check(kernel: Kernel) -> str | None:
    """Check the interpreted kernel against the reference on tiny inputs."""
    args = kernel.args("check")
    got = result_of(kernel, args, kernel.fn(*args))
    bad = mismatch(got, expected_result(kernel, kernel.args("check")))
    return f"plain-Python kernel disagrees with the reference: {bad}" if bad else None


def runtime_suite(
    kernels: list[Kernel], backends: dict[str, Backend], builder: CBuilder | None, cfg: Config
) -> list[RuntimeRow]:
    """Check, then time, every implementation of every kernel."""
    rows = []
    for kernel in kernels:
        log(f"[run time] {kernel.name} ({kernel.size_label(cfg.scale)})")
        row = RuntimeRow(kernel, kernel.size_label(cfg.scale), {}, _python_check(kernel))
        expected = expected_result(kernel, kernel.args(cfg.scale))
        # All implementations are timed on the same arrays, so that memory placement
        # (e.g. huge pages) cannot favour one of them; each is checked on its own copy.
        shared = kernel.args(cfg.scale)
        runners: dict[str, Runner | None] = {}
        for name in ("frostline", "numba"):
            backend = backends[name]
            if not backend.available:
                row.cells[name] = missing_cell(backend)
                continue
            log(f"  check {name}")
            runners[name], row.cells[name] = prepared(
                f"{name} {kernel.name}", _prepare_jit, kernel, backend, expected, cfg, shared
            )
        if kernel.numpy is None:
            row.cells["numpy"] = Outcome(note="n/a")
        else:
            log("  check numpy")
            runners["numpy"], row.cells["numpy"] = prepared(
                f"numpy {kernel.name}", _prepare_python, kernel, kernel.numpy, expected, cfg, shared
            )
        if builder is None:
            row.cells["c"] = Outcome(note="no gcc")
        else:
            log("  check C")
            runners["c"], row.cells["c"] = prepared(
                f"C {kernel.name}", _prepare_c, kernel, builder, expected, cfg, shared
            )
        live = {name: run for name, run in runners.items() if run is not None}
        log(f"  timing {', '.join(live)}")
        times = best_of(live, repeat=cfg.repeat, min_sample=cfg.min_sample)
        for name, seconds in times.items():
            if isinstance(seconds, Exception):
                log(f"  !! {name} {kernel.name} while timing: {describe_error(seconds)}")
                row.cells[name] = Outcome(error=f"while timing: {describe_error(seconds)}")
            else:
                row.cells[name] = Outcome(seconds=seconds)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# Compile time
# --------------------------------------------------------------------------


def _cache_warnings(before: dict[str, int] | None, after: dict[str, int] | None) -> list[str]:
    """Signs (from frostline's counters) that a compile was answered from a cache."""
    if before is None or after is None:
        return []
    warnings = []
    if "compiled" in after and after["compiled"] <= before.get("compiled", 0):
        warnings.append("stats()['compiled'] did not grow: not a fresh compile?")
    if after.get("memory_hits", 0) > before.get("memory_hits", 0):
        warnings.append("stats()['memory_hits'] grew: in-memory cache hit")
    return warnings


def _compile_once(kernel: Kernel, backend: Backend) -> tuple[float, list[str], Any]:
    """Seconds for one ahead-of-time compile, cache warnings, and the executable."""
    before = backend.counters()
    t0 = time.perf_counter()
    exe = backend.compile(kernel.fn, kernel.signature, kernel.options)
    elapsed = time.perf_counter() - t0
    return elapsed, _cache_warnings(before, backend.counters()), exe


def _check_executable(kernel: Kernel, backend: Backend, exe: Any) -> list[str]:
    """Run the ahead-of-time executable once on small inputs; raise if it is wrong."""
    args = kernel.args("check")
    t0 = time.perf_counter()
    returned = exe(*args)
    first_call = time.perf_counter() - t0
    bad = mismatch(result_of(kernel, args, returned), expected_result(kernel, kernel.args("check")))
    if bad:
        raise WrongResult(f"the compiled executable: {bad}")
    if backend.name == "frostline" and first_call > 5e-3:
        return [
            f"first call of the executable took {first_call * 1e3:.1f} ms "
            "(work deferred past compile()?)"
        ]
    return []


def _compile_kernel(kernel: Kernel, backends: list[Backend], cfg: Config) -> dict[str, Outcome]:
    """Compile ``kernel`` ``cfg.compile_repeat`` times per back-end, interleaved; best time."""
    cells: dict[str, Outcome] = {}
    times: dict[str, list[float]] = {b.name: [] for b in backends}
    notes: dict[str, list[str]] = {b.name: [] for b in backends}
    for round_ in range(cfg.compile_repeat):
        for backend in backends:
            if backend.name in cells:  # already failed
                continue
            try:
                seconds, warnings, exe = _compile_once(kernel, backend)
                times[backend.name].append(seconds)
                notes[backend.name] += warnings
                if round_ == 0:
                    notes[backend.name] += _check_executable(kernel, backend, exe)
            except Exception as exc:
                log(f"  !! compile {backend.name} {kernel.name}: {describe_error(exc)}")
                log("".join(traceback.format_exception(exc)).rstrip())
                cells[backend.name] = Outcome(error=describe_error(exc))
    for backend in backends:
        if backend.name not in cells:
            note = "; ".join(dict.fromkeys(notes[backend.name])) or None
            cells[backend.name] = Outcome(seconds=min(times[backend.name]), note=note)
    return cells


def compile_suite(
    kernels: list[Kernel], backends: dict[str, Backend], cfg: Config
) -> tuple[list[CompileRow], list[str]]:
    """Time ahead-of-time compilation from a signature string, fresh function each time."""
    notes = []
    live = [b for b in backends.values() if b.available]
    for backend in live:
        log(f"[compile] warm-up {backend.name}")
        out = guarded(f"{backend.name} warm-up", _warm, backend)
        if out.error:
            notes.append(f"{backend.name} warm-up compile failed: {out.error}")
    rows = []
    for kernel in kernels:
        log(f"[compile] {kernel.name}")
        cells = _compile_kernel(kernel, live, cfg)
        for backend in backends.values():
            if not backend.available:
                cells[backend.name] = missing_cell(backend)
        rows.append(CompileRow(kernel, cells))
    return rows, notes


def _warm(backend: Backend) -> Outcome:
    t0 = time.perf_counter()
    backend.compile(warmup, WARMUP_SIGNATURE, {"fastmath": False, "boundscheck": False})
    return Outcome(seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------
# Per-call overhead
# --------------------------------------------------------------------------


def _overhead_case(
    stmt: str, make: Callable[[], dict[str, Any]], expected: Any, cfg: Config
) -> Outcome:
    bindings = make()
    if expected is not None:
        got = eval(stmt, {}, dict(bindings))  # fixed expressions from this module
        if not math.isclose(float(got), float(expected)):
            return Outcome(error=f"WRONG RESULT: got {got!r}, expected {expected!r}")
    return Outcome(
        seconds=ns_per_call(stmt, bindings, repeat=cfg.overhead_repeat, number=cfg.overhead_number)
        * 1e-9
    )


def overhead_suite(backends: dict[str, Backend], cfg: Config) -> list[OverheadRow]:
    """Per-call cost of trivial kernels versus cheap Python builtins."""
    x = np.arange(1.0, 5.0)
    y = np.arange(10.0, 14.0)
    opts = {"fastmath": False, "boundscheck": False}
    fl, nb = backends["frostline"], backends["numba"]

    def exe3() -> Any:
        return fl.compile(add3, "float64, float64, float64", opts)

    def disp(backend: Backend, fn: Callable[..., Any]) -> Any:
        return backend.jit(fn, opts)

    def exe2() -> Any:
        return fl.compile(first_sum, "float64[:], float64[:]", opts)

    three = "f(1.0, 2.0, 3.0)"
    arrays = "g(x, y)"
    cases: list[tuple[str, str, Backend | None, str, Callable[[], dict[str, Any]], Any]] = [
        (
            "fl_exe3",
            "frostline Executable `exe(1.0, 2.0, 3.0)`",
            fl,
            three,
            lambda: {"f": exe3()},
            6.0,
        ),
        (
            "fl_disp3",
            "frostline dispatcher `f(1.0, 2.0, 3.0)`",
            fl,
            three,
            lambda: {"f": disp(fl, add3)},
            6.0,
        ),
        (
            "nb_disp3",
            "numba dispatcher `f(1.0, 2.0, 3.0)`",
            nb,
            three,
            lambda: {"f": disp(nb, add3)},
            6.0,
        ),
        (
            "fl_exe_arr",
            "frostline Executable `g(x, y)`, two 4-element arrays",
            fl,
            arrays,
            lambda: {"g": exe2(), "x": x, "y": y},
            11.0,
        ),
        (
            "fl_disp_arr",
            "frostline dispatcher `g(x, y)`",
            fl,
            arrays,
            lambda: {"g": disp(fl, first_sum), "x": x, "y": y},
            11.0,
        ),
        (
            "nb_disp_arr",
            "numba dispatcher `g(x, y)`",
            nb,
            arrays,
            lambda: {"g": disp(nb, first_sum), "x": x, "y": y},
            11.0,
        ),
        (
            "copysign",
            "builtin `math.copysign(1.0, 2.0)`",
            None,
            "f(1.0, 2.0)",
            lambda: {"f": math.copysign},
            1.0,
        ),
        (
            "hypot",
            "builtin `math.hypot(1.0, 2.0, 3.0)`",
            None,
            three,
            lambda: {"f": math.hypot},
            math.hypot(1.0, 2.0, 3.0),
        ),
        ("empty", "empty statement (timeit loop overhead)", None, "pass", lambda: {}, None),
    ]
    rows = []
    for key, label, backend, stmt, make, expected in cases:
        if backend is not None and not backend.available:
            rows.append(OverheadRow(key, label, missing_cell(backend)))
            continue
        log(f"[overhead] {label}")
        out = guarded(label, _overhead_case, stmt, make, expected, cfg)
        rows.append(OverheadRow(key, label, out))
    return rows


def c_builder() -> CBuilder | None:
    """A C builder, or None when gcc is missing."""
    return CBuilder() if gcc_path() else None
