"""Machine information and the Markdown report."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

from . import BLAS_THREAD_VARS
from .arrays import array_section, array_targets
from .backends import Backend
from .bound import STEP_SIZE, BoundRow
from .c_kernels import BASE_FLAGS, gcc_version
from .formatting import _escape, cell, fmt_ratio, fmt_small_ratio, ratio, table
from .harness import geomean
from .kernels import KERNELS
from .modes import (
    BATCH_N,
    IN_PLACE,
    TIERED_LABELS,
    TIERED_SIGNATURE,
    BatchRow,
    TieredResult,
)
from .parallel_report import parallel_errors, parallel_section, parallel_targets
from .pool_report import pool_errors, pool_section, pool_targets
from .startup import (
    BARE,
    PAIRS,
    UNPICKLE,
    StartupRow,
)
from .suites import CompileRow, OverheadRow, Results, RuntimeRow
from .targets import (
    batch_targets,
    beyond_bare,
    bound_targets,
    compile_targets,
    overhead_targets,
    runtime_targets,
    startup_targets,
)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to ``platform``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> str:
    """1-minute load average, flagged when other work competes for the cores."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "unknown"
    cores = os.cpu_count() or 1
    busy = " (**busy machine: timings are noisy**)" if load > 0.25 * cores else ""
    return f"{load:.2f}{busy}"


def machine_info(backends: dict[str, Backend]) -> list[tuple[str, str]]:
    """(label, value) pairs for the report header."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    import llvmlite

    return [
        ("Date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("CPU", cpu_model()),
        ("Cores", f"{os.cpu_count()} logical ({usable} usable by this process)"),
        ("Load average at start", load_average()),
        ("OS", platform.platform()),
        ("Python", sys.version.split()[0]),
        ("NumPy", np.__version__),
        ("numba", backends["numba"].version),
        ("llvmlite", llvmlite.__version__),
        ("frostline", backends["frostline"].version),
        ("gcc", gcc_version()),
    ]


def _numpy_suffix(row: RuntimeRow) -> str:
    label = row.kernel.numpy_label
    return " (BLAS)" if "BLAS" in label else ""


def runtime_section(rows: list[RuntimeRow]) -> list[str]:
    """Run-time tables."""
    out = [
        "## Run time",
        "",
        "Ratios of best-of-N times per call; **< 1 means the first is faster**. "
        "Absolute times are secondary.",
        "",
    ]
    body = []
    for r in rows:
        c = r.cells
        np_ratio = fmt_ratio(ratio(c["numpy"], c["frostline"]))
        if np_ratio != "—":
            np_ratio += _numpy_suffix(r)
        np_cell = cell(c["numpy"])
        if c["numpy"].ok:
            np_cell += _numpy_suffix(r)
        body.append(
            [
                f"{r.kernel.name}{' (fastmath)' if r.kernel.fastmath else ''}",
                r.size,
                f"**{fmt_ratio(ratio(c['frostline'], c['numba']))}**",
                fmt_ratio(ratio(c["frostline"], c["c"])),
                fmt_ratio(ratio(c["numba"], c["c"])),
                np_ratio,
                cell(c["frostline"]),
                cell(c["numba"]),
                np_cell,
                cell(c["c"]),
            ]
        )
    out += table(
        [
            "Kernel",
            "Size",
            "frostline/numba",
            "frostline/C",
            "numba/C",
            "NumPy/frostline",
            "frostline",
            "numba",
            "NumPy",
            "C",
        ],
        body,
    )
    ratios = {r.kernel.name: ratio(r.cells["frostline"], r.cells["numba"]) for r in rows}
    have = {k: v for k, v in ratios.items() if v is not None}
    out.append("")
    if have:
        worst = max(have.items(), key=lambda kv: kv[1])
        out.append(
            f"Geometric mean frostline/numba: **{fmt_ratio(geomean(have.values()))}** "
            f"over {len(have)} kernel(s); worst: **{fmt_ratio(worst[1])}** ({worst[0]})."
        )
        numba_c = [v for r in rows if (v := ratio(r.cells["numba"], r.cells["c"])) is not None]
        fl_c = [v for r in rows if (v := ratio(r.cells["frostline"], r.cells["c"])) is not None]
        out.append(
            f"Geometric mean frostline/C: {fmt_ratio(geomean(fl_c))}; "
            f"numba/C: {fmt_ratio(geomean(numba_c))}."
        )
    else:
        out.append("Geometric mean frostline/numba: — (no kernel measured by both).")
    return out


def compile_section(rows: list[CompileRow]) -> list[str]:
    """Compile-time table."""
    out = [
        "## Compile time",
        "",
        "Ahead-of-time compile from the signature string of a fresh function object "
        "(`fl.jit(cache=False, **opts)(fn).compile(sig)` vs "
        "`numba.njit(cache=False, **opts)(fn).compile(sig)`), after one warm-up compile of an "
        "unrelated function; best of the repeats.",
        "",
    ]
    body = []
    for r in rows:
        f, n = r.cells["frostline"], r.cells["numba"]
        notes = "; ".join(x for x in (f.note, n.note) if x and (f.ok or n.ok))
        body.append(
            [
                r.kernel.name,
                f"`{r.kernel.signature}`",
                cell(f),
                cell(n),
                f"**{fmt_ratio(ratio(f, n))}**",
                _escape(notes),
            ]
        )
    out += table(["Kernel", "Signature", "frostline", "numba", "frostline/numba", "Notes"], body)
    have = [v for r in rows if (v := ratio(r.cells["frostline"], r.cells["numba"])) is not None]
    out += [
        "",
        f"Geometric mean frostline/numba: **{fmt_ratio(geomean(have))}** "
        f"over {len(have)} kernel(s).",
    ]
    return out


def overhead_section(rows: list[OverheadRow]) -> list[str]:
    """Per-call overhead table."""
    by_key = {r.key: r.outcome for r in rows}
    base = by_key.get("copysign")
    out = [
        "## Per-call overhead",
        "",
        "Nanoseconds per call from `timeit` with the callable bound to a local name "
        "(best of the repeats; includes the timeit loop, see the last row).",
        "",
    ]
    body = []
    for r in rows:
        o = r.outcome
        ns = f"{o.seconds * 1e9:.1f}" if o.ok and o.seconds is not None else cell(o)
        body.append([r.label, ns, fmt_ratio(ratio(o, base))])
    out += table(["Call", "ns/call", "vs copysign"], body)
    return out


def startup_section(rows: list[StartupRow], runs: int) -> list[str]:
    """Start-up tables: whole-process times, then the unpickling child's in-process phases."""
    by_key = {r.key: r for r in rows}
    bare = by_key.get(BARE)
    numba_of = dict(PAIRS)
    out = [
        "## Start-up",
        "",
        "Wall time of a whole child process, `subprocess.run([sys.executable, ...])`, "
        f"min and median of {runs} runs per variant; the variants' runs are interleaved "
        "(round-robin) after one untimed run each that fills the caches. *Beyond bare* is "
        "the minimum less the bare interpreter's minimum. Warm children use fresh cache "
        "directories (`FROSTLINE_CACHE_DIR`, `NUMBA_CACHE_DIR`); every run's result is "
        "checked, and a timed run that generated code (`fl.stats()['compiled']`, numba's "
        "cache misses) is an error. **< 1 means frostline starts faster.**",
        "",
    ]
    body = []
    for r in rows:
        best = r.best
        if not best.ok:  # the error or note once, the other cells empty
            body.append([r.label, r.command, cell(best), "—", "—", "—"])
            continue
        beyond = beyond_bare(r, bare)
        versus = "—"
        if r.key in numba_of:
            value = ratio(beyond, beyond_bare(by_key.get(numba_of[r.key]), bare))
            versus = "—" if value is None else f"**{fmt_ratio(value)}**"
        body.append(
            [
                r.label,
                r.command,
                cell(best),
                cell(r.median),
                "—" if r.key == BARE else cell(beyond),
                versus,
            ]
        )
    out += table(
        ["Variant", "Child", "min", "median", "beyond bare", "frostline/numba (beyond bare)"],
        body,
    )
    unpickle = by_key.get(UNPICKLE)
    if unpickle is not None and unpickle.error is None and unpickle.phases:
        out += [
            "",
            "Inside the unpickling child (`time.perf_counter()`; the kernel's source is not "
            "in that process), min and median over the timed runs:",
            "",
        ]
        out += table(
            ["Phase", "min", "median"],
            (
                [
                    name,
                    cell(unpickle.phase(name, min)),
                    cell(unpickle.phase(name, statistics.median)),
                ]
                for name in unpickle.phases
            ),
        )
    return out


def batch_section(rows: list[BatchRow]) -> list[str]:
    """``f.run`` against Python loops of single calls and numba's driver loop."""
    out = [
        "## RUN: a batch of calls in one native loop",
        "",
        f"Time of {BATCH_N:,} calls of a small kernel: `f.run(*batched_args)` with "
        '`@fl.jit(mode="run")` (arrays carry the batch axis, scalars are given once; '
        "compiled before timing) against a Python list comprehension of single calls "
        "through the same compiled dispatcher `f` and through the `Executable` "
        "`exe = f.compile(sig)`, and numba's closest equivalent: the same driver loop "
        "`f.run` compiles, under `numba.njit`, calling the kernel under `numba.njit` "
        "(output arrays allocated per batch, as `f.run` does). Best of interleaved "
        "samples; **< 1 means `f.run` is faster.**",
        "",
    ]
    body = []
    for r in rows:
        c = r.cells
        per_call = (
            f"{c['run'].seconds / BATCH_N * 1e9:.1f} ns"
            if c["run"].ok and c["run"].seconds is not None
            else "—"
        )
        body.append(
            [
                r.case.name,
                f"`{_escape(r.case.call)}`",
                f"**{fmt_small_ratio(ratio(c['run'], c['loop']))}**",
                fmt_small_ratio(ratio(c["run"], c["exe_loop"])),
                fmt_small_ratio(ratio(c["run"], c["numba"])),
                cell(c["run"]),
                per_call,
                cell(c["loop"]),
                cell(c["exe_loop"]),
                cell(c["numba"]),
            ]
        )
    out += table(
        [
            "Kernel",
            "One call in the loop",
            "run/loop of `f`",
            "run/loop of `exe`",
            "run/numba driver",
            "`f.run`",
            "per call",
            "loop of `f`",
            "loop of `exe`",
            "numba driver",
        ],
        body,
    )
    return out


def bound_section(rows: list[BoundRow]) -> list[str]:
    """Bound calls against plain ``Executable`` calls."""
    out = [
        "## Bound calls",
        "",
        "Nanoseconds per call from `timeit` with the names bound to locals: the plain "
        "`Executable` call, the bound call `bound = exe.bind(*args)` then `bound()` (the "
        "arguments converted once), and `exe.bind(*args, context='step')()` (the context "
        f"hands back the same bound call, then it is called). The arrays hold {STEP_SIZE} "
        "float64 each. Interleaved samples, best of the repeats; every number includes "
        "`timeit`'s loop (the last column). **< 1 means the bound call is faster.**",
        "",
    ]
    body = []
    for r in rows:
        c = r.cells
        body.append(
            [
                r.case.label,
                f"`{r.case.plain_call}`",
                cell(c["plain"]),
                cell(c["bound"]),
                f"**{fmt_ratio(ratio(c['bound'], c['plain']))}**",
                cell(c["rebind"]),
                fmt_ratio(ratio(c["rebind"], c["plain"])),
                cell(c["empty"]),
            ]
        )
    out += table(
        [
            "Kernel",
            "Plain call",
            "plain",
            "`bound()`",
            "bound/plain",
            "bind with context + call",
            "rebind/plain",
            "empty loop",
        ],
        body,
    )
    return out


def tiered_section(result: TieredResult) -> list[str]:
    """Latency from ``compile_async`` to native code, next to compiling in place."""
    runs = len(result.samples.get(IN_PLACE, []))
    out = [
        "## Tiered compilation",
        "",
        "`@fl.jit(background=True, cache=False)` on a fresh kernel each time (its source "
        f"holds a unique constant), signature `{TIERED_SIGNATURE}`, {runs} repetitions "
        "after one untimed one. The handle and native-call latencies count from "
        "`f.compile_async(sig)` returning: *handle done* is when its success callback "
        "ran; *first native call* is the end of the first call of `f(x, 2.0)` (x: 8 "
        "floats) that left `fl.stats()['python_calls']` unchanged, the caller calling "
        "`f` back to back from the moment `compile_async` returned.",
        "",
    ]
    if result.error is not None:
        return out + [f"**ERROR: {_escape(result.error)}**"]
    base = result.summary(IN_PLACE, statistics.median)
    body = []
    for key, label in TIERED_LABELS.items():
        median = result.summary(key, statistics.median)
        body.append(
            [
                label,
                cell(result.summary(key, min)),
                cell(median),
                cell(result.summary(key, max)),
                f"**{fmt_small_ratio(ratio(median, base))}**",
            ]
        )
    out += table(["Measurement", "min", "median", "max", "median / in place"], body)
    calls = result.python_calls
    if calls:
        out += [
            "",
            f"Calls answered by the Python function before the first native call: median "
            f"{statistics.median(calls):.0f} (min {min(calls)}, max {max(calls)}).",
        ]
    if result.notes:
        out += [""] + [f"- **Warning:** {_escape(n)}" for n in result.notes]
    return out


def render(
    results: Results,
    backends: dict[str, Backend],
    command: str,
    info: list[tuple[str, str]],
) -> str:
    """The full Markdown report; ``info`` is ``machine_info()`` taken before the run."""
    cfg = results.config
    lines = ["# frostline benchmarks", ""]
    lines += [f"- **{k}:** {v}" for k, v in info]
    lines += [
        f"- **Mode:** {cfg.scale} (run time: min of {cfg.repeat} samples of "
        f"≥ {cfg.min_sample * 1e3:g} ms; compile: min of {cfg.compile_repeat}; "
        f"start-up: min and median of {cfg.startup_runs} runs)",
        f"- **Command:** `{command}`",
        "",
    ]

    targets = (
        runtime_targets(results.runtime)
        + compile_targets(results.compile)
        + overhead_targets(results.overhead)
        + startup_targets(results.startup)
        + batch_targets(results.batch)
        + bound_targets(results.bound)
        + array_targets(results.arrays)
        + parallel_targets(results.parallel)
        + pool_targets(results.pool)
    )
    if targets:
        lines += ["## Targets", ""]
        lines += table(
            ["Target", "Goal", "Measured", "Status"],
            ([t.name, t.goal, t.measured, f"**{t.status}**"] for t in targets),
        )
        lines.append("")
    if results.runtime:
        lines += runtime_section(results.runtime) + [""]
    if results.compile:
        lines += compile_section(results.compile) + [""]
    if results.overhead:
        lines += overhead_section(results.overhead) + [""]
    if results.startup:
        lines += startup_section(results.startup, cfg.startup_runs) + [""]
    if results.batch:
        lines += batch_section(results.batch) + [""]
    if results.tiered is not None:
        lines += tiered_section(results.tiered) + [""]
    if results.bound:
        lines += bound_section(results.bound) + [""]
    if results.arrays is not None:
        lines += array_section(results.arrays) + [""]
    if results.parallel is not None:
        lines += parallel_section(results.parallel) + [""]
    if results.pool is not None:
        lines += pool_section(results.pool) + [""]

    lines += ["## Notes", ""]
    notes = list(results.notes)
    notes.append(
        "frostline and numba compile the *same* Python function objects with the "
        "same options: `boundscheck=False`, `fastmath=True` only for "
        + ", ".join(k.name for k in KERNELS if k.fastmath)
        + " (so the reduction can vectorise), `cache=False`; "
        "`FROSTLINE_CACHE=0`."
    )
    notes.append(
        f"C: `gcc {' '.join(BASE_FLAGS)}` plus `-ffast-math` for fastmath kernels and "
        "`-ffp-contract=off` otherwise (no FMA contraction, like LLVM without "
        "fastmath); each call goes through a non-inlinable wrapper and the repeat "
        "loop runs inside C."
    )
    notes.append(
        "Run time: each implementation's calls per sample are calibrated to >= "
        f"{cfg.min_sample * 1e3:g} ms; the samples of the implementations are interleaved "
        "(round-robin) and the minimum per implementation is reported."
    )
    notes.append(
        "NumPy (BLAS) marks a library routine (`np.dot`, `@`) rather than the "
        "same algorithm; "
        + ", ".join(k.name for k in KERNELS if k.numpy is None)
        + " have no natural NumPy form. "
        "BLAS threads: "
        + ", ".join(f"`{v}={os.environ.get(v, '')}`" for v in BLAS_THREAD_VARS)
        + " (everything else is single-threaded)."
    )
    notes.append(
        "Every implementation is checked against a NumPy reference on the timed "
        "inputs (`np.allclose`, rtol=1e-9; integer results exactly) before timing; "
        "the plain-Python kernels are checked against the same references on tiny "
        "inputs."
    )
    if results.startup:
        notes.append(
            "Start-up: the children run this repository's frostline (`PYTHONPATH` starts with "
            "the repository root) with `FROSTLINE_CACHE=1` (the `FROSTLINE_CACHE=0` above "
            "applies to this process only) and fresh `FROSTLINE_CACHE_DIR` and "
            "`NUMBA_CACHE_DIR` directories, removed at the end; the kernels are `sum_squares` "
            "and `mul_add_one` from `benchmarks/kernels.py`."
        )
    for r in results.runtime:
        if r.python_check:
            notes.append(f"**SUITE BUG** {r.kernel.name}: {r.python_check}")
    for name, b in backends.items():
        if not b.available:
            notes.append(f"{name} is not available ({b.error}); its columns are skipped.")
        notes.extend(f"{name}: {n}" for n in b.notes)
    lines += [f"- {n}" for n in notes]

    errors = _errors(results)
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- **{where}**: {_escape(msg)}" for where, msg in errors]
    return "\n".join(lines) + "\n"


def _errors(results: Results) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for r in results.runtime:
        found += [
            (f"run time / {r.kernel.name} / {impl}", o.error)
            for impl, o in r.cells.items()
            if o.error
        ]
    for c in results.compile:
        found += [
            (f"compile / {c.kernel.name} / {impl}", o.error)
            for impl, o in c.cells.items()
            if o.error
        ]
    found += [
        (f"overhead / {o.label}", o.outcome.error) for o in results.overhead if o.outcome.error
    ]
    found += [(f"start-up / {r.label}", r.error) for r in results.startup if r.error]
    for b in results.batch:
        found += [(f"batch / {b.case.name} / {impl}", o.error) for impl, o in b.cells.items()]
    if results.tiered is not None:
        found.append(("tiered", results.tiered.error))
    for r in results.bound:
        found += [(f"bound / {r.case.key} / {impl}", o.error) for impl, o in r.cells.items()]
    found += parallel_errors(results.parallel)
    found += pool_errors(results.pool)
    return [(w, m) for w, m in found if m]


def has_errors(results: Results) -> bool:
    """True if any implementation failed or gave a wrong result."""
    return bool(_errors(results)) or any(r.python_check for r in results.runtime)
