"""What a forked child must not inherit from its parent's threads.

A child of ``os.fork()`` has only the thread that forked.  A lock another
thread held at that moment stays held for ever in the child, and work another
thread was doing (a background compilation) never finishes there.  Objects
name their locks here (``renew_locks``), and the runner its clean-up
(``in_child``); in the child, first every named lock is replaced by a new one,
then the clean-ups run, so they may take any of those locks.

The state a lock protects is whole in the child: the forking thread holds the
GIL, so no other thread is inside a Python-level update of it.  Code that
changes state outside the GIL (LLVM) is fenced by acquiring its lock around
the fork instead (``backends.llvm.loader``).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

#: Objects (modules too) and the names of their lock attributes.
_owners: weakref.WeakKeyDictionary[object, tuple[str, ...]] = weakref.WeakKeyDictionary()
_clean_ups: list[Callable[[], None]] = []
_RLOCK = type(threading.RLock())


def renew_locks(owner: object, *names: str) -> None:
    """Give ``owner`` new locks (of the same kinds) under ``names`` in a forked child."""
    _owners[owner] = names


def in_child(clean_up: Callable[[], None]) -> None:
    """Call ``clean_up()`` in a forked child, after every lock is renewed."""
    _clean_ups.append(clean_up)


def _fresh(lock: object) -> object:
    if isinstance(lock, threading.Condition):
        return threading.Condition()
    if isinstance(lock, _RLOCK):
        return threading.RLock()
    return threading.Lock()


def _after_fork_in_child() -> None:
    for owner, names in list(_owners.items()):
        for name in names:
            setattr(owner, name, _fresh(getattr(owner, name)))
    for clean_up in _clean_ups:
        clean_up()


os.register_at_fork(after_in_child=_after_fork_in_child)
