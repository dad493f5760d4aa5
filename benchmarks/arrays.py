"""The array-code suite: NumPy-style kernels run by frostline, numba ``njit`` (the same
source) and NumPy itself, side by side in one run, with compile times and the cost of
``np.zeros((4000, 4000))`` inside a kernel against NumPy's own.

Every kernel's result is checked against NumPy's before it is timed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import Backend, clone_function
from .formatting import fmt_ratio, fmt_time, table
from .harness import best_of, describe_error, log, python_runner
from .targets import Target

# --- the kernels: plain NumPy code ------------------------------------------------------


def jacobi_slices(u, v, steps):
    for _ in range(steps):
        v[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        u[1:-1, 1:-1] = 0.25 * (v[:-2, 1:-1] + v[2:, 1:-1] + v[1:-1, :-2] + v[1:-1, 2:])
    return u[1, 1]


def heat_steps(u, steps, alpha):
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1] = u[:-2] - 2.0 * u[1:-1] + u[2:]
        u = u + alpha * lap
    return u


def softmax_rows(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def pairwise_distances(x):
    d = x[:, None, :] - x[None, :, :]
    return np.sqrt(np.sum(d * d, axis=-1))


def standardise_columns(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


def where_clip(x, lo, hi):
    return np.where(x < lo, lo, np.where(x > hi, hi, x))


def cumulative(x):
    return np.cumsum(x)


def fused_axpy(out, a, b, c):
    out[:] = a * b + c
    return out[0]


def zeros_big(n):
    return np.zeros((n, n))  # returned, so no compiler can drop the allocation


@dataclass(frozen=True)
class ArrayKernel:
    name: str
    fn: Callable[..., Any]
    #: The arguments (the check runs on copies; timed calls may write into them, which
    #: changes the values, not the work).
    make: Callable[[], tuple]
    what: str


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


KERNELS = (
    ArrayKernel("jacobi", jacobi_slices,
                lambda: (_rng().random((400, 400)), _rng().random((400, 400)), 10),
                "2-D Jacobi sweep in slice form, 400x400, 10 double steps"),
    ArrayKernel("heat", heat_steps, lambda: (_rng().random(100_000), 20, 0.1),
                "1-D heat equation, 100,000 points, 20 steps, a new array per step"),
    ArrayKernel("softmax", softmax_rows, lambda: (_rng().random((1000, 100)),),
                "softmax over the rows of 1000x100"),
    ArrayKernel("pairwise", pairwise_distances, lambda: (_rng().random((200, 3)),),
                "pairwise distances of 200 points in 3-D by broadcasting"),
    ArrayKernel("standardise", standardise_columns, lambda: (_rng().random((2000, 50)),),
                "column standardisation (mean, std with axis=0) of 2000x50"),
    ArrayKernel("where_clip", where_clip, lambda: (_rng().random(1_000_000), 0.2, 0.8),
                "np.where clipping of 1,000,000 values"),
    ArrayKernel("cumsum", cumulative, lambda: (_rng().random(1_000_000),),
                "np.cumsum of 1,000,000 values"),
    ArrayKernel("fused", fused_axpy,
                lambda: (np.empty(1_000_000), *_rng().random((3, 1_000_000))),
                "out[:] = a*b + c, 1,000,000 values"),
)
ZEROS_N = 4000


@dataclass
class ArrayRow:
    kernel: ArrayKernel
    seconds: dict[str, float | str] = field(default_factory=dict)
    compile_seconds: dict[str, float | str] = field(default_factory=dict)


@dataclass
class ArrayResults:
    rows: list[ArrayRow] = field(default_factory=list)
    zeros: dict[str, float | str] = field(default_factory=dict)


def _check(got: object, want: object) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12)


def _compiled(backend: Backend, kernel: ArrayKernel, args: tuple) -> tuple[Any, float]:
    """A fresh compiled copy of the kernel (no cache), and how long its first call took."""
    fn = clone_function(kernel.fn, fresh=True)
    if backend.name == "frostline":
        import frostline as fl
        jitted = fl.jit(fn, cache=False)
    else:
        import numba
        jitted = numba.njit(cache=False)(fn)
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    start = time.perf_counter()
    jitted(*copies)
    return jitted, time.perf_counter() - start


def array_suite(backends: dict[str, Backend], repeat: int, min_sample: float) -> ArrayResults:
    results = ArrayResults()
    for kernel in KERNELS:
        log(f"arrays: {kernel.name}")
        row = ArrayRow(kernel)
        args = kernel.make()
        want = kernel.fn(*(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        runners: dict[str, Callable[[int], object]] = {"numpy": python_runner(kernel.fn, args)}
        for name, backend in backends.items():
            if not backend.available:
                row.seconds[name] = row.compile_seconds[name] = "not installed"
                continue
            try:
                jitted, seconds = _compiled(backend, kernel, args)
                row.compile_seconds[name] = seconds
                _check(jitted(*(a.copy() if isinstance(a, np.ndarray) else a for a in args)),
                       want)
                runners[name] = python_runner(jitted, args)
            except Exception as exc:
                row.seconds[name] = row.compile_seconds[name] = describe_error(exc)
        timed = best_of(runners, repeat=repeat, min_sample=min_sample)
        for name, value in timed.items():
            row.seconds[name] = describe_error(value) if isinstance(value, Exception) else value
        results.rows.append(row)
    zeros_runners: dict[str, Callable[[int], object]] = {
        "numpy": python_runner(zeros_big, (ZEROS_N,))}
    for name, backend in backends.items():
        if backend.available:
            try:
                jitted, _ = _compiled(backend, ArrayKernel("zeros", zeros_big, tuple, ""),
                                      (ZEROS_N,))
                zeros_runners[name] = python_runner(jitted, (ZEROS_N,))
            except Exception as exc:
                results.zeros[name] = describe_error(exc)
    for name, value in best_of(zeros_runners, repeat=repeat, min_sample=min_sample).items():
        results.zeros[name] = describe_error(value) if isinstance(value, Exception) else value
    return results


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def _ratios(results: ArrayResults, other: str) -> list[float]:
    out = []
    for row in results.rows:
        mine, theirs = row.seconds.get("frostline"), row.seconds.get(other)
        if isinstance(mine, float) and isinstance(theirs, float):
            out.append(mine / theirs)
    return out


def array_targets(results: ArrayResults | None) -> list[Target]:
    """The array section's lines of the report's table of targets."""
    if results is None or not results.rows:
        return []
    rows: list[Target] = []
    for other, goal in (("numba", 0.9), ("numpy", 0.5)):
        ratios = _ratios(results, other)
        if ratios:
            g = _geomean(ratios)
            rows.append(Target(f"Array code, run time geomean vs {other}", f"≤ {goal}×",
                         f"{g:.2f}×", "PASS" if g <= goal else "FAIL"))
    worst = _ratios(results, "numba")
    if worst:
        w = max(worst)
        rows.append(Target("Array code, any kernel vs numba", "≤ 1.25×", f"{w:.2f}× (worst)",
                     "PASS" if w <= 1.25 else "FAIL"))
    compiles = []
    for row in results.rows:
        mine, theirs = row.compile_seconds.get("frostline"), row.compile_seconds.get("numba")
        if isinstance(mine, float) and isinstance(theirs, float):
            compiles.append(mine / theirs)
    if compiles:
        g = _geomean(compiles)
        rows.append(Target("Array code, compile time geomean vs numba", "≤ 0.5×", f"{g:.2f}×",
                     "PASS" if g <= 0.5 else "FAIL"))
    mine, numpy = results.zeros.get("frostline"), results.zeros.get("numpy")
    if isinstance(mine, float) and isinstance(numpy, float):
        r = mine / numpy
        rows.append(Target(f"np.zeros(({ZEROS_N}, {ZEROS_N})) in a kernel vs NumPy's", "≤ 1×",
                     f"{r:.2f}×", "PASS" if r <= 1.05 else "FAIL"))
    return rows


def _time(value: float | str | None) -> str:
    if isinstance(value, float):
        return fmt_time(value)
    return "—" if value is None else f"**{value[:60]}**"


def ratio_cell(a: float | str | None, b: float | str | None) -> str:
    return fmt_ratio(a / b) if isinstance(a, float) and isinstance(b, float) else "—"


def array_section(results: ArrayResults) -> list[str]:
    lines = ["## Array code", "",
             "NumPy-style kernels: frostline and numba `njit` compile the same source; the "
             "NumPy column runs it as Python. Ratios are frostline's time over the other's "
             "(below 1: frostline is faster).", ""]
    body = []
    for row in results.rows:
        s = row.seconds
        mine = s.get("frostline")
        body.append([f"`{row.kernel.name}`", row.kernel.what, _time(mine), _time(s.get("numba")),
                     _time(s.get("numpy")), ratio_cell(mine, s.get("numba")),
                     ratio_cell(mine, s.get("numpy")),
                     _time(row.compile_seconds.get("frostline")),
                     _time(row.compile_seconds.get("numba"))])
    lines += table(["Kernel", "What", "frostline", "numba", "NumPy", "vs numba", "vs NumPy",
                    "compile (fl)", "compile (numba)"], body)
    z = results.zeros
    lines += ["", f"`np.zeros(({ZEROS_N}, {ZEROS_N}))` inside a kernel: frostline "
              f"{_time(z.get('frostline'))}, numba {_time(z.get('numba'))}, NumPy's own "
              f"{_time(z.get('numpy'))}."]
    return lines
