"""Steps and cached steps.

A step is a plain typed callable from one stage to the next, with a
fingerprint naming what it does (name + version).  ``CachedStep`` memoises
a step in a store (``MemoryCache`` here, ``DiskCache`` in ``cache.py``) under
``digest(step fingerprint, input fingerprint, salt)``; the salt carries the
frostline, llvmlite and LLVM versions and the target, so the same key
addresses the same output in every process.  The toolchain is an explicit
sequence of steps — no reflection.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import attrs

from frostline import __version__, forksafe, stats
from frostline.fingerprint import digest

In = TypeVar("In")
Out = TypeVar("Out")


class Stage(Protocol):
    @property
    def fingerprint(self) -> str: ...


S = TypeVar("S", bound=Stage)
V = TypeVar("V")


class Store(Protocol[V]):
    """Where a cached step keeps its outputs: ``get`` (None on a miss) and ``put``."""

    def get(self, key: str) -> V | None: ...

    def put(self, key: str, value: V) -> None: ...


@attrs.frozen
class Step(Generic[In, Out]):
    """A named, versioned transformation from one stage to the next."""

    name: str
    version: str
    run: Callable[[In], Out]

    @property
    def fingerprint(self) -> str:
        return digest("step", self.name, self.version)

    def __call__(self, stage: In) -> Out:
        return self.run(stage)


class MemoryCache:
    """A thread-safe least-recently-used mapping from keys to stages."""

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        self._data: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        forksafe.renew_locks(self, "_lock")

    def get(self, key: str) -> object | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@attrs.frozen
class CachedStep(Generic[S, Out]):
    """A step whose results are memoised by content: same input, same output.

    ``hits`` names the ``fl.stats()`` counter a hit adds to.
    """

    step: Step[S, Out]
    cache: Store[Out]
    salt: str
    hits: str = "memory_hits"

    @property
    def fingerprint(self) -> str:
        return self.step.fingerprint

    def key(self, stage: S) -> str:
        return digest("cached", self.step.fingerprint, stage.fingerprint, self.salt)

    def __call__(self, stage: S) -> Out:
        key = self.key(stage)
        hit = self.cache.get(key)
        if hit is not None:
            stats.bump(self.hits)
            return hit
        result = self.step(stage)
        self.cache.put(key, result)
        return result


#: The version of what compiled code and the Python side agree on (the array struct, the
#: error reporter's arguments and the call's context, the runtime record, the thread
#: pool's block and task arrays); a change makes every key new.
ABI = 3


def version_salt(target_fingerprint: str, toolchain_versions: str) -> str:
    """What every key carries besides the inputs: versions and target."""
    return digest("salt", f"frostline={__version__}", f"abi={ABI}", toolchain_versions,
                  target_fingerprint)
