"""Running frostline as someone whose cache others may tamper with.

The *victim* is a fresh interpreter that compiles a few kernels with a given cache
directory and reports one JSON line: whether the results were right, ``fl.stats()``, the
``CacheWarning`` messages, and whether it imported ``llvmlite.binding``.  When the tests
run as root the victim is user ``nobody`` (``setpriv --reuid=65534 --regid=65534
--clear-groups``), so files prepared by root, by ``nobody`` and by another uid are
owned as the scenario says; otherwise it is this user, and scenarios that need a
second user are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frostline as fl

from .test_fresh_process import SHARED_KERNELS

NOBODY = 65534
#: A user that exists nowhere: the owner of what "another user" prepared.
OTHER_USER = 4242
TIMEOUT = 120
PACKAGE_ROOT = str(Path(fl.__file__).resolve().parents[1])

#: Where ``nobody`` cannot read the interpreter's own files (say, under ``/root``), it gets
#: the one capability that lets it read and search any file; writes still obey
#: permissions, and frostline decides from ownership and modes (fstat), not access checks.
READ_ANYWHERE = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

#: ``kern.py``: the victim's kernels (``total``, ``sum_squares``, ``largest``, ``alternating``).
KERNELS = SHARED_KERNELS

RUN = """\
import json
import os
import sys
import warnings

import numpy as np

import frostline as fl
import kern

x = np.arange(1.0, 6.0)
names = os.environ["KERNELS"].split()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    results = [float(getattr(kern, name)(x)) for name in names]
print(json.dumps({
    "correct": results == [float(getattr(kern, name).py_func(x)) for name in names],
    "results": results, "stats": fl.stats(), "uid": os.geteuid(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, fl.CacheWarning)],
    "asked_llvm": "llvmlite.binding" in sys.modules}))
"""


def probe_nobody(workdir: Path) -> tuple[list[str] | None, str]:
    """The command prefix that runs a Python process as ``nobody`` able to import
    frostline, or None and why not."""
    if os.geteuid() != 0:
        return None, "not running as root: cannot prepare other users' files or become one"
    if subprocess.run(["sh", "-c", "command -v setpriv"], capture_output=True).returncode:
        return None, "setpriv is missing"
    probe = [sys.executable, "-c", "import os, numpy, llvmlite, frostline\n"
             f"assert os.geteuid() == {NOBODY}"]
    failures = []
    for extra in ([], READ_ANYWHERE):
        done = subprocess.run([*AS_NOBODY, *extra, *probe], cwd=workdir, capture_output=True,
                              text=True, timeout=TIMEOUT, env=clean_env({}))
        if done.returncode == 0:
            return [*AS_NOBODY, *extra], ""
        failures.append((done.stderr.strip().splitlines() or ["?"])[-1])
    return None, f"user nobody cannot run {sys.executable} with frostline: {failures}"


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROSTLINE_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=PACKAGE_ROOT, **extra)
    return env


@dataclass(frozen=True)
class Report:
    """What the victim reported."""

    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def moved(self, *names: str) -> tuple[int, ...]:
        return tuple(self.values["stats"][n] for n in names)


@dataclass(frozen=True)
class Victim:
    """A user of frostline with a home directory of their own (``src``, ``tmp``)."""

    prefix: tuple[str, ...]
    uid: int
    home: Path

    @classmethod
    def make(cls, directory: Path, prefix: list[str] | None) -> Victim:
        victim = cls(tuple(prefix or ()), NOBODY if prefix else os.geteuid(), directory / "home")
        for sub in ("src", "tmp", "docs"):
            (victim.home / sub).mkdir(parents=True)
        (victim.home / "src" / "kern.py").write_text(KERNELS)
        (victim.home / "src" / "run.py").write_text(RUN)
        victim.home.chmod(0o700)
        victim.own(victim.home)
        return victim

    def own(self, *paths: Path) -> None:
        """Give ``paths`` (and everything under them) to the victim, links included."""
        for path in paths:
            chown_tree(path, self.uid)

    def env(self, cache_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        return clean_env({"HOME": str(self.home), "TMPDIR": str(self.home / "tmp"),
                          "FROSTLINE_CACHE_DIR": str(cache_dir), **(extra or {})})

    def run(self, cache_dir: Path, kernels: str = "total",
            env: dict[str, str] | None = None, as_root: bool = False) -> Report:
        """Call ``kernels`` in a fresh interpreter with ``cache_dir``; ``as_root`` runs it
        as this test process's user (to build a cache others will share)."""
        command = [*(() if as_root else self.prefix), sys.executable, "run.py"]
        done = subprocess.run(command, cwd=self.home / "src", capture_output=True, text=True,
                              timeout=TIMEOUT, env=self.env(cache_dir, {"KERNELS": kernels,
                                                                        **(env or {})}))
        assert done.returncode == 0, f"the victim failed:\n{done.stderr}\n{done.stdout}"
        report = Report(json.loads(done.stdout.splitlines()[-1]))
        assert report["uid"] == (os.geteuid() if as_root else self.uid)
        return report

    def cache_command(self, cache_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``frostline cache --dir cache_dir ARGS`` as the victim."""
        return subprocess.run([*self.prefix, sys.executable, "-m", "frostline", "cache",
                               "--dir", str(cache_dir), *args], cwd=self.home / "src",
                              capture_output=True, text=True, timeout=TIMEOUT,
                              env=self.env(cache_dir))


def chown_tree(path: Path, uid: int, gid: int | None = None) -> None:
    """``chown -hR``, when this process may (root); a no-op for one's own files."""
    if os.geteuid() != 0:
        return
    gid = uid if gid is None else gid
    os.chown(path, uid, gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            chown_tree(child, uid, gid)


def chmod_tree(path: Path, directories: int, files: int) -> None:
    """Set the mode of every directory and regular file under ``path`` (links untouched)."""
    for item in [path, *path.rglob("*")]:
        if item.is_symlink():
            continue
        item.chmod(directories if item.is_dir() else files)


def entry_files(cache_dir: Path) -> list[Path]:
    """The entry files of format 2 (temporary files left out), counted by hand."""
    return sorted(p for p in (cache_dir / "2").glob("*/*")
                  if not p.name.startswith(".tmp-") and len(p.name) == 64)


def only_entry(cache_dir: Path) -> Path:
    entries = entry_files(cache_dir)
    assert len(entries) == 1, f"expected one cache entry, found {entries}"
    return entries[0]


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """What any change under ``root`` would show: for each path (links not followed) its
    kind, content digest or link target, mode, owner, size and modification time."""
    found: dict[str, tuple[Any, ...]] = {}

    def visit(path: Path) -> None:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            what: tuple[Any, ...] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            what = ("directory",)
        elif stat.S_ISREG(st.st_mode):
            what = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            what = ("other", stat.S_IFMT(st.st_mode))
        found[str(path.relative_to(root))] = (*what, stat.S_IMODE(st.st_mode), st.st_uid,
                                              st.st_size, st.st_mtime_ns)
        if stat.S_ISDIR(st.st_mode):
            for child in sorted(path.iterdir()):
                visit(child)

    visit(root)
    return found


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = textwrap.dedent(data).encode()
    path.write_bytes(data)
    return path


class Payload:
    """A pickle that creates the file ``marker`` if anything ever unpickles it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)
