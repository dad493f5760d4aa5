"""frostline benchmark suite: frostline vs numba vs NumPy vs C.

Run it with ``python -m benchmarks`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

__all__: list[str] = []
