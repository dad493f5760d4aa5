"""Build and call the C versions of the kernels (``benchmarks/c/*.c``).

Each kernel lives in its own ``c/NAME.c`` and is compiled at run time into its
own shared library in a temporary directory, with
``gcc -O3 -march=native -shared -fPIC`` plus:

* ``-fno-math-errno`` everywhere (LLVM's ``sqrt`` in numba/frostline never sets
  ``errno`` either), and
* ``-ffast-math`` when the kernel is benchmarked with ``fastmath=True``,
  ``-ffp-contract=off`` otherwise (GCC contracts ``a*b+c`` into FMA by default,
  which numba and frostline do not do without fastmath).

The calling convention is described in ``c/bench.h``: ``run_NAME(reps, ...)``
loops ``reps`` times internally, so ctypes overhead is paid once per sample.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .kernels import Args, Kernel

C_DIR = Path(__file__).resolve().parent / "c"
BASE_FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fno-math-errno")

_RESTYPES: dict[str, Any] = {
    "axpy": None,
    "dot": ctypes.c_double,
    "laplacian2d": None,
    "stencil3d": None,
    "matmul": None,
    "mandelbrot": None,
    "nbody_energy": ctypes.c_double,
    "fib": ctypes.c_int64,
    "durbin": None,
    "crc16": ctypes.c_int64,
    "seidel2d": None,
}


def gcc_path() -> str | None:
    """Path of ``gcc`` or None when it is not installed."""
    return shutil.which("gcc")


def gcc_version() -> str:
    """First line of ``gcc --version`` (or a note that gcc is missing)."""
    gcc = gcc_path()
    if gcc is None:
        return "not found"
    out = subprocess.run([gcc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def flags_for(kernel: Kernel) -> list[str]:
    """The gcc flags used for ``kernel``."""
    extra = "-ffast-math" if kernel.fastmath else "-ffp-contract=off"
    return [*BASE_FLAGS, extra]


class CBuilder:
    """Compiles kernels into shared libraries inside a private temp directory."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="frostline-bench-")
        self._libs: dict[str, ctypes.CDLL] = {}

    def close(self) -> None:
        """Remove the temporary build directory."""
        self._libs.clear()
        self._tmp.cleanup()

    def __enter__(self) -> CBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def library(self, kernel: Kernel) -> ctypes.CDLL:
        """Compile (once) and load the shared library for ``kernel``."""
        if kernel.name in self._libs:
            return self._libs[kernel.name]
        gcc = gcc_path()
        if gcc is None:
            raise RuntimeError("gcc not found")
        src = C_DIR / f"{kernel.name}.c"
        if not src.exists():
            raise RuntimeError(f"no C source {src.name}")
        out = Path(self._tmp.name) / f"lib{kernel.name}.so"
        cmd = [gcc, *flags_for(kernel), f"-I{C_DIR}", "-o", str(out), str(src), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"gcc failed: {proc.stderr.strip()[:500]}")
        lib = ctypes.CDLL(str(out))
        self._libs[kernel.name] = lib
        return lib

    def bind(self, kernel: Kernel, args: Args) -> _CRunner:
        """Return ``run(reps)`` calling the C kernel ``reps`` times on ``args``.

        ``run`` holds a reference to ``args``, so the arrays outlive the raw pointers.
        """
        func = getattr(self.library(kernel), f"run_{kernel.name}")
        argtypes: list[Any] = [ctypes.c_int64]
        cargs: list[Any] = []
        for arg in args:
            if isinstance(arg, np.ndarray):
                if not arg.flags.c_contiguous:
                    raise ValueError("C kernels need C-contiguous arrays")
                argtypes.append(ctypes.c_void_p)
                cargs.append(arg.ctypes.data)
                for dim in arg.shape:
                    argtypes.append(ctypes.c_int64)
                    cargs.append(int(dim))
            elif isinstance(arg, float):
                argtypes.append(ctypes.c_double)
                cargs.append(arg)
            elif isinstance(arg, int):
                argtypes.append(ctypes.c_int64)
                cargs.append(arg)
            else:
                raise TypeError(f"unsupported C argument type {type(arg).__name__}")
        func.argtypes = argtypes
        func.restype = _RESTYPES[kernel.name]

        return _CRunner(func, cargs, args)


class _CRunner:
    """``run(reps)`` for one bound C kernel; owns the arrays its raw pointers borrow."""

    def __init__(self, func: Any, cargs: list[Any], owner: Args) -> None:
        self._func = func
        self._cargs = cargs
        self._owner = owner  # keeps the arrays behind the pointers in cargs alive

    def __call__(self, reps: int) -> Any:
        return self._func(reps, *self._cargs)
