"""frostline's targets, and each one's verdict from a run's measurements."""

from __future__ import annotations

from dataclasses import dataclass

from .bound import BoundRow
from .formatting import cell, fmt_ratio, fmt_small_ratio, fmt_time, ratio
from .harness import Outcome, geomean
from .modes import BATCH_N, BatchRow
from .startup import BARE, FROSTLINE_ARRAY, NUMBA_ARRAY, UNPICKLE, UNPICKLE_PHASE, StartupRow
from .suites import CompileRow, OverheadRow, RuntimeRow

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
