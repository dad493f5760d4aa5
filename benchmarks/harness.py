"""Timing, result checking and error capture."""

from __future__ import annotations

import math
import re
import sys
import time
import timeit
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kernels import Args, Kernel

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
RTOL = 1e-9
ATOL = 1e-12


@dataclass
class Outcome:
    """One cell of the report: a time in seconds, an error, or not applicable."""

    seconds: float | None = None
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True if a time was measured."""
        return self.seconds is not None and self.error is None


class WrongResult(Exception):
    """An implementation's result disagrees with the reference."""


def log(message: str) -> None:
    """Progress output on stderr (the report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def describe_error(exc: BaseException) -> str:
    """One-line description of ``exc`` for a report cell."""
    text = " ".join(_ANSI.sub("", str(exc)).split())
    if isinstance(exc, WrongResult):
        return f"WRONG RESULT: {text}"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def guarded(label: str, action: Callable[..., Outcome], *args: Any) -> Outcome:
    """Return ``action(*args)``; turn any exception into an error ``Outcome``.

    The traceback is logged on stderr; one failing implementation must not stop the run.
    """
    try:
        return action(*args)
    except Exception as exc:
        log(f"  !! {label}: {describe_error(exc)}")
        log("".join(traceback.format_exception(exc)).rstrip())
        return Outcome(error=describe_error(exc))


Runner = Callable[[int], object]
"""``run(number)`` performs ``number`` calls of one implementation."""


def calibrate(run: Runner, min_sample: float) -> int:
    """Calls per sample so that one sample of ``run`` takes at least ``min_sample`` seconds."""
    t0 = time.perf_counter()
    run(1)
    first = time.perf_counter() - t0
    return 1 if first >= min_sample else max(1, math.ceil(min_sample / max(first, 1e-7)))


def prepared(
    label: str, prepare: Callable[..., Runner], *args: Any
) -> tuple[Runner | None, Outcome]:
    """Return ``(prepare(*args), pending outcome)`` or ``(None, error outcome)``."""
    try:
        return prepare(*args), Outcome(note="pending")
    except Exception as exc:
        log(f"  !! {label}: {describe_error(exc)}")
        log("".join(traceback.format_exception(exc)).rstrip())
        return None, Outcome(error=describe_error(exc))


def best_of(
    runners: dict[str, Runner], *, repeat: int, min_sample: float
) -> dict[str, float | Exception]:
    """Best time per call, in seconds, of each runner (or the exception it raised).

    Each runner's ``number`` is calibrated so that one sample takes at least
    ``min_sample`` seconds.  Samples of the different runners are
    *interleaved* (round-robin, ``repeat`` rounds) so that slow drifts of the
    machine (frequency, other load) do not favour whichever runs first; the
    minimum per runner is returned (the most reproducible statistic on a noisy
    machine).  A runner that raises is dropped from later rounds.
    """
    result: dict[str, float | Exception] = {}
    numbers: dict[str, int] = {}
    for name, run in runners.items():
        try:
            numbers[name] = calibrate(run, min_sample)
            result[name] = math.inf
        except Exception as exc:
            result[name] = exc
    for _ in range(repeat):
        for name, number in numbers.items():
            best = result[name]
            if isinstance(best, Exception):
                continue
            try:
                t0 = time.perf_counter()
                runners[name](number)
                result[name] = min(best, (time.perf_counter() - t0) / number)
            except Exception as exc:
                result[name] = exc
    return result


def python_runner(fn: Callable[..., Any], args: Args) -> Callable[[int], None]:
    """``run(number)`` that calls ``fn(*args)`` ``number`` times."""

    def run(number: int) -> None:
        for _ in range(number):
            fn(*args)

    return run


def result_of(kernel: Kernel, args: Args, returned: Any) -> Any:
    """The kernel's result: the output argument or the returned value."""
    if kernel.output is None:
        return returned
    return np.array(args[kernel.output], copy=True)


def expected_result(kernel: Kernel, args: Args) -> Any:
    """Result of the NumPy reference on ``args`` (which are modified)."""
    return result_of(kernel, args, kernel.reference(*args))


def mismatch(got: Any, expected: Any) -> str | None:
    """None if ``got`` matches ``expected``, else a short description of the difference.

    Integer results must be identical; floating-point ones must satisfy
    ``np.allclose(got, expected, rtol=RTOL, atol=ATOL)``.
    """
    try:
        g = np.asarray(got)
        e = np.asarray(expected)
    except Exception as exc:
        return f"result not comparable ({describe_error(exc)})"
    if g.shape != e.shape:
        return f"shape {g.shape} != expected {e.shape}"
    if g.dtype.kind not in "biuf":
        return f"result has dtype {g.dtype}"
    if e.dtype.kind in "biu":
        bad = g != e
    else:
        bad = ~np.isclose(g, e, rtol=RTOL, atol=ATOL)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return None
    if g.ndim == 0:
        return f"got {g.item()!r}, expected {e.item()!r}"
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return (
        f"{count} of {g.size} elements differ, e.g. at {idx}: "
        f"got {g[idx].item()!r}, expected {e[idx].item()!r}"
    )


def ns_per_call(stmt: str, bindings: dict[str, Any], *, repeat: int, number: int | None) -> float:
    """Nanoseconds per execution of ``stmt`` (best of ``repeat``), timeit-style.

    The names in ``bindings`` are bound as *locals* of the timing function so
    that the lookup cost is that of a local variable.  ``number=None`` lets
    ``timeit`` choose it (each sample >= 0.2 s).
    """
    setup = "; ".join(f"{name} = _bindings[{name!r}]" for name in bindings) or "pass"
    timer = timeit.Timer(stmt, setup=setup, globals={"_bindings": bindings})
    if number is None:
        number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def geomean(values: Iterable[float]) -> float | None:
    """Geometric mean of positive ``values`` (None if there are none)."""
    vals = [v for v in values if v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))
