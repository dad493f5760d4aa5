"""Parallel loops: ``prange``, the thread count, and the process's one thread pool.

Inside a kernel, ``for i in prange(...)`` runs its iterations on a pool of
threads that the compiled code itself starts and drives (its runtime is
emitted in LLVM IR: ``backends/llvm/tasks``).  Outside kernels, and wherever a
kernel runs as Python, ``prange`` is ``range``.

The pool is one block of memory per process, allocated here when the first
library with parallel loops loads and shared by every library loaded after
it.  Its worker threads run the worker function of that first library, which
therefore stays loaded for the life of the process.  The compiled code reads
the thread count from the block at every launch, so ``set_num_threads`` takes
effect at the next launch, from any thread; it notices a fork itself (the
process id it was started in) and starts a fresh pool in the child.  This
module imports no LLVM.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
import warnings
from pathlib import Path

__all__ = ["get_num_threads", "prange", "set_num_threads"]

#: The most threads a pool runs (the calling thread included).
MAX_THREADS = 1024

# --- the pool block, as the compiled code reads it (``tasks``): i64 words -------------
#: The header: a futex mutex over the list of task arrays in flight, that list, the
#: thread count wanted, workers started, the worker function, and the process the pool
#: was set up in (claimed, then ready), so a forked child sets up its own.
MUTEX, HEAD, WANTED, STARTED, WORKER, CLAIM_PID, READY_PID = range(7)
HEADER_WORDS = 16
#: Then one cache line per worker: the futex word it sleeps on, whether it sleeps,
#: the pool, its index.
SIGNAL, SLEEPING, SLOT_POOL, SLOT_INDEX = range(4)
SLOT_WORDS = 8
POOL_WORDS = HEADER_WORDS + SLOT_WORDS * (MAX_THREADS - 1)

ENV_THREADS = "FROSTLINE_NUM_THREADS"


def prange(*args: int) -> range:
    """``range``, whose iterations a kernel runs in parallel.

    ``for i in prange(stop)`` or ``prange(start, stop[, step])``; iterations must be
    independent, apart from reductions (``s += e``, ``s = min(s, e)``, ...) of
    scalars defined before the loop.  See docs/parallel.md."""
    return range(*args)


_lock = threading.Lock()


def _new_lock_in_child() -> None:
    """A forked child has only the forking thread: a lock another one held stays held."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)
_threads: int | None = None
#: The pool block and the library whose worker function its threads run.
_pool: ctypes.Array[ctypes.c_int64] | None = None
_pinned: object = None


def set_num_threads(n: int) -> None:
    """Run parallel loops on ``n`` threads (the calling one included) from the next launch
    on, in every thread of the process."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads() argument must be an int, not {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"the number of threads must be between 1 and {MAX_THREADS}, "
                         f"not {n}")
    global _threads
    with _lock:
        _threads = n
        if _pool is not None:
            _pool[WANTED] = n


def get_num_threads() -> int:
    """How many threads parallel loops run on: ``set_num_threads``, else
    ``FROSTLINE_NUM_THREADS``, else the CPUs this process may use."""
    global _threads
    with _lock:
        if _threads is None:
            _threads = _initial_threads()
        return _threads


def _initial_threads() -> int:
    text = os.environ.get(ENV_THREADS, "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if 1 <= n <= MAX_THREADS:
            return n
        warnings.warn(f"{ENV_THREADS}={text!r} is not a thread count from 1 to "
                      f"{MAX_THREADS}; using the CPUs available", RuntimeWarning, stacklevel=3)
    return available_cpus()


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(cpus, MAX_THREADS))


def cgroup_quota(root: Path = Path("/sys/fs/cgroup"),
                 membership: Path = Path("/proc/self/cgroup")) -> int | None:
    """The CPUs a cgroup CPU quota allows (rounded up), or None where none is set.

    cgroup v2: ``cpu.max`` ("max 100000" or "200000 100000") of the process's
    group or the root; v1: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = []
    groups = [line.split(":", 2)[2].lstrip("/") for line in lines if line.count(":") >= 2]
    candidates = [root / g / "cpu.max" for g in groups if g] + [root / "cpu.max"]
    for path in candidates:
        try:
            quota, period = path.read_text().split()[:2]
        except (OSError, ValueError):
            continue
        if quota != "max" and int(period) > 0:
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    for base in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota_us = int((base / "cpu.cfs_quota_us").read_text())
            period_us = int((base / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        if quota_us > 0 and period_us > 0:
            return max(1, math.ceil(quota_us / period_us))
        return None
    return None


def pool_for(worker: int, library: object) -> int:
    """The address of the process's pool block, for a library whose worker function is
    at ``worker``: made on the first call, whose library then stays loaded for good
    (its worker function is the one the pool's threads run)."""
    global _pool, _pinned
    threads = get_num_threads()
    with _lock:
        if _pool is None:
            # Zeroed, and aligned to a cache line within (ctypes gives 16 bytes).
            block = (ctypes.c_int64 * (POOL_WORDS + 8))()
            skip = (-ctypes.addressof(block) % 64) // 8
            _pool = (ctypes.c_int64 * POOL_WORDS).from_buffer(block, skip * 8)
            _pool[WANTED] = threads
            _pool[WORKER] = worker
            _pinned = (block, library)
        return ctypes.addressof(_pool)


def pool_state() -> dict[str, int]:
    """What the pool block says (for tests): threads wanted, workers started, how many
    of them sleep, and the process the pool runs in (0 before its first launch)."""
    wanted = get_num_threads()
    with _lock:
        if _pool is None:
            return {"wanted": wanted, "started": 0, "sleeping": 0, "pid": 0}
        started = _pool[STARTED]
        sleeping = sum(1 for k in range(started)
                       if _pool[HEADER_WORDS + k * SLOT_WORDS + SLEEPING])
        return {"wanted": _pool[WANTED], "started": started, "sleeping": sleeping,
                "pid": _pool[READY_PID]}
