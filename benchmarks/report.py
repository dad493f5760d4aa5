"""Machine information and the Markdown report."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import BLAS_THREAD_VARS
from .backends import Backend
from .bound import STEP_SIZE, BoundRow
from .c_kernels import BASE_FLAGS, gcc_version
from .harness import Outcome, geomean
from .kernels import KERNELS
from .modes import (
    BATCH_N,
    IN_PLACE,
    TIERED_LABELS,
    TIERED_SIGNATURE,
    BatchRow,
    TieredResult,
)
from .startup import (
    BARE,
    FROSTLINE_ARRAY,
    NUMBA_ARRAY,
    PAIRS,
    UNPICKLE,
    UNPICKLE_PHASE,
    StartupRow,
)
from .suites import CompileRow, OverheadRow, Results, RuntimeRow

# Targets for frostline.
RUNTIME_GEOMEAN_MAX = 1.0
RUNTIME_WORST_MAX = 1.25
COMPILE_GEOMEAN_MAX = 0.5
CALL_OVERHEAD_MAX = 2.0
STARTUP_BEYOND_BARE_MAX = 0.25
"""frostline/numba warm start beyond the bare interpreter (strictly less than)."""
UNPICKLE_CALL_SOFT_MAX = 5e-3
BOUND_PLAIN_MAX = 1.0
"""A bound call / the plain ``Executable`` call with the same arguments (strictly less than)."""
BATCH_LOOP_MAX = 0.1
"""``f.run`` over a batch / a Python loop of the same dispatcher calls, worst kernel."""


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


def fmt_time(seconds: float) -> str:
    """Format a duration with a sensible unit."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def fmt_ratio(value: float | None) -> str:
    """Format a ratio as ``1.23×`` (``—`` if missing)."""
    return "—" if value is None else f"{value:.2f}×"


def fmt_small_ratio(value: float | None) -> str:
    """Like ``fmt_ratio``, with two significant digits below 0.1 (``0.0012×``)."""
    if value is None or value >= 0.1:
        return fmt_ratio(value)
    return f"{value:.2g}×"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cell(out: Outcome | None, limit: int = 70) -> str:
    """Markdown cell text for an outcome."""
    if out is None:
        return "—"
    if out.error is not None:
        msg = out.error if len(out.error) <= limit else out.error[: limit - 3] + "..."
        return f"**ERROR: {_escape(msg)}**"
    if out.seconds is None:
        return _escape(out.note or "—")
    return fmt_time(out.seconds)


def ratio(a: Outcome | None, b: Outcome | None) -> float | None:
    """a.seconds / b.seconds if both were measured."""
    if a is None or b is None or not a.ok or not b.ok:
        return None
    assert a.seconds is not None and b.seconds is not None
    return a.seconds / b.seconds


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


@dataclass
class Target:
    """One PASS/FAIL line."""

    name: str
    goal: str
    measured: str
    status: str


def _status(value: float | None, limit: float, incomplete: str | None = None) -> str:
    if value is None:
        return "N/A"
    if incomplete:
        return f"FAIL ({incomplete})"
    return "PASS" if value <= limit else "FAIL"


def runtime_targets(rows: list[RuntimeRow]) -> list[Target]:
    """Geomean and worst-kernel frostline/numba run-time targets, then each kernel's own."""
    if not rows:
        return []
    ratios = {r.kernel.name: ratio(r.cells.get("frostline"), r.cells.get("numba")) for r in rows}
    have = {k: v for k, v in ratios.items() if v is not None}
    failed = [r.kernel.name for r in rows if r.cells["frostline"].error]
    incomplete = f"frostline failed on {', '.join(failed)}" if failed else None
    gm = geomean(have.values())
    worst = max(have.items(), key=lambda kv: kv[1]) if have else None
    return [
        Target(
            "Run time, geomean frostline/numba",
            f"≤ {RUNTIME_GEOMEAN_MAX:.2f}×",
            f"{fmt_ratio(gm)} over {len(have)}/{len(rows)} kernels",
            _status(gm, RUNTIME_GEOMEAN_MAX, incomplete),
        ),
        Target(
            "Run time, worst kernel frostline/numba",
            f"≤ {RUNTIME_WORST_MAX:.2f}×",
            f"{fmt_ratio(worst[1])} ({worst[0]})" if worst else "—",
            _status(worst[1] if worst else None, RUNTIME_WORST_MAX, incomplete),
        ),
    ] + [
        Target(
            f"Run time, {r.kernel.name} frostline/numba",
            f"≤ {r.kernel.target:.2f}×",
            fmt_ratio(ratios[r.kernel.name]),
            _status(
                ratios[r.kernel.name],
                r.kernel.target,
                "frostline failed" if r.cells["frostline"].error else None,
            ),
        )
        for r in rows
        if r.kernel.target is not None
    ]


def compile_targets(rows: list[CompileRow]) -> list[Target]:
    """Compile-time geomean target."""
    if not rows:
        return []
    ratios = [ratio(r.cells.get("frostline"), r.cells.get("numba")) for r in rows]
    have = [v for v in ratios if v is not None]
    failed = [r.kernel.name for r in rows if r.cells["frostline"].error]
    gm = geomean(have)
    return [
        Target(
            "Compile time, geomean frostline/numba",
            f"≤ {COMPILE_GEOMEAN_MAX:.2f}×",
            f"{fmt_ratio(gm)} over {len(have)}/{len(rows)} kernels",
            _status(
                gm,
                COMPILE_GEOMEAN_MAX,
                f"frostline failed on {', '.join(failed)}" if failed else None,
            ),
        )
    ]


def overhead_targets(rows: list[OverheadRow]) -> list[Target]:
    """Executable call vs ``math.copysign`` target."""
    by_key = {r.key: r.outcome for r in rows}
    if not rows:
        return []
    value = ratio(by_key.get("fl_exe3"), by_key.get("copysign"))
    return [
        Target(
            "Call overhead, Executable `exe(1.0, 2.0, 3.0)` / `math.copysign`",
            f"≤ {CALL_OVERHEAD_MAX:.2f}×",
            fmt_ratio(value),
            _status(value, CALL_OVERHEAD_MAX),
        )
    ]


def beyond_bare(row: StartupRow | None, bare: StartupRow | None) -> Outcome:
    """Minimum whole-process time of ``row`` less that of the bare interpreter."""
    if row is None or bare is None:
        return Outcome(note="—")
    best, base = row.best, bare.best
    if not best.ok:
        return best
    if not base.ok:
        return Outcome(note="—")
    assert best.seconds is not None and base.seconds is not None
    return Outcome(seconds=best.seconds - base.seconds)


def startup_targets(rows: list[StartupRow]) -> list[Target]:
    """Warm start frostline/numba (array kernel) target; soft unpickle + first call target."""
    if not rows:
        return []
    by_key = {r.key: r for r in rows}
    bare = by_key.get(BARE)
    fl, nb = (
        beyond_bare(by_key.get(FROSTLINE_ARRAY), bare),
        beyond_bare(by_key.get(NUMBA_ARRAY), bare),
    )
    value = ratio(fl, nb)
    if fl.error is not None and nb.ok:
        status = "FAIL (frostline warm start failed, see Errors)"
    elif value is None:
        status = "N/A"
    else:
        status = "PASS" if value < STARTUP_BEYOND_BARE_MAX else "FAIL"
    measured = fmt_ratio(value)
    if value is not None:
        measured += f" ({cell(fl)} vs {cell(nb)} beyond bare)"
    targets = [
        Target(
            "Warm start beyond the bare interpreter, frostline/numba (array kernel)",
            f"< {STARTUP_BEYOND_BARE_MAX:.2f}×",
            measured,
            status,
        )
    ]
    unpickle = by_key.get(UNPICKLE)
    if unpickle is not None:
        best = unpickle.phase(UNPICKLE_PHASE, min)
        targets.append(
            Target(
                "Unpickle an Executable + first call, in process, imports excluded (soft)",
                f"≤ {fmt_time(UNPICKLE_CALL_SOFT_MAX)}",
                cell(best) if best.ok else "—",
                "FAIL (unpickling failed, see Errors)"
                if best.error
                else _status(best.seconds, UNPICKLE_CALL_SOFT_MAX),
            )
        )
    return targets


def batch_targets(rows: list[BatchRow]) -> list[Target]:
    """``f.run`` against a Python loop of dispatcher calls: worst kernel."""
    if not rows:
        return []
    ratios = {r.case.name: ratio(r.cells.get("run"), r.cells.get("loop")) for r in rows}
    have = {k: v for k, v in ratios.items() if v is not None}
    failed = [r.case.name for r in rows if r.cells["run"].error]
    worst = max(have.items(), key=lambda kv: kv[1]) if have else None
    return [
        Target(
            f"`f.run` over {BATCH_N:,} calls / Python loop of `f(...)`, worst kernel",
            f"≤ {BATCH_LOOP_MAX:.2f}×",
            f"{fmt_small_ratio(worst[1])} ({worst[0]})" if worst else "—",
            _status(
                worst[1] if worst else None,
                BATCH_LOOP_MAX,
                f"f.run failed on {', '.join(failed)}" if failed else None,
            ),
        )
    ]


def bound_targets(rows: list[BoundRow]) -> list[Target]:
    """A bound call against the plain call of the same executable, per case."""
    targets = []
    for r in rows:
        value = ratio(r.cells.get("bound"), r.cells.get("plain"))
        failed = r.cells["bound"].error or r.cells["plain"].error
        targets.append(
            Target(
                f"Bound call `bound()` / `{r.case.plain_call}`, {r.case.label}",
                f"< {BOUND_PLAIN_MAX:.2f}×",
                fmt_ratio(value),
                "FAIL (see Errors)"
                if failed
                else "N/A"
                if value is None
                else "PASS"
                if value < BOUND_PLAIN_MAX
                else "FAIL",
            )
        )
    return targets


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
    return [(w, m) for w, m in found if m]


def has_errors(results: Results) -> bool:
    """True if any implementation failed or gave a wrong result."""
    return bool(_errors(results)) or any(r.python_check for r in results.runtime)
