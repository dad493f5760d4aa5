"""Bundles: the object code of many kernels in one file (``frostline build --bundle``).

``fl.load_bundle(path)`` installs a bundle's kernels in this process: a compile whose
closure is in it loads that code (``fl.stats()["bundle_hits"]``) before it looks in the
disk cache, so a deployed process compiles nothing even where no cache directory is
shared.  A bundle is keyed exactly as the disk cache is (closure, toolchain, versions,
host target), so it serves the machine kind it was built for; built for another CPU or
another frostline, or damaged, it installs nothing and says so with a ``BundleWarning``,
and its kernels compile as usual.

The file: a magic line, one line of JSON (format, host target, versions, entry count,
SHA-256 of the body), then the body, a pickle of ``{key: ObjectCode}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frostline.stages.executable import ObjectCode

MAGIC = b"frostline bundle\n"
FORMAT = 1


class BundleWarning(RuntimeWarning):
    """A bundle that cannot serve this process (damaged, another CPU, another frostline);
    its kernels are compiled again when called."""


_installed: dict[str, ObjectCode] = {}
_lock = threading.Lock()


def lookup(key: str) -> ObjectCode | None:
    """The installed object code for a cache key, or None."""
    return _installed.get(key)


def _host() -> dict[str, str]:
    from frostline.backends import llvm
    from frostline.toolchain.pipeline import default_toolchain

    target = llvm.host_target()
    return {"salt": default_toolchain().salt(), "cpu": target.cpu,
            "versions": llvm.versions()}


def write_bundle(path: str | os.PathLike[str], entries: Mapping[str, ObjectCode]) -> int:
    """Write ``entries`` (object-code key -> ObjectCode) to ``path``, atomically; the
    number of bytes written."""
    body = pickle.dumps(dict(entries), protocol=pickle.HIGHEST_PROTOCOL)
    header = {"format": FORMAT, **_host(), "count": len(entries),
              "sha256": hashlib.sha256(body).hexdigest()}
    data = MAGIC + json.dumps(header).encode() + b"\n" + body
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data)


class _Refused(Exception):
    pass


def read_bundle(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, ObjectCode]]:
    """The header and entries of a bundle; ``_Refused`` says why it cannot be used."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise _Refused(f"cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(MAGIC):
        raise _Refused("is not a frostline bundle")
    line, _, body = data[len(MAGIC):].partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError:
        raise _Refused("is damaged (its header is not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Refused(f"has format {header.get('format') if isinstance(header, dict) else '?'}"
                       f", this frostline reads format {FORMAT}")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise _Refused("is damaged (its contents do not match their checksum)")
    host = _host()
    if header.get("versions") != host["versions"]:
        raise _Refused(f"was built by {header.get('versions')}; this is {host['versions']}")
    if header.get("salt") != host["salt"]:
        raise _Refused(f"was built for CPU {header.get('cpu')!r}; this machine is "
                       f"{host['cpu']!r} (or another frostline built it)")
    try:
        entries = pickle.loads(body)
    except Exception as exc:  # a body that matches its checksum yet does not unpickle
        raise _Refused(f"is damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(entries, dict):
        raise _Refused("is damaged (its body is not a table of kernels)")
    return header, entries


def load_bundle(path: str | os.PathLike[str]) -> int:
    """Install the kernels of a bundle in this process; the number installed.

    A bundle this process cannot use (damaged, built for another CPU or another
    frostline) installs nothing: a ``BundleWarning`` says why, and the kernels compile
    when called, as without it."""
    try:
        _, entries = read_bundle(path)
    except _Refused as why:
        warnings.warn(f"frostline: the bundle {os.fspath(path)} {why}; its kernels will "
                      "be compiled when called", BundleWarning, stacklevel=2)
        return 0
    with _lock:
        _installed.update(entries)
    return len(entries)


def unload_bundles() -> None:
    """Forget every installed bundle (executables already loaded stay)."""
    with _lock:
        _installed.clear()
