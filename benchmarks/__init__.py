"""frostline benchmark suite: frostline vs numba vs NumPy vs C.

Run it with ``python -m benchmarks`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import os

# Every other implementation is single-threaded, so NumPy's BLAS is too (unless
# the caller says otherwise); this must happen before NumPy is imported.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
for _var in BLAS_THREAD_VARS:
    os.environ.setdefault(_var, "1")

__all__ = ["BLAS_THREAD_VARS"]
