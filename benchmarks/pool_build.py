"""The pool suite's build measurement: ``frostline build`` of one generated module of
``BUILD_KERNELS`` distinct loop kernels on P workers against one, end to end (the
pool's start included), with ``cache=None`` and a freshly imported copy of the module
(new dispatchers) for every build; and, for context, how much faster P CPU-bound
child processes run together than one after the other on this machine.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .harness import describe_error, log

BUILD_KERNELS = 32
BUILD_EFFICIENCY_MIN = 0.8
"""A build on P workers must be ≥ this × P times as fast as on one."""


@dataclass
class BuildRun:
    workers: int
    seconds: list[float] = field(default_factory=list)
    compile_seconds: list[float] = field(default_factory=list)
    """The workers' own compile time (``Kernel.seconds``), summed over the kernels."""
    error: str | None = None


@dataclass
class BuildResults:
    runs: list[BuildRun] = field(default_factory=list)
    cpu_scaling: float | None = None
    """P x (one CPU-bound child's time) / (P such children's time together)."""
    notes: list[str] = field(default_factory=list)

    def run(self, workers: int) -> BuildRun | None:
        return next((r for r in self.runs if r.workers == workers), None)


_TEMPLATES = (
    '''
    @fl.jit(cache=False, signatures=["float64(float64[::1], float64[::1])"])
    def wdot_{k}(x, y):
        s = 0.0
        n = x.shape[0]
        for i in range(n):
            w = 1.0 + {c} * i / n
            s += w * x[i] * y[i]
        return s
    ''',
    '''
    @fl.jit(cache=False, signatures=["float64[::1], float64[::1]"])
    def smooth_{k}(a, out):
        for i in range(2, a.shape[0] - 2):
            v = {c} * (a[i - 2] + a[i + 2]) + 0.25 * (a[i - 1] + a[i + 1]) + 0.5 * a[i]
            out[i] = v if v > 0.0 else -v
    ''',
    '''
    @fl.jit(cache=False, signatures=["float64[:, ::1], float64[:, ::1]"])
    def blur_{k}(a, out):
        for i in range(1, a.shape[0] - 1):
            for j in range(1, a.shape[1] - 1):
                edge = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]
                corner = a[i - 1, j - 1] + a[i - 1, j + 1] + a[i + 1, j - 1] + a[i + 1, j + 1]
                out[i, j] = {c} * a[i, j] + 0.125 * edge + 0.0625 * corner
    ''',
    '''
    @fl.jit(cache=False, signatures=["float64[::1], float64[::1], int32[:, ::1]"])
    def escape_{k}(xs, ys, out):
        for i in range(ys.shape[0]):
            for j in range(xs.shape[0]):
                zx = 0.0
                zy = 0.0
                n = 0
                while n < {m} and zx * zx + zy * zy <= {c} + 4.0:
                    t = zx * zx - zy * zy + xs[j]
                    zy = 2.0 * zx * zy + ys[i]
                    zx = t
                    n += 1
                out[i, j] = n
    ''',
)
KINDS = "weighted dot, 5-point 1-D stencil, 3x3 blur, escape-time loop"


def build_source() -> str:
    """A module of ``BUILD_KERNELS`` distinct loop kernels (four shapes, each copy with
    its own constants), one declared signature each."""
    parts = ["import frostline as fl\n"]
    for k in range(BUILD_KERNELS):
        template = _TEMPLATES[k % len(_TEMPLATES)]
        parts.append(textwrap.dedent(template).format(k=k, c=f"{0.01 * (k + 1):.2f}",
                                                      m=50 + k))
    return "\n".join(parts)


_imports = iter(range(1, 1 << 30))


def _build_once(folder: Path, workers: int) -> tuple[float, float]:
    """Seconds of one ``build`` of a new copy of the module, and the workers' compile
    seconds summed over its kernels."""
    from frostline.toolchain.service.build import build, find_kernels, import_target

    path = folder / f"pool_bench_kernels_{next(_imports)}.py"
    path.write_text(build_source())
    module = import_target(str(path))
    try:
        pairs = find_kernels([module])
        if len(pairs) != BUILD_KERNELS:
            raise RuntimeError(f"found {len(pairs)} kernels, expected {BUILD_KERNELS}")
        t0 = time.perf_counter()
        kernels = build(pairs, workers, cache=None)
        seconds = time.perf_counter() - t0
    finally:
        sys.modules.pop(path.stem, None)
    bad = [k for k in kernels if k.status != "compiled"]
    if bad or len(kernels) != BUILD_KERNELS:
        first = f"{bad[0].name}: {bad[0].status} {bad[0].error}" if bad else ""
        raise RuntimeError(f"{len(bad)} of {len(kernels)} kernels not compiled; {first}")
    return seconds, sum(k.seconds for k in kernels)


SPIN = "s = 0\nfor i in range(6_000_000):\n    s += i\n"


def _spin(count: int) -> float:
    """Wall seconds for ``count`` CPU-bound child interpreters started together."""
    t0 = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-I", "-c", SPIN]) for _ in range(count)]
    if any([c.wait() for c in children]):
        raise RuntimeError("a CPU-bound child process failed")
    return time.perf_counter() - t0


def _failed(where: str, exc: BaseException) -> str:
    log(f"  !! pool {where}: {describe_error(exc)}")
    log("".join(traceback.format_exception(exc)).rstrip())
    return describe_error(exc)


def build_suite(workers: int, rounds: int) -> BuildResults:
    """``rounds`` builds on 1 and on ``workers`` workers, interleaved; then the CPU
    scaling of ``workers`` CPU-bound processes."""
    counts = [1] if workers == 1 else [1, workers]
    results = BuildResults([BuildRun(p) for p in counts])
    folder = Path(tempfile.mkdtemp(prefix="frostline-pool-build-"))
    try:
        for round_ in range(rounds):
            for p in counts if round_ % 2 == 0 else counts[::-1]:
                run = results.run(p)
                assert run is not None
                if run.error:
                    continue
                log(f"pool: build {BUILD_KERNELS} kernels on {p} worker(s), "
                    f"round {round_ + 1}/{rounds}")
                try:
                    seconds, work = _build_once(folder, p)
                    run.seconds.append(seconds)
                    run.compile_seconds.append(work)
                except Exception as exc:
                    run.error = _failed(f"build on {p} workers", exc)
    finally:
        if str(folder) in sys.path:  # import_target put it there
            sys.path.remove(str(folder))
        shutil.rmtree(folder, ignore_errors=True)
    if workers > 1:
        log(f"pool: CPU scaling of {workers} processes")
        try:
            one = [_spin(1) for _ in range(rounds + 2)]
            many = [_spin(workers) for _ in range(rounds + 2)]
            results.cpu_scaling = workers * statistics.median(one) / statistics.median(many)
        except Exception as exc:
            results.notes.append(f"CPU scaling baseline failed: {_failed('CPU scaling', exc)}")
    return results
