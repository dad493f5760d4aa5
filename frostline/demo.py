"""``frostline demo``: compile a few kernels, run them, and compare with plain Python."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

import frostline as fl


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def mandelbrot(width, height, max_iter, out):
    for j in range(height):
        ci = -1.2 + 2.4 * j / height
        for i in range(width):
            cr = -2.0 + 3.0 * i / width
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            out[j, i] = n


def pairwise_energy(pos, mass):
    energy = 0.0
    for i in range(pos.shape[0]):
        for j in range(i + 1, pos.shape[0]):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            energy -= mass[i] * mass[j] / math.sqrt(dx * dx + dy * dy + dz * dz)
    return energy


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def _best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Compile four kernels ahead of time, check them against Python, print speed-ups."""
    rng = np.random.default_rng(0)
    x, y = rng.random(200_000), rng.random(200_000)
    out = np.zeros((120, 160), dtype=np.int64)
    pos, mass = rng.random((300, 3)), rng.random(300) + 0.5
    cases = [
        ("axpy", axpy, "float64, float64[::1], float64[::1]", lambda: (2.0, x, y.copy())),
        ("mandelbrot", mandelbrot, "int64, int64, int64, int64[:, ::1]",
         lambda: (160, 120, 100, out.copy())),
        ("pairwise_energy", pairwise_energy, "float64[:, ::1], float64[::1]",
         lambda: (pos, mass)),
        ("fib", fib, "int64", lambda: (22,)),
    ]
    print(f"frostline {fl.__version__} demo: compiled kernels against plain Python\n")
    print(f"{'kernel':<17}{'compile':>10}{'python':>12}{'frostline':>12}{'speed-up':>10}")
    for name, fn, signature, make_args in cases:
        start = time.perf_counter()
        exe = fl.jit(fn).compile(signature)
        compile_s = time.perf_counter() - start
        py_args, fl_args = make_args(), make_args()
        expected, got = fn(*py_args), exe(*fl_args)
        same = (np.allclose(expected, got) if expected is not None else
                all(np.allclose(a, b) for a, b in zip(py_args, fl_args, strict=True)
                    if isinstance(a, np.ndarray)))
        if not same:
            raise SystemExit(f"{name}: compiled result differs from Python")
        t_py = _best_of(lambda fn=fn, make=make_args: fn(*make()), repeat=1)
        t_fl = _best_of(lambda exe=exe, make=make_args: exe(*make()))
        print(f"{name:<17}{compile_s * 1e3:>8.1f}ms{t_py * 1e3:>10.2f}ms{t_fl * 1e3:>10.3f}ms"
              f"{t_py / t_fl:>9.0f}x")
    print(f"\nstats: {fl.stats()}")
