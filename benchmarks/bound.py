"""Bound calls: ``bound = exe.bind(*args); bound()`` against ``exe(*args)``, per call.

Two kernels: ``time_step(u, v, out, dt, c)`` on three 16-element arrays and two
floats, the call a simulation loop makes once per step, where a plain call
spends most of its time taking the arrays through the buffer protocol; and
``add3`` on three floats, where there is little to convert.  Each is timed as
the plain call, the bound call, and ``exe.bind(*args, context=key)()`` (binding
again every time through a context, then calling), with ``timeit`` statements
whose names are locals; the samples of the statements are interleaved and the
minimum per statement is reported.  Lower is better; the target is bound/plain
< 1.
"""

from __future__ import annotations

import timeit
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends import Backend
from .harness import Outcome, Runner, WrongResult, best_of, describe_error, log, mismatch
from .kernels import add3, time_step
from .suites import Config, missing_cell

STEP_SIZE = 16
"""Elements of each ``time_step`` array."""
OPTIONS = {"fastmath": False, "boundscheck": False}
BOUND_IMPLS = ("plain", "bound", "rebind", "empty")
"""Cells of a row: the plain call, the bound call, bind-with-context-and-call, timeit's loop."""


@dataclass(frozen=True)
class BoundCase:
    """A kernel, how it is called plainly and rebound, and what makes its timing locals."""

    key: str
    label: str
    plain_call: str
    rebind_call: str
    make: Callable[[Backend], dict[str, Any]]
    """The locals of the statements (``exe``, ``bound``, arguments), both calls checked."""


@dataclass
class BoundRow:
    """Seconds per call of one case, per statement (keys of ``BOUND_IMPLS``)."""

    case: BoundCase
    cells: dict[str, Outcome]


def _time_step_locals(fl: Backend) -> dict[str, Any]:
    exe = fl.compile(time_step, "float64[::1], float64[::1], float64[::1], float64, float64",
                     OPTIONS)
    rng = np.random.default_rng(0)
    u, v, out = rng.standard_normal(STEP_SIZE), rng.standard_normal(STEP_SIZE), np.zeros(STEP_SIZE)
    bound = exe.bind(u, v, out, 0.01, 2.0)
    for name, call in (("plain", lambda: exe(u, v, out, 0.01, 2.0)), ("bound", bound)):
        out[:] = 0.0
        returned = call()
        bad = mismatch(out, u + 0.01 * 2.0 * v)
        if returned is not None or bad:
            raise WrongResult(f"{name} call: {bad or f'returned {returned!r}'}")
    return {"exe": exe, "bound": bound, "u": u, "v": v, "out": out, "dt": 0.01, "c": 2.0}


def _scalars_locals(fl: Backend) -> dict[str, Any]:
    exe = fl.compile(add3, "float64, float64, float64", OPTIONS)
    bound = exe.bind(1.0, 2.0, 3.0)
    for name, got in (("plain", exe(1.0, 2.0, 3.0)), ("bound", bound())):
        if got != 6.0:
            raise WrongResult(f"{name} call: got {got!r}, expected 6.0")
    return {"exe": exe, "bound": bound}


CASES = (
    BoundCase("time_step", "time step: three 16-element float64 arrays, two floats",
              "exe(u, v, out, dt, c)", "exe.bind(u, v, out, dt, c, context='step')()",
              _time_step_locals),
    BoundCase("scalars", "three floats (`add3`)", "exe(1.0, 2.0, 3.0)",
              "exe.bind(1.0, 2.0, 3.0, context='step')()", _scalars_locals),
)


def _runner(stmt: str, bindings: dict[str, Any]) -> Runner:
    """``run(number)``: ``stmt`` ``number`` times by ``timeit``, the bindings as locals."""
    setup = "; ".join(f"{name} = _bindings[{name!r}]" for name in bindings) or "pass"
    return timeit.Timer(stmt, setup=setup, globals={"_bindings": bindings}).timeit


def _measure(case: BoundCase, fl: Backend, cfg: Config) -> dict[str, Outcome]:
    bindings = case.make(fl)
    statements = {"plain": case.plain_call, "bound": "bound()", "rebind": case.rebind_call,
                  "empty": "pass"}
    runners = {name: _runner(stmt, bindings) for name, stmt in statements.items()}
    times = best_of(runners, repeat=cfg.overhead_repeat, min_sample=cfg.min_sample)
    return {name: Outcome(error=f"while timing: {describe_error(seconds)}")
            if isinstance(seconds, Exception) else Outcome(seconds=seconds)
            for name, seconds in times.items()}


def bound_suite(backends: dict[str, Backend], cfg: Config) -> list[BoundRow]:
    """Check, then time, the plain, bound and rebound calls of every case."""
    fl = backends["frostline"]
    rows = []
    for case in CASES:
        log(f"[bound] {case.label}")
        if not fl.available:
            rows.append(BoundRow(case, dict.fromkeys(BOUND_IMPLS, missing_cell(fl))))
            continue
        try:
            cells = _measure(case, fl, cfg)
        except Exception as exc:
            log(f"  !! bound {case.key}: {describe_error(exc)}")
            log("".join(traceback.format_exception(exc)).rstrip())
            cells = dict.fromkeys(BOUND_IMPLS, Outcome(error=describe_error(exc)))
        rows.append(BoundRow(case, cells))
    return rows
