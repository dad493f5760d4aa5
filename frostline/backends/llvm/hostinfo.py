"""This machine's target and LLVM version, remembered on disk so a warm start needs no LLVM.

``target.host_target()`` asks LLVM (through ``llvmlite.binding``) for the
triple, CPU name and features; a process that only loads cached code should
not pay for importing LLVM to learn them again.  The answer is kept in a
small file next to the disk cache, named by a digest of what identifies the
machine to the operating system (``/proc/cpuinfo``: vendor, family, model,
stepping and the feature flags, plus the architecture) and of the llvmlite
install.  Another CPU, other flags (a VM moved to another host) or another
llvmlite give another name, so a description is never reused across them.
Where there is no ``/proc/cpuinfo`` or no writable cache directory, LLVM is
asked every time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path

from frostline.fingerprint import digest
from frostline.stages.program import TargetSpec

_CPUINFO_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping", "flags",
                   "Features", "CPU implementer", "CPU architecture", "CPU variant",
                   "CPU part", "CPU revision")


@functools.cache
def host_target() -> TargetSpec:
    """This machine: process triple, CPU name and CPU features (as LLVM names them)."""
    return _description()[0]


@functools.cache
def versions() -> str:
    """The llvmlite and LLVM versions, which belong in every cache key."""
    return _description()[1]


@functools.cache
def _description() -> tuple[TargetSpec, str]:
    path = _description_path()
    if path is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            saved = json.loads(path.read_text())
            return TargetSpec(str(saved["triple"]), str(saved["cpu"]),
                              str(saved["features"])), str(saved["versions"])
    from frostline.backends.llvm import target

    spec, versions = target.host_target(), target.versions()
    if path is not None:
        _save(path, {"triple": spec.triple, "cpu": spec.cpu, "features": spec.features,
                     "versions": versions})
    return spec, versions


def _description_path() -> Path | None:
    """Where this machine's description is kept, or None (no cache, or no cpuinfo)."""
    from frostline.toolchain.cache import default_disk_cache

    cache = default_disk_cache()
    identity = _machine_identity()
    if cache is None or identity is None:
        return None
    return cache.directory / f"host-{identity[:32]}.json"


def _machine_identity() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            block = f.read(65536).split("\n\n", 1)[0]  # the first processor
    except OSError:
        return None
    fields = {}
    for line in block.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in _CPUINFO_FIELDS:
            fields[name.strip()] = value.strip()
    if not fields:
        return None
    import llvmlite  # the package only: its version, not the binding

    return digest("host", os.uname().machine, llvmlite.__version__, str(llvmlite.__file__),
                  *(f"{k}={fields[k]}" for k in sorted(fields)))


def _save(path: Path, description: dict[str, str]) -> None:
    """Write atomically; a cache directory that cannot be written only costs the shortcut."""
    tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(description, f)
        os.replace(tmp, path)
