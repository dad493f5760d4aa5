"""Benchmark kernels.

Every kernel is written exactly once as a plain Python function; the very same
function object is handed to ``frostline.jit`` and ``numba.njit``.  Each kernel
also has a NumPy-based *reference* (used to check every implementation) and,
where natural, a NumPy variant that is timed.  All variants share one calling
convention: the same positional arguments, and the result is either the
return value or an output array argument (``Kernel.output``).
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

import numpy as np

Scale = Literal["check", "quick", "full"]
Args = tuple[Any, ...]

# --------------------------------------------------------------------------
# Plain Python kernels (compiled by frostline and numba).  Keep the bodies
# inside the language subset: loops over range, indexing, math.*, recursion.
# --------------------------------------------------------------------------


def axpy(a, x, y):
    """y += a * x (1-D float64)."""
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def dot(x, y):
    """Return sum(x * y) (1-D float64 reduction)."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


def laplacian2d(a, out):
    """2-D 5-point Laplacian over the interior of ``a``."""
    for i in range(1, a.shape[0] - 1):
        for j in range(1, a.shape[1] - 1):
            out[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]


def stencil3d(a, out):
    """3-D 7-point stencil over the interior of ``a``."""
    for i in range(1, a.shape[0] - 1):
        for j in range(1, a.shape[1] - 1):
            for k in range(1, a.shape[2] - 1):
                out[i, j, k] = (
                    a[i - 1, j, k]
                    + a[i + 1, j, k]
                    + a[i, j - 1, k]
                    + a[i, j + 1, k]
                    + a[i, j, k - 1]
                    + a[i, j, k + 1]
                    - 6.0 * a[i, j, k]
                )


def matmul(a, b, c):
    """c = a @ b with the naive i-k-j loop order (c is zeroed first)."""
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            c[i, j] = 0.0
        for k in range(a.shape[1]):
            for j in range(b.shape[1]):
                c[i, j] += a[i, k] * b[k, j]


def mandelbrot(xs, ys, max_iter, out):
    """Escape-time iteration counts for the grid ys x xs, written into ``out``."""
    for i in range(ys.shape[0]):
        cy = ys[i]
        for j in range(xs.shape[0]):
            cx = xs[j]
            zx = 0.0
            zy = 0.0
            n = 0
            while n < max_iter and zx * zx + zy * zy <= 4.0:
                t = zx * zx - zy * zy + cx
                zy = 2.0 * zx * zy + cy
                zx = t
                n += 1
            out[i, j] = n


def nbody_energy(pos, mass):
    """Gravitational potential energy of ``n`` bodies (pos is n x 3)."""
    e = 0.0
    n = pos.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            e -= mass[i] * mass[j] / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def fib(n):
    """Naive recursive Fibonacci."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


# Three plain loop kernels from PolyBench / NPBench, written as numba users write them.


def durbin(r, y, z):
    """Levinson-Durbin recursion (PolyBench ``durbin``): y solves a Toeplitz system; z: scratch."""
    n = r.shape[0]
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1.0 - alpha * alpha) * beta
        total = 0.0
        for i in range(k):
            total += r[k - i - 1] * y[i]
        alpha = -(r[k] + total) / beta
        for i in range(k):
            z[i] = y[i] + alpha * y[k - i - 1]
        for i in range(k):
            y[i] = z[i]
        y[k] = alpha


def crc16(data):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of a uint8 array, bit by bit."""
    crc = 0xFFFF
    for i in range(data.shape[0]):
        crc ^= int(data[i]) << 8  # int(): a uint8 shifted stays uint8 under NumPy 2 rules
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def seidel2d(a):
    """One in-place Gauss-Seidel sweep of the 9-point average (PolyBench ``seidel-2d``).

    Row by row: the neighbour sum first, then the recurrence along the row, as the
    NPBench numba version writes it.
    """
    for i in range(1, a.shape[0] - 1):
        for j in range(1, a.shape[1] - 1):
            a[i, j] += (
                a[i - 1, j - 1]
                + a[i - 1, j]
                + a[i - 1, j + 1]
                + a[i, j + 1]
                + a[i + 1, j - 1]
                + a[i + 1, j]
                + a[i + 1, j + 1]
            )
        for j in range(1, a.shape[1] - 1):
            a[i, j] += a[i, j - 1]
            a[i, j] /= 9.0


# --------------------------------------------------------------------------
# NumPy variants (timed) and references (used for checking only).
# --------------------------------------------------------------------------


def axpy_np(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """NumPy axpy."""
    y += a * x


def dot_np(x: np.ndarray, y: np.ndarray) -> float:
    """NumPy dot product."""
    return float(np.dot(x, y))


def laplacian2d_np(a: np.ndarray, out: np.ndarray) -> None:
    """NumPy 5-point Laplacian via slicing."""
    out[1:-1, 1:-1] = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4.0 * a[1:-1, 1:-1]


def stencil3d_np(a: np.ndarray, out: np.ndarray) -> None:
    """NumPy 7-point stencil via slicing."""
    c = (slice(1, -1),) * 3
    out[c] = (
        a[:-2, 1:-1, 1:-1]
        + a[2:, 1:-1, 1:-1]
        + a[1:-1, :-2, 1:-1]
        + a[1:-1, 2:, 1:-1]
        + a[1:-1, 1:-1, :-2]
        + a[1:-1, 1:-1, 2:]
        - 6.0 * a[c]
    )


def matmul_np(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """NumPy ``@`` (BLAS GEMM, a different algorithm than the i-k-j loop)."""
    np.matmul(a, b, out=c)


def mandelbrot_ref(xs: np.ndarray, ys: np.ndarray, max_iter: int, out: np.ndarray) -> None:
    """Vectorised escape-time reference (same IEEE operations as the kernel)."""
    cx = np.broadcast_to(xs[None, :], out.shape)
    cy = np.broadcast_to(ys[:, None], out.shape)
    zx = np.zeros(out.shape)
    zy = np.zeros(out.shape)
    n = np.zeros(out.shape, dtype=np.int32)
    active = np.ones(out.shape, dtype=bool)
    for _ in range(max_iter):
        active &= zx * zx + zy * zy <= 4.0
        if not active.any():
            break
        t = zx * zx - zy * zy + cx
        zy = np.where(active, 2.0 * zx * zy + cy, zy)
        zx = np.where(active, t, zx)
        n += active
    out[...] = n


def nbody_energy_ref(pos: np.ndarray, mass: np.ndarray) -> float:
    """Row-vectorised potential-energy reference."""
    e = 0.0
    for i in range(pos.shape[0] - 1):
        d = pos[i + 1 :] - pos[i]
        r = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])
        e -= float(np.sum(mass[i] * mass[i + 1 :] / r))
    return e


def fib_ref(n: int) -> int:
    """Iterative Fibonacci."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def durbin_np(r: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Levinson-Durbin with one NumPy dot product and one vector update per k (z unused)."""
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, r.shape[0]):
        beta = (1.0 - alpha * alpha) * beta
        alpha = -(r[k] + float(np.dot(r[k - 1 :: -1], y[:k]))) / beta
        y[:k] = y[:k] + alpha * y[k - 1 :: -1]
        y[k] = alpha


def crc16_ref(data: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE from the standard library (``binascii.crc_hqx``, table driven)."""
    return binascii.crc_hqx(data.tobytes(), 0xFFFF)


def seidel2d_ref(a: np.ndarray) -> None:
    """Row-vectorised neighbour sums, then the row's recurrence x_j = (s_j + x_(j-1)) / 9."""
    for i in range(1, a.shape[0] - 1):
        up, row, down = a[i - 1], a[i], a[i + 1]
        s = row[1:-1] + (up[:-2] + up[1:-1] + up[2:] + row[2:] + down[:-2] + down[1:-1] + down[2:])
        row[1:-1] = list(accumulate(s.tolist(), lambda x, v: (v + x) / 9.0, initial=row[0]))[1:]


# --------------------------------------------------------------------------
# Inputs.
# --------------------------------------------------------------------------


def _rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _axpy_args(n: int) -> Args:
    r = _rng()
    return (2.5, r.random(n), r.random(n))


def _dot_args(n: int) -> Args:
    r = _rng()
    return (r.random(n), r.random(n))


def _grid2_args(n: int) -> Args:
    return (_rng().random((n, n)), np.zeros((n, n)))


def _grid3_args(n: int) -> Args:
    return (_rng().random((n, n, n)), np.zeros((n, n, n)))


def _matmul_args(n: int) -> Args:
    r = _rng()
    return (r.random((n, n)), r.random((n, n)), np.zeros((n, n)))


def _mandelbrot_args(size: tuple[int, int, int]) -> Args:
    nx, ny, max_iter = size
    xs = np.linspace(-2.0, 0.6, nx)
    ys = np.linspace(-1.2, 1.2, ny)
    return (xs, ys, max_iter, np.zeros((ny, nx), dtype=np.int32))


def _nbody_args(n: int) -> Args:
    r = _rng()
    return (r.random((n, 3)) * 10.0, r.random(n) + 0.5)


def _fib_args(n: int) -> Args:
    return (n,)


def _durbin_args(n: int) -> Args:
    # r is the autocorrelation (1 + lag)^-0.5, lags 1..n: convex and decreasing, so the
    # Toeplitz matrix is positive definite, |alpha| < 1 and no value gets near underflow.
    r = (2.0 + np.arange(n, dtype=np.float64)) ** -0.5
    return (r, np.zeros(n), np.zeros(n))


def _bytes_args(n: int) -> Args:
    return (_rng().integers(0, 256, n, dtype=np.uint8),)


def _seidel_args(n: int) -> Args:
    return (_rng().random((n, n)),)


@dataclass(frozen=True)
class Kernel:
    """One benchmark kernel and everything needed to run and check it."""

    name: str
    fn: Callable[..., Any]
    signature: str
    """Argument types, numba style (also accepted by ``frostline`` ``.compile``)."""
    reference: Callable[..., Any]
    make: Callable[[Any], Args]
    sizes: dict[str, Any]
    """Problem size per scale, passed to ``make``."""
    describe: Callable[[Any], str]
    """Formats a problem size for the report."""
    output: int | None = None
    """Index of the output argument, or None if the result is the return value."""
    numpy: Callable[..., Any] | None = None
    numpy_label: str = ""
    fastmath: bool = False
    target: float | None = None
    """Run-time goal of this kernel alone, frostline/numba (None: only the suite-wide goals)."""

    @property
    def options(self) -> dict[str, bool]:
        """Compiler options, identical for frostline and numba."""
        return {"fastmath": self.fastmath, "boundscheck": False}

    def args(self, scale: Scale) -> Args:
        """Fresh (independent) arguments for the given scale."""
        return self.make(self.sizes[scale])

    def size_label(self, scale: Scale) -> str:
        """Human-readable problem size."""
        return self.describe(self.sizes[scale])


def _n(size: int) -> str:
    return f"n={size:,}"


def _sq(size: int) -> str:
    return f"{size}x{size}"


KERNELS: tuple[Kernel, ...] = (
    Kernel(
        name="axpy",
        fn=axpy,
        signature="float64, float64[:], float64[:]",
        reference=axpy_np,
        make=_axpy_args,
        sizes={"check": 37, "quick": 200_000, "full": 24_000_000},
        describe=_n,
        output=2,
        numpy=axpy_np,
        numpy_label="NumPy",
    ),
    Kernel(
        name="dot",
        fn=dot,
        signature="float64[:], float64[:]",
        reference=dot_np,
        make=_dot_args,
        sizes={"check": 37, "quick": 200_000, "full": 24_000_000},
        describe=_n,
        numpy=dot_np,
        numpy_label="NumPy (BLAS)",
        fastmath=True,
    ),
    Kernel(
        name="laplacian2d",
        fn=laplacian2d,
        signature="float64[:, :], float64[:, :]",
        reference=laplacian2d_np,
        make=_grid2_args,
        sizes={"check": 9, "quick": 300, "full": 4000},
        describe=_sq,
        output=1,
        numpy=laplacian2d_np,
        numpy_label="NumPy",
    ),
    Kernel(
        name="stencil3d",
        fn=stencil3d,
        signature="float64[:, :, :], float64[:, :, :]",
        reference=stencil3d_np,
        make=_grid3_args,
        sizes={"check": 6, "quick": 48, "full": 256},
        describe=lambda n: f"{n}^3",
        output=1,
        numpy=stencil3d_np,
        numpy_label="NumPy",
    ),
    Kernel(
        name="matmul",
        fn=matmul,
        signature="float64[:, :], float64[:, :], float64[:, :]",
        reference=matmul_np,
        make=_matmul_args,
        sizes={"check": 7, "quick": 64, "full": 600},
        describe=_sq,
        output=2,
        numpy=matmul_np,
        numpy_label="NumPy (BLAS)",
    ),
    Kernel(
        name="mandelbrot",
        fn=mandelbrot,
        signature="float64[:], float64[:], int64, int32[:, :]",
        reference=mandelbrot_ref,
        make=_mandelbrot_args,
        sizes={"check": (13, 9, 30), "quick": (120, 80, 100), "full": (600, 400, 200)},
        describe=lambda s: f"{s[1]}x{s[0]}, max_iter={s[2]}",
        output=3,
    ),
    Kernel(
        name="nbody_energy",
        fn=nbody_energy,
        signature="float64[:, :], float64[:]",
        reference=nbody_energy_ref,
        make=_nbody_args,
        sizes={"check": 11, "quick": 300, "full": 4000},
        describe=lambda n: f"{n} bodies",
    ),
    Kernel(
        name="fib",
        fn=fib,
        signature="int64",
        reference=fib_ref,
        make=_fib_args,
        sizes={"check": 12, "quick": 20, "full": 30},
        describe=lambda n: f"fib({n})",
    ),
    Kernel(
        name="durbin",
        fn=durbin,
        signature="float64[:], float64[:], float64[:]",
        reference=durbin_np,
        make=_durbin_args,
        sizes={"check": 9, "quick": 500, "full": 4000},
        describe=_n,
        output=1,
        numpy=durbin_np,
        numpy_label="NumPy",
        fastmath=True,
        target=1.1,
    ),
    Kernel(
        name="crc16",
        fn=crc16,
        signature="uint8[:]",
        reference=crc16_ref,
        make=_bytes_args,
        sizes={"check": 37, "quick": 100_000, "full": 2_000_000},
        describe=lambda n: f"{n:,} bytes",
        target=1.1,
    ),
    Kernel(
        name="seidel2d",
        fn=seidel2d,
        signature="float64[:, :]",
        reference=seidel2d_ref,
        make=_seidel_args,
        sizes={"check": 7, "quick": 200, "full": 2000},
        describe=_sq,
        output=0,
        fastmath=True,
        target=1.1,
    ),
)


def select(names: list[str] | None) -> list[Kernel]:
    """Return the kernels named in ``names`` (all if empty/None); raise on unknown names."""
    if not names:
        return list(KERNELS)
    by_name = {k.name: k for k in KERNELS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown kernel(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]


# --------------------------------------------------------------------------
# Trivial kernels for the per-call overhead measurements.
# --------------------------------------------------------------------------


def add3(a, b, c):
    """Sum of three scalars."""
    return a + b + c


def first_sum(x, y):
    """Sum of the first elements of two arrays."""
    return x[0] + y[0]


def time_step(u, v, out, dt, c):
    """One explicit step on small arrays, as a simulation loop makes it: out = u + dt*c*v."""
    for i in range(u.shape[0]):
        out[i] = u[i] + dt * c * v[i]


def warmup(x, s):
    """Unrelated function compiled once to absorb one-time compiler initialisation."""
    t = 0.0
    for i in range(x.shape[0]):
        if x[i] > s:
            t += math.exp(x[i]) * s
    return t


WARMUP_SIGNATURE = "float64[:], float64"


# --------------------------------------------------------------------------
# Small kernels for the start-up measurements: their source is copied into the
# child scripts (only the unpickling child runs without it).
# --------------------------------------------------------------------------


def sum_squares(a):
    """Sum of the squares of a 1-D float64 array."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def mul_add_one(x, y):
    """x * y + 1 on two floats."""
    return x * y + 1.0
