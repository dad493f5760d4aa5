"""The cache directory is a trust boundary: tested for real with a second user.

As root, each test lays out a cache directory owned by root, by ``nobody`` or by
another uid, with the modes of its scenario, and plants entries; then ``nobody`` (the
victim, see ``victims.py``) compiles with it in a fresh interpreter.  A directory or
file others can write is refused, and what was planted there never runs; a cache
shared read-only on purpose is read and never written; the victim's own cache is
read and written.  Tests that need a second user skip where the tests do not run as
root or cannot become ``nobody``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from frostline.backends.llvm import hostinfo, sharedlib
from frostline.toolchain.cachedir import TAG
from frostline.toolchain.entry_codec import encode_entry, read_entry

from .victims import (
    NOBODY,
    OTHER_USER,
    Payload,
    Victim,
    chmod_tree,
    chown_tree,
    entry_files,
    only_entry,
    snapshot,
    write,
)

HAS_LINKER = sharedlib._linker() is not None


def pickled_entry(key: str, marker: Path) -> bytes:
    """The original attack: a format-1 entry, right magic, header and SHA-256, whose
    payload is a pickle that runs a command."""
    import hashlib
    import pickle
    import struct

    header = json.dumps({"key": key, "function": "kern:total"}).encode()
    payload = pickle.dumps(Payload(marker))
    body = struct.pack("<8sIQ", b"FLCACHE\x01", len(header), len(payload)) + header + payload
    return body + hashlib.sha256(body).digest()


def entries_by_function(cache_dir: Path) -> dict[str, Path]:
    return {read_entry(p.read_bytes()).code.abi.function_name: p for p in entry_files(cache_dir)}


def wrong_code_entry(key: str, other: Path) -> bytes:
    """A well-formed entry for ``key`` holding another kernel's code: whoever loads it
    gets that kernel's result (the attack on a data-only format: native code)."""
    return encode_entry(key, read_entry(other.read_bytes()).code)


@dataclass(frozen=True)
class Layout:
    """(owner, mode) of the cache directory, of its sub-directories, and of its files;
    None for the victim."""

    root: tuple[int | None, int]
    inner: tuple[int | None, int]
    files: tuple[int | None, int]


REFUSED = {
    "made by another user, everyone may write": Layout(
        (OTHER_USER, 0o777), (OTHER_USER, 0o777), (OTHER_USER, 0o666)),
    "another user's, who may write it": Layout(
        (OTHER_USER, 0o755), (OTHER_USER, 0o755), (OTHER_USER, 0o644)),
    "root's, everyone may write it": Layout((0, 0o777), (0, 0o777), (0, 0o666)),
    "root's, everyone may write it, sticky like /tmp": Layout(
        (0, 0o1777), (0, 0o755), (0, 0o644)),
    "the victim's own, group-writable": Layout((None, 0o770), (None, 0o700), (None, 0o600)),
    "the victim's own, a sub-directory everyone may write": Layout(
        (None, 0o700), (OTHER_USER, 0o777), (OTHER_USER, 0o666)),
}


def apply(layout: Layout, root: Path, victim: Victim) -> None:
    def set_(path: Path, owner_mode: tuple[int | None, int]) -> None:
        owner, mode = owner_mode
        uid = victim.uid if owner is None else owner
        os.chown(path, uid, uid)
        path.chmod(mode)

    for path in sorted(root.rglob("*"), reverse=True):
        set_(path, layout.inner if path.is_dir() else layout.files)
    set_(root, layout.root)


@pytest.mark.parametrize("layout", REFUSED.values(), ids=REFUSED.keys())
def test_a_cache_directory_others_can_write_is_refused_and_what_was_planted_never_runs(
        nobody, case_dir, layout):
    own = nobody.home / "own-cache"
    nobody.run(own, "total largest")
    entries = entries_by_function(own)
    key = entries["total"].name
    marker = nobody.home / "the-planted-code-ran"  # nobody could create it, if it ran
    planted = case_dir / "planted"
    write(planted / "CACHEDIR.TAG", TAG)
    write(planted / "2" / key[:2] / key, wrong_code_entry(key, entries["largest"]))
    write(planted / "1" / key[:2] / key, pickled_entry(key, marker))
    write(planted / "usage", b"0")
    host = hostinfo.description_name()
    if host is not None:  # a description that, if believed, would target another machine
        write(planted / host, json.dumps({"triple": "evil-unknown-none", "cpu": "generic",
                                          "features": "+evil", "versions": hostinfo.versions()}))
    apply(layout, planted, nobody)
    before = snapshot(planted)
    report = nobody.run(planted)
    assert report["correct"], f"the planted code answered: {report['results']}"
    assert report.moved("compiled", "disk_hits", "disk_writes") == (1, 0, 0), report["stats"]
    [warning] = report["warnings"]
    assert "not using the disk cache" in warning and "writ" in warning, warning
    assert not marker.exists(), "the planted pickle ran"
    assert snapshot(planted) == before, "a refused directory was changed"


UNTRUSTED_ENTRIES = {"the victim's, everyone may write it": (None, 0o666),
                     "another user's, who may write it": (OTHER_USER, 0o644)}


@pytest.mark.parametrize(("owner", "mode"), UNTRUSTED_ENTRIES.values(),
                         ids=UNTRUSTED_ENTRIES.keys())
def test_an_entry_file_others_can_write_is_not_loaded_and_is_replaced(
        request, owner, mode):
    victim = request.getfixturevalue("victim" if owner is None else "nobody")
    cache = victim.home / "cache"
    victim.run(cache, "total largest")
    entries = entries_by_function(cache)
    entry = entries["total"]
    entry.write_bytes(wrong_code_entry(entry.name, entries["largest"]))
    chown_tree(entry, victim.uid if owner is None else owner)
    entry.chmod(mode)
    report = victim.run(cache)
    assert report["correct"], f"an untrusted entry was loaded: {report['results']}"
    [warning] = report["warnings"]
    assert "not loading the cache entry" in warning and entry.name in warning, warning
    assert report.moved("compiled", "disk_writes") == (1, 1)
    st = entry.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (victim.uid, 0o600), "not replaced"
    assert read_entry(entry.read_bytes()).code.abi.function_name == "total"


SHARED = {"another user's, writable by nobody": (OTHER_USER, 0o555, 0o444),
          "root's, writable by root only": (0, 0o755, 0o644)}


@pytest.mark.parametrize(("owner", "directories", "files"), SHARED.values(),
                         ids=SHARED.keys())
def test_a_cache_shared_read_only_is_read_and_never_written(
        nobody, case_dir, owner, directories, files):
    shared = case_dir / "shared"
    nobody.run(shared, "total", as_root=True)  # built in advance, then handed over
    chown_tree(shared, owner)
    chmod_tree(shared, directories, files)
    before = snapshot(shared)
    warm = nobody.run(shared, "total")
    assert warm["correct"] and warm["warnings"] == []
    assert warm.moved("compiled", "disk_hits", "disk_writes") == (0, 1, 0), warm["stats"]
    if HAS_LINKER:
        assert not warm["asked_llvm"], "the shared host description was not used"
    mixed = nobody.run(shared, "total largest")
    assert mixed["correct"]
    assert mixed.moved("compiled", "disk_hits", "disk_writes") == (1, 1, 0), mixed["stats"]
    [warning] = mixed["warnings"]
    assert "cannot write the disk cache" in warning, warning
    listing = nobody.cache_command(shared, "list")
    assert listing.returncode == 0 and "1 entry" in listing.stdout, listing.stderr
    for action in (["clear"], ["prune", "--max-size", "0"]):
        done = nobody.cache_command(shared, *action)
        assert done.returncode == 1 and "refusing" in done.stderr, (action, done.stderr)
    assert snapshot(shared) == before, "a read-only shared cache was changed"


@pytest.mark.parametrize("existing", [False, True],
                         ids=["made by frostline", "an empty directory adopted"])
def test_the_users_own_cache_is_read_and_written(victim, existing):
    cache = victim.home / "cache"
    if existing:
        cache.mkdir(mode=0o755)  # as a user's mkdir makes it
        victim.own(cache)
    first = victim.run(cache)
    assert first["correct"] and first["warnings"] == []
    assert first.moved("compiled", "disk_writes", "disk_hits") == (1, 1, 0), first["stats"]
    second = victim.run(cache)
    assert second["correct"] and second["warnings"] == []
    assert second.moved("compiled", "disk_writes", "disk_hits") == (0, 0, 1), second["stats"]
    if HAS_LINKER:
        assert not second["asked_llvm"]
    assert (cache / "CACHEDIR.TAG").read_bytes() == TAG
    for path in [cache, *cache.rglob("*")]:
        st = path.lstat()
        assert st.st_uid == victim.uid, path
        if path != cache:
            assert stat.S_IMODE(st.st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(cache.stat().st_mode) == (0o755 if existing else 0o700)
    assert only_entry(cache).parent.parent == cache / "2"
    assert victim.uid == NOBODY or os.geteuid() != 0
