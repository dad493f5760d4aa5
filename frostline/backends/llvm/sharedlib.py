"""Object code as a shared library: linked once when compiled, opened with ``dlopen``.

Linking with ORC needs ``llvmlite.binding``, whose import costs more than
everything else a warm start does.  So code emission also links the object
into a small shared library with the system linker (``ld -shared``, about
2 ms); loading it is a ``dlopen`` from memory (``memfd_create``), well under a
millisecond, with no LLVM at all.  Without a linker, or where ``dlopen`` of
the library fails, loading falls back to ORC; nothing else changes.

``-Bsymbolic`` binds the library's references to its own definitions, so no
other library's symbols can interpose; ``dlopen`` resolves the CPython API
against the running interpreter, immediately (ctypes passes ``RTLD_NOW``), so
a missing symbol is an ``OSError`` at load time, never a crash at call time.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import sys
import tempfile

_LINK_FLAGS = ("-shared", "-Bsymbolic", "-z", "noseparate-code", "-z", "max-page-size=4096",
               "--build-id=none", "-s")


@functools.cache
def _linker() -> str | None:
    if not sys.platform.startswith("linux"):
        return None  # memfd + dlopen of ELF: Linux only
    return shutil.which("ld")


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


def open_library(data: bytes) -> ctypes.CDLL:
    """``dlopen`` a shared library held in memory; ``OSError`` if it does not load."""
    if not hasattr(os, "memfd_create"):
        raise OSError("memfd_create is not available")
    fd = os.memfd_create("frostline-code", 0)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return ctypes.CDLL(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)  # the mapping outlives the descriptor


def address(library: ctypes.CDLL, symbol: str) -> int:
    """The address of an exported symbol; ``AttributeError`` if it is missing."""
    value = ctypes.cast(library[symbol], ctypes.c_void_p).value
    assert value is not None
    return value
