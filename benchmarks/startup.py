"""Start-up suite: whole-process wall time of fresh interpreters that run one small kernel.

This is what a user waits for each time a script with an already-compiled
kernel starts: the interpreter, the imports, loading cached machine code and
the first call.  Every variant is a child process,
``subprocess.run([sys.executable, ...])``, timed from this process; the
variants' runs are interleaved (round-robin) so that machine drift favours
none of them.  Each child prints its kernel's result, checked against the
plain-Python kernel, and counters that show whether it really started warm
(frostline generated no code, numba's cache hit).
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backends import Backend
from .harness import Outcome, WrongResult, describe_error, log, mismatch
from .kernels import mul_add_one, sum_squares
from .suites import Config, missing_cell

REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 120.0
"""Seconds before a child process counts as hung."""

BARE = "bare"
FROSTLINE_ARRAY = "frostline_array"
NUMBA_ARRAY = "numba_array"
FROSTLINE_SCALAR = "frostline_scalar"
NUMBA_SCALAR = "numba_scalar"
UNPICKLE = "unpickle"
PAIRS = ((FROSTLINE_ARRAY, NUMBA_ARRAY), (FROSTLINE_SCALAR, NUMBA_SCALAR))
"""(frostline key, numba key) of the rows compared with each other."""

IMPORT_PHASE = "import frostline and the Executable's loader"
UNPICKLE_PHASE = "unpickle + first call (imports excluded)"
TOTAL_PHASE = "total: `pickle.load` + first call, imports included"

ARRAY_CALL = "sum_squares(np.arange(10.0))"
SCALAR_CALL = "mul_add_one(3.0, 4.0)"
ARRAY_SIGNATURE = "float64[::1]"

WarmCheck = Callable[[dict[str, Any]], str | None]
"""Why a timed run was not warm, from the counters its child printed (None: it was)."""


class ChildFailed(Exception):
    """A child process exited with an error, hung, or printed something unexpected."""


@dataclass(frozen=True)
class Variant:
    """How to run one kind of child process and what it prints.

    The child's output lines are, in this order and each only if asked for:
    the kernel's result (``expected``), a JSON object of counters
    (``warm_check``), a JSON object of in-process phase times in milliseconds
    (``phases``).
    """

    command: str
    """How the report describes the child."""
    args: tuple[str, ...]
    """Command-line arguments after ``sys.executable``."""
    expected: float | None = None
    warm_check: WarmCheck | None = None
    phases: bool = False


@dataclass
class StartupRow:
    """Results of one variant: whole-process and in-process times, or why there are none."""

    key: str
    label: str
    command: str = ""
    samples: list[float] = field(default_factory=list)
    """Whole-process seconds of the timed runs."""
    phases: dict[str, list[float]] = field(default_factory=dict)
    """In-process seconds of the timed runs, per phase."""
    error: str | None = None
    note: str | None = None

    @property
    def best(self) -> Outcome:
        """Minimum whole-process time."""
        return self._summary(self.samples, min)

    @property
    def median(self) -> Outcome:
        """Median whole-process time."""
        return self._summary(self.samples, statistics.median)

    def phase(self, name: str, statistic: Callable[[list[float]], float]) -> Outcome:
        """``statistic`` (``min``, ``statistics.median``) of an in-process phase."""
        return self._summary(self.phases.get(name, []), statistic)

    def _summary(self, values: list[float], statistic: Callable[[list[float]], float]) -> Outcome:
        if self.error is not None:
            return Outcome(error=self.error)
        if not values:
            return Outcome(note=self.note or "—")
        return Outcome(seconds=statistic(values))


@dataclass(frozen=True)
class ChildRun:
    """What one child process took and reported."""

    seconds: float
    phases: dict[str, float]
    not_warm: str | None


def frostline_not_warm(counters: dict[str, Any]) -> str | None:
    """Why ``fl.stats()`` shows a run that generated code (None if it generated none)."""
    compiled = counters.get("compiled")
    if compiled is None:
        return "fl.stats() has no 'compiled' counter: cannot tell whether the run was warm"
    if compiled:
        return (
            f"not warm: fl.stats()['compiled'] == {compiled} in a timed run "
            f"(disk_hits == {counters.get('disk_hits', 'n/a')}): code was generated"
        )
    return None


def numba_not_warm(counters: dict[str, Any]) -> str | None:
    """Why numba's dispatcher statistics show a run that compiled (None if it loaded from cache)."""
    misses = counters.get("cache_misses", 0)
    if misses:
        return f"not warm: numba's cache missed {misses} time(s) in a timed run"
    if not counters.get("cache_hits"):
        return "not warm: numba's cache reported no hit in a timed run"
    return None


# --------------------------------------------------------------------------
# Child scripts
# --------------------------------------------------------------------------

_NUMBA_COUNTERS = (
    "print(json.dumps({{'cache_hits': sum({name}.stats.cache_hits.values()), "
    "'cache_misses': sum({name}.stats.cache_misses.values())}}))"
)

_UNPICKLE_SCRIPT = """\
import json
import pickle
import time

import numpy as np

t0 = time.perf_counter()
import frostline  # pickle.load would import both: the Executable's reducer lives there
import {loader}
t1 = time.perf_counter()
with open({path!r}, "rb") as f:
    exe = pickle.load(f)
result = exe(np.arange(10.0))
t2 = time.perf_counter()
print(result)
print(json.dumps(frostline.stats()))
phases = {{
    {imports!r}: (t1 - t0) * 1e3,
    {load!r}: (t2 - t1) * 1e3,
    {total!r}: (t2 - t0) * 1e3,
}}
print(json.dumps(phases))
"""


def jit_script(compiler: str, kernel: Callable[..., Any], call: str, *, numpy: bool) -> str:
    """Source of a child that defines ``kernel`` under ``compiler``'s cached JIT and calls it.

    ``compiler`` is ``"frostline"`` (``@fl.jit``, prints ``fl.stats()``) or
    ``"numba"`` (``@numba.njit(cache=True)``, prints its cache hits and misses).
    """
    lines = ["import json"]
    if numpy:
        lines.append("import numpy as np")
    if compiler == "frostline":
        lines += ["import frostline as fl", "", "", "@fl.jit"]
        counters = "print(json.dumps(fl.stats()))"
    else:
        lines += ["import numba", "", "", "@numba.njit(cache=True)"]
        counters = _NUMBA_COUNTERS.format(name=kernel.__name__)
    lines += [inspect.getsource(kernel).rstrip(), "", "", f"print({call})", counters]
    return "\n".join(lines) + "\n"


def unpickle_script(pickle_path: Path, loader: str) -> str:
    """Source of a child that unpickles an ``Executable`` and calls it, timing the phases."""
    return _UNPICKLE_SCRIPT.format(
        loader=loader,
        path=str(pickle_path),
        imports=IMPORT_PHASE,
        load=UNPICKLE_PHASE,
        total=TOTAL_PHASE,
    )


def pickle_executable(fl: Any, path: Path) -> str:
    """Compile ``sum_squares`` in this process, pickle the ``Executable`` to ``path``.

    Returns the module of the function pickle calls to rebuild it (the loader),
    which the child imports before its timed unpickling.
    """
    exe = fl.jit(sum_squares).compile(ARRAY_SIGNATURE)
    with path.open("wb") as f:
        pickle.dump(exe, f)
    rebuild = exe.__reduce__()[0]
    return str(rebuild.__module__)


# --------------------------------------------------------------------------
# The variants
# --------------------------------------------------------------------------


def inline_variant(code: str) -> Variant:
    """``python -c code``: no kernel, nothing printed."""
    return Variant(f"`python -c {code!r}`", ("-c", code))


def jit_variant(
    workdir: Path,
    compiler: str,
    kernel: Callable[..., Any],
    call: str,
    expected: float,
    *,
    numpy: bool,
) -> Variant:
    """A child script in ``workdir`` that JIT-compiles (or loads) ``kernel`` and calls it."""
    path = workdir / f"{compiler}_{kernel.__name__}.py"
    path.write_text(jit_script(compiler, kernel, call, numpy=numpy), encoding="utf-8")
    decorator = "@fl.jit" if compiler == "frostline" else "@numba.njit(cache=True)"
    imports = "numpy + " if numpy else "no numpy import, "
    return Variant(
        f"{imports}`{decorator}`, `{call}`",
        (str(path),),
        expected,
        frostline_not_warm if compiler == "frostline" else numba_not_warm,
    )


def unpickle_variant(workdir: Path, fl: Any, expected: float) -> Variant:
    """A child script that unpickles an ``Executable`` compiled here, without its source."""
    pickle_path = workdir / "executable.pkl"
    loader = pickle_executable(fl, pickle_path)
    path = workdir / "unpickle.py"
    path.write_text(unpickle_script(pickle_path, loader), encoding="utf-8")
    return Variant(
        "numpy, `pickle.load` of a `sum_squares` Executable, `exe(np.arange(10.0))`",
        (str(path),),
        expected,
        frostline_not_warm,
        phases=True,
    )


def _variants(
    workdir: Path, backends: dict[str, Backend]
) -> list[tuple[Variant | None, StartupRow]]:
    """Every variant with its empty row; a variant that cannot run is None, its row says why."""
    fl, nb = backends["frostline"], backends["numba"]
    array = float(sum_squares(np.arange(10.0)))
    scalar = float(mul_add_one(3.0, 4.0))
    planned: list[tuple[str, str, Backend | None, Callable[[], Variant]]] = [
        (BARE, "bare interpreter", None, lambda: inline_variant("pass")),
        ("numpy", "import numpy", None, lambda: inline_variant("import numpy")),
        ("import_frostline", "import frostline", fl, lambda: inline_variant("import frostline")),
        ("import_numba", "import numba", nb, lambda: inline_variant("import numba")),
        (
            FROSTLINE_ARRAY,
            "frostline warm (array)",
            fl,
            lambda: jit_variant(workdir, "frostline", sum_squares, ARRAY_CALL, array, numpy=True),
        ),
        (
            NUMBA_ARRAY,
            "numba warm (array)",
            nb,
            lambda: jit_variant(workdir, "numba", sum_squares, ARRAY_CALL, array, numpy=True),
        ),
        (
            FROSTLINE_SCALAR,
            "frostline warm (scalar)",
            fl,
            lambda: jit_variant(
                workdir, "frostline", mul_add_one, SCALAR_CALL, scalar, numpy=False
            ),
        ),
        (
            NUMBA_SCALAR,
            "numba warm (scalar)",
            nb,
            lambda: jit_variant(workdir, "numba", mul_add_one, SCALAR_CALL, scalar, numpy=False),
        ),
        (UNPICKLE, "unpickle + run", fl, lambda: unpickle_variant(workdir, fl.module, array)),
    ]
    built: list[tuple[Variant | None, StartupRow]] = []
    for key, label, backend, make in planned:
        row = StartupRow(key, label)
        variant = None
        if backend is not None and not backend.available:
            missing = missing_cell(backend)
            row.error, row.note = missing.error, missing.note
        else:
            try:
                variant = make()
                row.command = variant.command
            except Exception as exc:  # e.g. frostline cannot compile the kernel to pickle
                log(f"  !! startup {label}: {describe_error(exc)}")
                row.error = f"preparing the child: {describe_error(exc)}"
        built.append((variant, row))
    return built


# --------------------------------------------------------------------------
# Running and timing
# --------------------------------------------------------------------------


def child_environment(workdir: Path) -> dict[str, str]:
    """This process's environment, with this repository on the path and fresh, enabled caches."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["FROSTLINE_CACHE"] = "1"  # backends.py switched it off for this process only
    # Installed packages start from bytecode; with PYTHONDONTWRITEBYTECODE set, the
    # repository's frostline would be compiled from source in every child. A private
    # bytecode tree, filled by the untimed warm-up runs, puts every package on the same
    # footing.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "bytecode")
    for var, name in (
        ("FROSTLINE_CACHE_DIR", "frostline-cache"),
        ("NUMBA_CACHE_DIR", "numba-cache"),
    ):
        directory = workdir / name
        directory.mkdir()
        env[var] = str(directory)
    return env


def read_output(
    variant: Variant, stdout: str, *, timed: bool
) -> tuple[dict[str, float], str | None]:
    """Check what a child printed (see ``Variant``): its in-process phases and why not warm.

    Raises ``WrongResult`` for a wrong kernel result, ``ChildFailed`` for unreadable output.
    """
    lines = iter(stdout.splitlines())
    not_warm = None
    phases: dict[str, float] = {}
    try:
        if variant.expected is not None:
            bad = mismatch(float(next(lines)), variant.expected)
            if bad:
                raise WrongResult(bad)
        if variant.warm_check is not None:
            counters = json.loads(next(lines))
            not_warm = variant.warm_check(counters) if timed else None
        if variant.phases:
            phases = {name: ms * 1e-3 for name, ms in json.loads(next(lines)).items()}
    except StopIteration:
        raise ChildFailed(f"output ended early: {stdout!r}") from None
    except ValueError as exc:  # float() or json.loads() of an unexpected line
        raise ChildFailed(f"unexpected output ({exc}): {stdout!r}") from None
    return phases, not_warm


def run_child(variant: Variant, env: dict[str, str], cwd: Path, *, timed: bool) -> ChildRun:
    """Run the child once; its whole-process wall time and what it reported.

    Raises ``ChildFailed`` or ``WrongResult`` if it failed or printed a wrong result.
    """
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *variant.args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        log(proc.stderr.rstrip())
        last = (proc.stderr.strip().splitlines() or ["no output on stderr"])[-1]
        raise ChildFailed(f"exit status {proc.returncode}: {last}")
    phases, not_warm = read_output(variant, proc.stdout, timed=timed)
    return ChildRun(seconds, phases, not_warm)


def _attempt(
    variant: Variant, row: StartupRow, env: dict[str, str], cwd: Path, *, timed: bool
) -> bool:
    """Run ``variant`` once and record it in ``row``; False if it failed and must not run again.

    A timed run that was not warm is recorded as the row's error but timing
    goes on, so that the report can still say how long the cold path took.
    """
    try:
        run = run_child(variant, env, cwd, timed=timed)
    except Exception as exc:
        log(f"  !! startup {row.label}: {describe_error(exc)}")
        row.error = describe_error(exc)
        return False
    if not timed:
        return True
    row.samples.append(run.seconds)
    for name, seconds in run.phases.items():
        row.phases.setdefault(name, []).append(seconds)
    if run.not_warm and row.error is None:
        log(f"  !! startup {row.label}: {run.not_warm}")
        row.error = run.not_warm
    return True


def startup_suite(backends: dict[str, Backend], cfg: Config) -> list[StartupRow]:
    """Time every variant's child process: one untimed run each, then ``cfg.startup_runs`` rounds.

    The untimed run fills the caches (fresh directories in a temporary
    directory, removed at the end) and checks the result like every other run.
    """
    workdir = Path(tempfile.mkdtemp(prefix="frostline-startup-"))
    try:
        env = child_environment(workdir)
        log("[startup] preparing the child scripts")
        variants = _variants(workdir, backends)
        live = [(v, row) for v, row in variants if v is not None]
        log(f"[startup] untimed first run of {len(live)} variants (fills the caches)")
        live = [(v, row) for v, row in live if _attempt(v, row, env, workdir, timed=False)]
        for round_ in range(cfg.startup_runs):
            log(f"[startup] round {round_ + 1}/{cfg.startup_runs}")
            live = [(v, row) for v, row in live if _attempt(v, row, env, workdir, timed=True)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [row for _, row in variants]
    for row in rows:
        if row.error is not None and row.samples:
            row.error += (
                f" ({len(row.samples)} timed runs completed: "
                f"min {min(row.samples) * 1e3:.1f} ms, "
                f"median {statistics.median(row.samples) * 1e3:.1f} ms)"
            )
    return rows
