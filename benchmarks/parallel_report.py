"""The parallel suite's part of the report: its targets, its section and its errors."""

from __future__ import annotations

from .formatting import _escape, cell, fmt_ratio, ratio, table
from .harness import Outcome, geomean
from .parallel import (
    COMPILE_GEOMEAN_MAX,
    COMPUTE,
    LAUNCH_MAX,
    MANDELBROT_SPEEDUP_MIN,
    ONE_THREAD_MAX,
    ParallelResults,
    ParallelRow,
)
from .targets import Target


def _row(results: ParallelResults, name: str) -> ParallelRow | None:
    return next((r for r in results.rows if r.kernel.name == name), None)


def _speedups(row: ParallelRow) -> tuple[float | None, float | None]:
    serial = row.cells.get("serial")
    return ratio(serial, row.cells.get("frostline")), ratio(serial, row.cells.get("numba"))


def _us(o: Outcome | None) -> str:
    """A per-call time in microseconds (the launch goal's unit), or the cell's text."""
    if o is not None and o.ok and o.seconds is not None:
        return f"{o.seconds * 1e6:.2f} µs"
    return cell(o)


def _verdict(ok: bool | None) -> str:
    return "N/A" if ok is None else ("PASS" if ok else "FAIL")


def parallel_targets(results: ParallelResults | None) -> list[Target]:
    """The parallel section's lines of the report's table of targets."""
    if results is None or not results.rows:
        return []
    out: list[Target] = []
    threads = results.threads
    row = _row(results, "mandelbrot")
    if row is not None:
        mine, _ = _speedups(row)
        ok = None if mine is None or not threads or threads < 2 else \
            mine >= MANDELBROT_SPEEDUP_MIN
        out.append(Target(f"Parallel: Mandelbrot speed-up over serial ({threads or '?'} threads)",
                          f"≥ {MANDELBROT_SPEEDUP_MIN}× on 2 cores", fmt_ratio(mine),
                          _verdict(ok)))
    for name in ("laplacian", "axpy"):
        row = _row(results, name)
        if row is not None:
            mine, theirs = _speedups(row)
            ok = None if mine is None or theirs is None else mine >= theirs
            out.append(Target(f"Parallel: {name} speed-up over serial vs numba's", "≥ numba's",
                              f"{fmt_ratio(mine)} vs {fmt_ratio(theirs)}", _verdict(ok)))
    row = _row(results, "launch")
    if row is not None:
        o = row.cells.get("frostline")
        ok = None if o is None or not o.ok else o.seconds <= LAUNCH_MAX  # type: ignore
        verdict = "FAIL (ran inline, not on the pool)" if results.launch_inline and ok \
            else _verdict(ok)
        out.append(Target("Parallel: one empty launch", f"≤ {LAUNCH_MAX * 1e6:g} µs",
                          f"{_us(o)} (numba {_us(row.cells.get('numba'))})", verdict))
    ones = {r.kernel.name: ratio(r.cells.get("1 thread"), r.cells.get("serial"))
            for r in results.rows if r.kernel.name in COMPUTE}
    have = {k: v for k, v in ones.items() if v is not None}
    if have:
        name, worst = max(have.items(), key=lambda kv: kv[1])
        out.append(Target("Parallel: prange on 1 thread / serial", f"≤ {ONE_THREAD_MAX}×",
                          f"{fmt_ratio(worst)} (worst: {name})",
                          _verdict(worst <= ONE_THREAD_MAX)))
    else:
        out.append(Target("Parallel: prange on 1 thread / serial", f"≤ {ONE_THREAD_MAX}×",
                          "—", "N/A"))
    compiles = [ratio(r.compile.get("frostline"), r.compile.get("numba")) for r in results.rows]
    g = geomean(c for c in compiles if c is not None)
    out.append(Target("Parallel: compile time geomean vs numba parallel=True",
                      f"≤ {COMPILE_GEOMEAN_MAX}×", fmt_ratio(g),
                      _verdict(None if g is None else g <= COMPILE_GEOMEAN_MAX)))
    return out


def parallel_errors(results: ParallelResults | None) -> list[tuple[str, str]]:
    """(where, message) of every failed variant or compile."""
    if results is None:
        return []
    found = []
    for row in results.rows:
        for kind, cells in (("run time", row.cells), ("compile", row.compile)):
            found += [(f"parallel / {kind} / {row.kernel.name} / {name}", o.error)
                      for name, o in cells.items() if o.error]
    return list(dict.fromkeys(found))


def parallel_section(results: ParallelResults) -> list[str]:
    threads = results.threads or "?"
    lines = ["## Parallel loops", "",
             f"`prange` kernels on {threads} frostline threads (`fl.get_num_threads()`); "
             f"numba `njit(parallel=True)` with `numba.prange` on {results.numba_threads or '?'} "
             "(`numba.set_num_threads`). *serial* is frostline compiling the same source "
             "with `range`; speed-ups are serial's time over the parallel one's; *1 thread* "
             "is frostline's `prange` after `fl.set_num_threads(1)`, over serial (goal "
             f"≤ {ONE_THREAD_MAX}×). Times per call; the launch row includes the "
             "dispatcher's call (see its serial column).", ""]
    body = []
    for row in results.rows:
        c = row.cells
        mine, theirs = _speedups(row)
        parallel_row = row.kernel.name != "launch"
        body.append([f"`{row.kernel.name}`", row.kernel.what, cell(c.get("frostline")),
                     cell(c.get("serial")), cell(c.get("numba")),
                     fmt_ratio(mine) if parallel_row else "—",
                     fmt_ratio(theirs) if parallel_row else "—",
                     fmt_ratio(ratio(c.get("1 thread"), c.get("serial"))),
                     row.kernel.goal])
    lines += table(["Kernel", "What", "frostline prange", "frostline serial", "numba parallel",
                    "fl speed-up", "numba speed-up", "1 thread / serial", "Goal"], body)
    lines += ["", "Compile time of the parallel kernels (ahead of time from a signature, a "
              "fresh function each time, no cache, after one untimed parallel compile each):",
              ""]
    body = [[f"`{r.kernel.name}`", cell(r.compile.get("frostline")),
             cell(r.compile.get("numba")),
             fmt_ratio(ratio(r.compile.get("frostline"), r.compile.get("numba")))]
            for r in results.rows]
    lines += table(["Kernel", "frostline", "numba parallel=True", "frostline / numba"], body)
    launch_row = _row(results, "launch")
    if launch_row is not None:
        c = launch_row.cells
        lines += ["", f"One empty launch, per call: frostline {_us(c.get('frostline'))} (goal "
                  f"≤ {LAUNCH_MAX * 1e6:g} µs), numba {_us(c.get('numba'))}; a call without "
                  f"a launch (frostline serial) {_us(c.get('serial'))}."]
    if results.notes:
        lines += [""] + [f"- **Note:** {_escape(n)}" for n in results.notes]
    return lines
