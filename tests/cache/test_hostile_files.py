"""What frostline finds in a cache directory is not always what it wrote: someone's own
files, symbolic links, FIFOs, a pickle, a host description of the wrong shape.

Each scenario runs the victim (``victims.py``: ``nobody`` when the tests run as root,
else this user) in a fresh interpreter with a timeout, so a hang or a crash fails the
test instead of the run.  Nothing outside frostline's own entries and bookkeeping files
may change, and no link is followed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from frostline.backends.llvm import hostinfo, target
from frostline.toolchain.entry_codec import MAGIC, read_entry

from .victims import Payload, Victim, entry_files, only_entry, snapshot, write


def framed_pickle(entry: Path, marker: Path) -> bytes:
    """The entry's own header and a pickle that creates ``marker``, under this format's
    magic with a valid SHA-256: well framed, but not data."""
    import hashlib
    import pickle
    import struct

    data = entry.read_bytes()
    header = data[20:20 + struct.unpack_from("<I", data, 8)[0]]
    payload = pickle.dumps(Payload(marker))
    body = struct.pack("<8sIQ", MAGIC, len(header), len(payload)) + header + payload
    return body + hashlib.sha256(body).digest()


def test_a_pickle_in_the_users_own_cache_is_never_unpickled(victim):
    cache = victim.home / "cache"
    victim.run(cache)
    entry = only_entry(cache)
    marker = victim.home / "the-pickle-ran"
    entry.write_bytes(framed_pickle(entry, marker))
    report = victim.run(cache)
    assert report["correct"]
    [warning] = report["warnings"]
    assert "is damaged" in warning, warning
    assert report.moved("compiled", "disk_writes") == (1, 1)
    assert not marker.exists(), "the pickle in the entry ran"


def user_files(victim: Victim) -> tuple[Path, Path]:
    """A directory of someone's results, with a link to their documents."""
    docs = victim.home / "docs"
    write(docs / "thesis.txt", "chapter 1\n")
    write(docs / "sub" / "figure.npy", bytes(range(64)))
    data = victim.home / "results"
    write(data / "1" / "run_a" / "result0.npy", bytes(128))
    write(data / "notes.txt", "do not delete\n")
    (data / "1" / "zz").symlink_to(docs)
    victim.own(docs, data)
    return data, docs


def test_a_directory_of_someone_s_files_is_refused_and_left_as_it_was(victim):
    data, docs = user_files(victim)
    before = snapshot(data), snapshot(docs)
    report = victim.run(data, "total largest", env={"FROSTLINE_CACHE_SIZE": "1"})
    assert report["correct"]
    assert report.moved("compiled", "disk_writes") == (2, 0)
    [warning] = report["warnings"]
    assert "not using the disk cache" in warning and "CACHEDIR.TAG" in warning, warning
    for action in (["clear"], ["prune", "--max-size", "0"]):
        done = victim.cache_command(data, *action)
        assert done.returncode == 1, (action, done.stdout, done.stderr)
        assert "refusing" in done.stderr and "CACHEDIR.TAG" in done.stderr, done.stderr
    info = victim.cache_command(data, "info")
    assert info.returncode == 0 and "refused" in info.stdout, info.stdout
    assert (snapshot(data), snapshot(docs)) == before, "someone's files were changed"


def test_clear_and_eviction_touch_nothing_but_frostline_s_entries(victim):
    cache = victim.home / "cache"
    victim.run(cache, "total")
    docs = victim.home / "docs"
    precious = write(docs / "precious.txt", "keep me\n")
    used = {p.parent.name for p in entry_files(cache)}
    free = [f"{n:02x}" for n in range(256) if f"{n:02x}" not in used]
    shard = next(iter(used))
    strays = {
        "notes.txt": lambda p: write(p, "mine\n"),
        f"2/{free[0]}": lambda p: p.symlink_to(docs),  # a link named like a shard
        "2/zz": lambda p: p.symlink_to(docs),
        f"2/{shard}/notes.txt": lambda p: write(p, "mine too\n"),
        f"2/{shard}/{shard}{'0' * 62}": lambda p: p.symlink_to(precious),  # named like an entry
        f"2/{free[1]}/{free[1]}{'1' * 62}": lambda p: write(p, "not an entry\n"),
        f"2/{free[1]}/.tmp-not-frostline-s": lambda p: write(p, "a temporary of mine\n"),
        "1/run_a/result0.npy": lambda p: write(p, bytes(64)),
    }
    for name, make in strays.items():
        (cache / name).parent.mkdir(parents=True, exist_ok=True)
        make(cache / name)
    victim.own(cache, docs)
    stray_state = {name: (cache / name).lstat() for name in strays}
    before = snapshot(docs)

    def unchanged() -> None:
        for name, was in stray_state.items():
            now = (cache / name).lstat()
            assert (now.st_mode, now.st_size, now.st_mtime_ns) == (
                was.st_mode, was.st_size, was.st_mtime_ns), f"{name} was changed"
        assert snapshot(docs) == before, "a link was followed"

    evicting = victim.run(cache, "largest alternating", env={"FROSTLINE_CACHE_SIZE": "1"})
    assert evicting["correct"] and evicting["warnings"] == []
    assert evicting.moved("disk_writes") == (2,)
    assert [p for p in entry_files(cache) if p.read_bytes().startswith(MAGIC)] == []
    unchanged()
    victim.run(cache, "total largest")
    done = victim.cache_command(cache, "clear")
    assert done.returncode == 0 and "removed 2 entries" in done.stdout, done.stdout + done.stderr
    assert [p for p in entry_files(cache) if p.read_bytes().startswith(MAGIC)] == []
    unchanged()


FIFO_PLACES = ["entry", "usage", "lock", "host description"]


def place(cache: Path, where: str) -> Path:
    if where == "entry":
        return only_entry(cache)
    if where == "host description":
        name = hostinfo.description_name()
        if name is None:
            pytest.skip("no /proc/cpuinfo: no host description is kept")
        return cache / name
    return cache / where


@pytest.mark.parametrize("where", FIFO_PLACES)
def test_a_fifo_in_the_cache_never_blocks(victim, where):
    cache = victim.home / "cache"
    victim.run(cache)
    path = place(cache, where)
    path.unlink()
    os.mkfifo(path, 0o600)
    victim.own(path)
    report = victim.run(cache, "total largest")
    assert report["correct"]
    if where == "entry":
        [warning] = report["warnings"]
        assert "is not a regular file (a FIFO)" in warning, warning
        assert report.moved("compiled", "disk_writes") == (2, 2)
    else:
        assert report["warnings"] == []
        assert report.moved("compiled", "disk_hits") == (1, 1)
    assert stat.S_ISREG(path.lstat().st_mode), f"the FIFO at the {where} was not replaced"
    if where == "entry":
        path.unlink()
        os.mkfifo(path, 0o600)
        victim.own(path)
        for action in ("list", "info", "clear"):
            done = victim.cache_command(cache, action)  # times out if it blocks
            assert done.returncode == 0, (action, done.stderr)
        assert stat.S_ISFIFO(path.lstat().st_mode), "clear removed a FIFO it did not make"


@pytest.mark.parametrize("where", FIFO_PLACES)
def test_a_symbolic_link_in_the_cache_is_replaced_never_followed(victim, where):
    cache = victim.home / "cache"
    victim.run(cache)
    path = place(cache, where)
    target_file = victim.home / "docs" / "precious"
    if where == "entry":  # a valid entry: following the link would make it a hit
        os.replace(path, target_file)
    else:
        write(target_file, "precious\n")
        path.unlink()
    path.symlink_to(target_file)
    victim.own(path, target_file)
    before = snapshot(victim.home / "docs")
    report = victim.run(cache, "total largest")
    assert report["correct"]
    if where == "entry":
        [warning] = report["warnings"]
        assert "is a symbolic link" in warning, warning
        assert report.moved("compiled", "disk_hits", "disk_writes") == (2, 0, 2)
    else:
        assert report["warnings"] == []
        assert report.moved("compiled", "disk_hits") == (1, 1)
    assert snapshot(victim.home / "docs") == before, "a link's target was changed"
    assert not path.is_symlink(), f"the link at the {where} is still there"


def test_a_cache_directory_that_is_a_symbolic_link_is_refused(victim):
    real = victim.home / "real-cache"
    victim.run(real)
    link = victim.home / "cache-link"
    link.symlink_to(real)
    victim.own(link)
    before = snapshot(real)
    report = victim.run(link)
    assert report["correct"] and report.moved("compiled", "disk_hits") == (1, 0)
    [warning] = report["warnings"]
    assert "symbolic link" in warning, warning
    assert snapshot(real) == before


INVALID_HOST_FILES = {
    "a number for the triple": b'{"triple": 5}',
    "garbage bytes": bytes(range(256)) * 8,
    "fields of the wrong type": json.dumps({"triple": ["x86_64-unknown-linux-gnu"], "cpu": 7,
                                            "features": None, "versions": 1.5}).encode(),
    "empty strings": json.dumps({"triple": "", "cpu": "", "features": "",
                                 "versions": ""}).encode(),
    "a list": b"[1, 2, 3]",
    "deeply nested": b"[" * 100000 + b"]" * 100000,
    "empty": b"",
}


@pytest.mark.parametrize("content", INVALID_HOST_FILES.values(), ids=INVALID_HOST_FILES.keys())
def test_an_invalid_host_description_is_recomputed_and_rewritten(victim, content):
    cache = victim.home / "cache"
    victim.run(cache)
    path = place(cache, "host description")
    valid = path.read_bytes()
    path.write_bytes(content)
    report = victim.run(cache)
    assert report["correct"] and report["warnings"] == []
    assert report.moved("compiled", "disk_hits") == (0, 1), "the key changed"
    assert report["asked_llvm"], "the invalid description was believed"
    assert path.read_bytes() == valid, "the description was not rewritten"
    assert hostinfo.parse_description(valid) == (target.host_target(), target.versions())
    assert read_entry(only_entry(cache).read_bytes()).code.abi.function_name == "total"
