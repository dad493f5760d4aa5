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

The file is read only from a directory the cache's trust rules accept (see
``toolchain.cachedir``), through the same checks as entries (no symbolic link,
a regular file of bounded size), and each field must have the form frostline
writes; anything else is asked of LLVM again and rewritten.
"""

from __future__ import annotations

import functools
import json
import os
import re

from frostline.fingerprint import digest
from frostline.stages.program import TargetSpec

#: The form of each field of a host description, as LLVM and ``target.versions`` give it.
_SHAPES = {
    "triple": re.compile(r"[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)+"),
    "cpu": re.compile(r"[A-Za-z0-9_.+-]{1,128}"),
    "features": re.compile(r"[+-][A-Za-z0-9_.-]+(,[+-][A-Za-z0-9_.-]+)*"),
    "versions": re.compile(r"llvmlite=[A-Za-z0-9_.+-]+ llvm=[0-9]+(\.[0-9]+)*"),
}
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
    from frostline.toolchain.cache import default_disk_cache

    name = description_name()
    cache = default_disk_cache() if name is not None else None
    if cache is not None and name is not None:
        saved = parse_description(cache.read_bookkeeping(name))
        if saved is not None:
            return saved
    from frostline.backends.llvm import target

    spec, versions = target.host_target(), target.versions()
    if cache is not None and name is not None:
        data = encode_description(spec, versions)
        if parse_description(data) == (spec, versions):  # never write what is not read back
            cache.write_bookkeeping(name, data)
    return spec, versions


def description_name() -> str | None:
    """The file name of this machine's description in the cache directory, or None (no
    ``/proc/cpuinfo``)."""
    identity = _machine_identity()
    return None if identity is None else f"host-{identity[:32]}.json"


def encode_description(spec: TargetSpec, versions: str) -> bytes:
    """The bytes of a host description, as ``parse_description`` reads them."""
    return json.dumps({"triple": spec.triple, "cpu": spec.cpu, "features": spec.features,
                       "versions": versions}, sort_keys=True).encode("ascii")


def parse_description(data: bytes | None) -> tuple[TargetSpec, str] | None:
    """The target and versions in a host description; None unless every field has the
    form frostline writes (the file is then asked of LLVM again and rewritten)."""
    if data is None:
        return None
    try:
        saved = json.loads(data.decode("ascii"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(saved, dict) or set(saved) != {"triple", "cpu", "features", "versions"}:
        return None
    if not all(isinstance(saved[k], str) and _SHAPES[k].fullmatch(saved[k]) for k in _SHAPES):
        return None
    import llvmlite  # the package only: its version, not the binding

    if not saved["versions"].startswith(f"llvmlite={llvmlite.__version__} "):
        return None
    return TargetSpec(saved["triple"], saved["cpu"], saved["features"]), saved["versions"]


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
