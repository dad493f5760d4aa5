"""Process-wide counters reported by ``frostline.stats()``."""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counters: Counter[str] = Counter({"compiled": 0, "memory_hits": 0})


def bump(name: str, by: int = 1) -> None:
    """Add ``by`` to the counter ``name``."""
    with _lock:
        _counters[name] += by


def stats() -> dict[str, int]:
    """A snapshot of frostline's counters.

    ``compiled``: executables produced by code generation in this process;
    ``memory_hits``: compilations answered from the in-memory step cache.
    """
    with _lock:
        return dict(_counters)
