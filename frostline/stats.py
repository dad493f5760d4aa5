"""Process-wide counters reported by ``frostline.stats()``."""

from __future__ import annotations

import ctypes
import sys
import threading
from collections import Counter

from frostline import forksafe

_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_lock")
_counters: Counter[str] = Counter(
    {"compiled": 0, "memory_hits": 0, "disk_hits": 0, "disk_writes": 0,
     "background_started": 0, "background_finished": 0, "background_failed": 0,
     "background_cancelled": 0, "python_calls": 0, "fallbacks_run": 0, "fallbacks_whole": 0,
     "fallbacks_per_function": 0, "worker_compiles": 0, "bundle_hits": 0})


#: Native allocations of compiled code, which every loaded library counts into (atomically,
#: from any thread): live blocks, live bytes, blocks ever allocated (``backends.llvm.memory``).
NATIVE = (ctypes.c_int64 * 3)()


def bump(name: str, by: int = 1) -> None:
    """Add ``by`` to the counter ``name``."""
    with _lock:
        _counters[name] += by


def stats() -> dict[str, int]:
    """A snapshot of frostline's counters.

    ``compiled``: object code produced by code generation in this process;
    ``memory_hits``: compilations answered by the in-memory cache of executables;
    ``disk_hits``: compilations answered by the disk cache (loaded, not compiled);
    ``disk_writes``: entries this process wrote to the disk cache;
    ``background_started``, ``_finished``, ``_failed``, ``_cancelled``: background
    compilations (``compile_async``, tiered execution);
    ``python_calls``: calls answered by the Python function while native code was
    not ready;
    ``fallbacks_run``, ``_whole``, ``_per_function``: fallbacks taken from each
    granularity (execution modes with ``FALLBACK``; see docs/modes.md);
    ``arrays_live``, ``array_bytes_live``: arrays compiled code allocated that are still
    alive (in a running call, or returned and held by Python), and their bytes;
    ``arrays_allocated``: arrays compiled code has allocated in all.
    """
    with _lock:
        snapshot = dict(_counters)
    snapshot.update(arrays_live=NATIVE[0], array_bytes_live=NATIVE[1],
                    arrays_allocated=NATIVE[2])
    return snapshot
