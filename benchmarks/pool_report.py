"""The pool suite's part of the report: its targets, its section and its errors."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from .formatting import _escape, cell, fmt_ratio, fmt_time, table
from .harness import Outcome
from .pool import (
    EXTRA_MAX,
    FIRST_PING_MAX,
    IDLE_TIMEOUT,
    READY_RSS_MAX,
    START_KERNEL,
    CompileRow,
    PoolResults,
    StartSample,
)
from .pool_build import BUILD_EFFICIENCY_MIN, BUILD_KERNELS, KINDS, BuildRun
from .pool_transfer import LABELS, METHODS, size_label
from .targets import Target


def _verdict(ok: bool | None, failed: bool = False) -> str:
    if failed:
        return "FAIL (see Errors)"
    return "N/A" if ok is None else ("PASS" if ok else "FAIL")


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _start_stat(results: PoolResults, pick: Callable[[StartSample], float]
                ) -> float | None:
    return _median([pick(s) for s in results.start])


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} MiB"


def _secs(value: float | None) -> str:
    return "—" if value is None else fmt_time(value)


def _extra(value: float | None) -> str:
    return "—" if value is None else f"{value * 1e3:+.2f} ms"


def _extras(results: PoolResults, key: str) -> list[float]:
    return [v for r in results.compile if (v := r.extra(key)) is not None]


def _speedup(results: PoolResults) -> tuple[BuildRun | None, BuildRun | None, float | None]:
    build = results.build
    if build is None:
        return None, None, None
    one, many = build.run(1), build.run(results.workers)
    if one is None or many is None or one is many or not one.seconds or not many.seconds:
        return one, many, None
    return one, many, statistics.median(one.seconds) / statistics.median(many.seconds)


def pool_targets(results: PoolResults | None) -> list[Target]:
    """The pool section's lines of the report's table of targets."""
    if results is None:
        return []
    out: list[Target] = []
    runs = len(results.start)
    ping = _start_stat(results, lambda s: s.ping)
    ready = _start_stat(results, lambda s: s.ready)
    out.append(Target(f"Pool: worker spawn to first `ping` answer (median of {runs} fresh "
                      "pools)", f"≤ {FIRST_PING_MAX * 1e3:g} ms",
                      f"{_secs(ping)} (compiler imported: {_secs(ready)})",
                      _verdict(None if ping is None else ping <= FIRST_PING_MAX,
                               bool(results.start_error))))
    rss = _start_stat(results, lambda s: s.rss_ready)
    after = _start_stat(results, lambda s: s.rss_compiled)
    out.append(Target("Pool: worker RSS with the compiler imported (median)",
                      f"≤ {READY_RSS_MAX:g} MiB",
                      f"{_mib(rss)} (after compiling `{START_KERNEL}`: {_mib(after)})",
                      _verdict(None if rss is None else rss <= READY_RSS_MAX,
                               bool(results.start_error))))
    failed = any(r.error for r in results.compile) or not results.compile
    for key, what in (("known", "function already known"), ("first", "function new to it")):
        extras = _extras(results, key)
        value = _median(extras)
        out.append(Target(f"Pool: compile in a warm worker beyond in process, {what} "
                          f"(median of {len(extras)} kernels)", f"≤ {EXTRA_MAX * 1e3:g} ms",
                          _extra(value), _verdict(None if value is None else value <= EXTRA_MAX,
                                                  failed)))
    one, many, speedup = _speedup(results)
    p = results.workers
    if p > 1:
        scaling = results.build.cpu_scaling if results.build else None
        measured = fmt_ratio(speedup) + ("" if scaling is None else
                                         f" (machine's CPU scaling: {fmt_ratio(scaling)})")
        goal = BUILD_EFFICIENCY_MIN * p
        out.append(Target(f"Pool: `frostline build` of {BUILD_KERNELS} kernels, {p} workers "
                          "over 1", f"≥ {goal:.2g}× ({BUILD_EFFICIENCY_MIN:g} × {p})", measured,
                          _verdict(None if speedup is None else speedup >= goal,
                                   bool((one and one.error) or (many and many.error)))))
    idle = results.idle
    if idle is not None:
        gone = idle.exit_after is not None and idle.rss_idle == 0
        measured = (f"{_mib(idle.rss_idle)} (was {_mib(idle.rss_busy)} for {idle.live} "
                    f"workers; exited {_secs(idle.exit_after)} after the last result)")
        out.append(Target(f"Pool: RSS of the idle pool's workers after `idle_timeout="
                          f"{IDLE_TIMEOUT:g}`", "0 MiB (workers exited)", measured,
                          _verdict(None if idle.rss_idle is None else gone, bool(idle.error))))
    return out


def pool_errors(results: PoolResults | None) -> list[tuple[str, str]]:
    """(where, message) of every failed measurement."""
    if results is None:
        return []
    found = list(results.errors)
    if results.start_error:
        found.append(("pool / start-up", results.start_error))
    found += [(f"pool / compile / {r.name}", r.error) for r in results.compile if r.error]
    if results.build is not None:
        found += [(f"pool / build / {r.workers} workers", r.error)
                  for r in results.build.runs if r.error]
    if results.idle is not None and results.idle.error:
        found.append(("pool / idle", results.idle.error))
    for row in results.transfers:
        found += [(f"pool / transfer / {size_label(row.size)} / {m}", o.error)
                  for m, o in row.cells.items() if o.error]
    return [(w, m) for w, m in dict.fromkeys(found) if m]


def _start_table(results: PoolResults) -> list[str]:
    rows = []
    for label, pick, show, goal in (
        ("first `ping` answered", lambda s: s.ping, _secs, f"≤ {FIRST_PING_MAX * 1e3:g} ms"),
        ('`ping {"wait": true}` answered (compiler imported)', lambda s: s.ready, _secs, "—"),
        (f"then its first compile (`{START_KERNEL}`, `pool.object_code`)",
         lambda s: s.first_compile, _secs, "—"),
        ("worker RSS, compiler imported", lambda s: s.rss_ready, _mib,
         f"≤ {READY_RSS_MAX:g} MiB"),
        ("worker RSS after that compile", lambda s: s.rss_compiled, _mib, "—"),
    ):
        values = [pick(s) for s in results.start]
        rows.append([label, show(_median(values)), show(min(values, default=None)),
                     show(max(values, default=None)), goal])
    return table(["Measurement", "median", "min", "max", "Goal"], rows)


def _compile_table(rows: list[CompileRow]) -> list[str]:
    body = []
    for r in rows:
        if r.error:
            body.append([f"`{r.name}`", cell(Outcome(error=r.error))] + ["—"] * 6)
            continue
        body.append([f"`{r.name}`", _secs(r.median("in process")), _secs(r.median("first")),
                     _secs(r.median("known")), _extra(r.extra("first")),
                     _extra(r.extra("known")), _secs(r.median("first transport")),
                     _secs(r.median("known transport"))])
    return table(["Kernel", "in process", "worker, new function", "worker, known function",
                  "extra, new", "extra, known", "transport, new", "transport, known"], body)


def _build_lines(results: PoolResults) -> list[str]:
    build = results.build
    if build is None:
        return []
    one, _, speedup = _speedup(results)
    base = _median(one.seconds) if one is not None else None
    body = []
    for run in build.runs:
        if run.error:
            body.append([str(run.workers), cell(Outcome(error=run.error)), "—", "—", "—"])
            continue
        wall = _median(run.seconds)
        body.append([str(run.workers), _secs(wall), _secs(min(run.seconds, default=None)),
                     _secs(_median(run.compile_seconds)),
                     fmt_ratio(None if wall is None or base is None else base / wall)])
    lines = table(["Workers", "wall, median", "wall, min", "worker compile time (sum)",
                   "speed-up over 1"], body)
    if build.cpu_scaling is not None:
        lines += ["", f"For scale: {results.workers} CPU-bound Python processes started "
                  f"together finish {fmt_ratio(build.cpu_scaling)} as fast as one after "
                  f"another would (ideal {results.workers}×): this machine's own ceiling "
                  f"for the build's speed-up ({fmt_ratio(speedup)} measured)."]
    return lines


def _idle_lines(results: PoolResults) -> list[str]:
    idle = results.idle
    if idle is None:
        return []
    if idle.error:
        return [f"**ERROR: {_escape(idle.error)}**"]
    return table(["Measurement", "value"], [
        ["worker processes running after the compiles", f"{idle.live} of {idle.workers}"],
        ["their total RSS", _mib(idle.rss_busy)],
        ["`pool.live_workers() == 0` after the last result", _secs(idle.detached_after)],
        ["every worker process exited after the last result", _secs(idle.exit_after)],
        ["their total RSS then", _mib(idle.rss_idle)],
    ])


def _transfer_table(results: PoolResults) -> list[str]:
    body = []
    for row in results.transfers:
        cells = [row.cells.get(m) for m in METHODS]
        times = {m: o.seconds for m, o in zip(METHODS, cells, strict=True)
                 if o is not None and o.ok and o.seconds is not None}
        best = min(times, key=times.__getitem__) if times else None
        body.append([size_label(row.size)]
                    + [f"{o.seconds * 1e6:,.1f} µs" if o is not None and o.ok and o.seconds
                       else cell(o) for o in cells]
                    + [best or "—"])
    return table(["Size"] + [LABELS[m] for m in METHODS] + ["fastest"], body)


def pool_section(results: PoolResults) -> list[str]:
    p = results.workers
    lines = ["## Compiler pool", "",
             "frostline's compiler worker processes (`CompilerPool`, "
             "`frostline.toolchain.service`). No compile is answered from a cache: worker "
             "compiles are `pool.object_code(closure)` (no cache), the build runs with "
             "`cache=None`, every dispatcher is a fresh `fl.jit(cache=False)` clone under "
             "a new name (a new fingerprint), and the workers inherit `FROSTLINE_CACHE=0`. "
             "MiB are VmRSS from `/proc/PID/status` / 1024. frostline's modules "
             + ("have compiled bytecode (as `pip install` leaves them)." if results.bytecode
                else "have no compiled bytecode (`PYTHONDONTWRITEBYTECODE`?): every worker "
                "compiles their source as it starts, which costs time and memory; "
                "`python -m compileall frostline` first for an installed package's "
                "figures."), "",
             f"**Worker start**: a fresh `CompilerPool(workers=1)` per sample "
             f"({len(results.start)} samples); times from the first `pool.submit(\"ping\")` "
             "(the worker starts on it).", ""]
    if results.start_error:
        lines += [f"**ERROR: {_escape(results.start_error)}**", ""]
    if results.start:
        lines += _start_table(results) + [""]
    rounds = len(results.compile[0].samples.get("in process", [])) if results.compile else 0
    lines += ["**Compile in a warm worker against in process**: one worker that has "
              "imported the compiler and compiled twice; per kernel of the run-time suite "
              f"and per round ({rounds} rounds), `pool.object_code(closure)` (spelt out as "
              "`read_result(submit_closure(closure).result())`) of a function "
              "the worker has never seen (the request, its `needinclude` round trip with "
              "the pickled function, the compile, the result file read back), the same "
              "closure again (the worker knows the function), and "
              "`default_toolchain().object_code(closure)` in this process on another fresh "
              "clone; the in-process compile goes first on even rounds, last on odd ones. "
              "Medians; *extra* is the median over the rounds of worker minus in process "
              f"(goal ≤ {EXTRA_MAX * 1e3:g} ms); *transport* is the worker's time less "
              "the compile time the worker reports (`result[\"seconds\"]`): what the "
              "pool adds around the compile.", ""]
    lines += _compile_table(results.compile)
    known, first = _median(_extras(results, "known")), _median(_extras(results, "first"))
    transport = {k: _median([v for r in results.compile if (v := r.median(f"{k} transport"))
                             is not None]) for k in ("known", "first")}
    lines += ["", f"Median over the kernels of the extra time: known function "
              f"{_extra(known)}, new function {_extra(first)}; of the transport: known "
              f"{_secs(transport['known'])}, new {_secs(transport['first'])}.", ""]
    if results.build is not None:
        lines += [f"**`frostline build`**: `build(pairs, P, cache=None)` "
                  "(`frostline.toolchain.service.build`) of one generated module of "
                  f"{BUILD_KERNELS} distinct loop kernels ({KINDS}; each copy with its own "
                  "constants, one declared signature each), imported anew with "
                  "`import_target` for every build; wall time end to end, the pool's start "
                  f"included, P = 1 and P = {p} (`fl.parallel.available_cpus()`, at most "
                  f"16) interleaved, {len(results.build.runs[0].seconds)} builds each. Goal: "
                  f"speed-up ≥ {BUILD_EFFICIENCY_MIN:g} × P. *Worker compile time* is the "
                  "sum of the workers' own compile times (`Kernel.seconds`).", ""]
        lines += _build_lines(results) + [""]
    if results.idle is not None:
        lines += [f"**Idle pool**: `CompilerPool(workers={results.idle.workers}, "
                  f"idle_timeout={IDLE_TIMEOUT:g})` given {2 * results.idle.workers} "
                  "compiles at once; the total RSS of its worker processes after the last "
                  "result, then once every worker has exited (polled every 10 ms). Goal: "
                  "0 MiB after the idle timeout.", ""]
        lines += _idle_lines(results) + [""]
    if results.transfers:
        lines += ["**Binary results, file against side frame against base64**: a child "
                  "interpreter (standard library only) answers one request per transfer "
                  "with N random bytes: written to a file in a temporary directory, the path "
                  "in the JSON response (the parent reads and removes it), or the bytes on "
                  "the pipe right after the JSON (`{\"length\": N}`; on the default 64 KiB "
                  "pipe, and on a second child's pipe enlarged to 1 MiB with "
                  "`fcntl(F_SETPIPE_SZ)`), or base64 inside the JSON (the parent decodes "
                  "it); messages framed as the pool frames them "
                  "(`Content-Length`). Median µs per transfer, from writing the request to "
                  "holding the bytes, methods interleaved, after one untimed transfer each. "
                  "No goal.", ""]
        lines += _transfer_table(results)
    if results.notes:
        lines += [""] + [f"- **Note:** {_escape(n)}" for n in results.notes]
    return lines
