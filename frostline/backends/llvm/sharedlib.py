"""Object code as a shared library: linked when it leaves the process, opened with ``dlopen``.

Linking with ORC needs ``llvmlite.binding``, whose import costs more than
everything else a warm start does.  So object code that is written to the
disk cache or pickled is first linked into a small shared library with the
system linker (``ld -shared``, about 2 ms); loading it is a ``dlopen`` from
memory (``memfd_create``), well under a millisecond, with no LLVM at all.  The
process that compiled the code has LLVM loaded already and links with ORC, so
compilation itself does not pay for the linker.  Without a linker, or where
``dlopen`` of the library fails, loading falls back to ORC; nothing else
changes.

``-Bsymbolic`` binds the library's references to its own definitions, so no
other library's symbols can interpose; ``dlopen`` resolves the CPython API
against the running interpreter, immediately (ctypes passes ``RTLD_NOW``), so
a missing symbol is an ``OSError`` at load time, never a crash at call time.

An opened library is a ``CDLL`` that closes itself (``dlclose``) when its last
reference goes; whatever can call into the code must hold it (``loader`` puts it
in every owner tuple).  Nothing is closed while the interpreter finalizes.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import functools
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable

import attrs

from frostline import forksafe
from frostline.stages.executable import ObjectCode

_LINK_FLAGS = ("-shared", "-Bsymbolic", "-z", "noseparate-code", "-z", "max-page-size=4096",
               "--build-id=none", "-s")


@functools.cache
def _linker() -> str | None:
    if not sys.platform.startswith("linux"):
        return None  # memfd + dlopen of ELF: Linux only
    return shutil.which("ld")


def with_library(code: ObjectCode) -> ObjectCode:
    """``code`` carrying its shared library (linked now if it has none and a linker exists)."""
    if code.shared_library:
        return code
    library = link(code.data)
    return attrs.evolve(code, shared_library=library) if library else code


@functools.lru_cache(maxsize=256)  # pickling the same executable again links nothing
def link(object_code: bytes) -> bytes:
    """A shared library made of ``object_code``, or ``b""`` where there is no linker."""
    ld = _linker()
    if ld is None:
        return b""
    with tempfile.TemporaryDirectory(prefix="frostline-link-") as tmp:
        obj, lib = os.path.join(tmp, "code.o"), os.path.join(tmp, "code.so")
        with open(obj, "wb") as f:
            f.write(object_code)
        done = subprocess.run([ld, *_LINK_FLAGS, "-o", lib, obj], capture_output=True)
        if done.returncode != 0:
            return b""  # loading goes through ORC instead
        with open(lib, "rb") as f:
            return f.read()


class CDLL(ctypes.CDLL):
    """A ``ctypes.CDLL`` whose library is unmapped (``dlclose``) when it is freed.

    ``ctypes.CDLL`` never closes what it opened: every load would stay mapped for
    the life of the process.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self._mapping = Unloader(_ctypes.dlclose, self._handle)

    def address(self, symbol: str) -> int:
        """The address of an exported symbol; ``OSError`` if it is missing.

        Asked of ``dlsym`` directly: ``ctypes.cast`` of a function pointer makes a
        reference cycle, which would keep the library mapped until a collection."""
        return _ctypes.dlsym(self._handle, symbol)  # type: ignore[no-any-return]


class Unloader:
    """Calls ``unload(*args)`` when freed, unless the interpreter is finalizing.

    Held by one library object only, which must have no ``__del__`` itself: then it
    is freed after the library's weak references are cleared, so a registry of them
    never hands out a library whose code is being unmapped.  While the interpreter
    finalizes, objects go in no particular order and unloading gains nothing.
    """

    __slots__ = ("unload", "args")

    def __init__(self, unload: Callable[..., object], *args: object):
        self.unload = unload
        self.args = args

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        if not _finalizing():
            self.unload(*self.args)


def open_library(data: bytes) -> CDLL:
    """``dlopen`` a shared library held in memory; ``OSError`` if it does not load.

    The bytes go to an anonymous memory file; ``dlopen`` reaches it through a
    symbolic link of a name used once, because the dynamic loader returns an
    already loaded library when a name repeats, and ``/proc/self/fd/N`` names
    repeat as descriptors are reused.
    """
    if not hasattr(os, "memfd_create"):
        raise OSError("memfd_create is not available")
    fd = os.memfd_create("frostline-code", 0)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        name = os.path.join(_link_directory(), f"{os.getpid()}-{next(_names)}.so")
        os.symlink(f"/proc/self/fd/{fd}", name)
        try:
            return CDLL(name)
        finally:
            os.unlink(name)
    finally:
        os.close(fd)  # the mapping outlives the descriptor


_names = itertools.count()
_directories: dict[int, str] = {}
_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_lock")


def _link_directory() -> str:
    """A private directory for the links, one per process (a forked child makes its own)."""
    pid = os.getpid()
    with _lock:
        if pid not in _directories:
            _directories[pid] = tempfile.mkdtemp(prefix="frostline-dlopen-")
            atexit.register(_remove_directory, pid)
        return _directories[pid]


def _remove_directory(pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(_directories.pop(pid), ignore_errors=True)
