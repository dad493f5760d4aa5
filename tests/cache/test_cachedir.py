"""The rules and file operations of a cache directory, one at a time (as this user; the
same rules with real owners: test_trust.py)."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from frostline.toolchain import cachedir
from frostline.toolchain.cachedir import Access, BadFile, Untrusted

ME = os.geteuid()
ANOTHER = 4242 if ME != 4242 else 4243


def fake_stat(uid: int, mode: int, kind: int = stat.S_IFDIR) -> os.stat_result:
    return os.stat_result((kind | mode, 1, 1, 1, uid, uid, 0, 0, 0, 0))


#: (owner, mode, file or directory) -> what ``judge`` allows (None: refused).
RULES = {
    "mine, 0700": (ME, 0o700, stat.S_IFDIR, Access.WRITE),
    "mine, 0755 (a user's mkdir)": (ME, 0o755, stat.S_IFDIR, Access.WRITE),
    "mine, group-writable": (ME, 0o770, stat.S_IFDIR, None),
    "mine, writable by others": (ME, 0o702, stat.S_IFDIR, None),
    "mine, a file writable by everyone": (ME, 0o666, stat.S_IFREG, None),
    "root's, 0755": (0, 0o755, stat.S_IFDIR, Access.WRITE if ME == 0 else Access.READ),
    "root's, sticky and writable by all": (0, 0o1777, stat.S_IFDIR, None),
    "another user's, no write bit at all": (ANOTHER, 0o555, stat.S_IFDIR, Access.READ),
    "another user's file, no write bit at all": (ANOTHER, 0o444, stat.S_IFREG, Access.READ),
    "another user's, who may write it": (ANOTHER, 0o755, stat.S_IFDIR, None),
    "another user's file, who may write it": (ANOTHER, 0o644, stat.S_IFREG, None),
    "another user's, writable by everyone": (ANOTHER, 0o777, stat.S_IFDIR, None),
}


@pytest.mark.parametrize(("owner", "mode", "kind", "allowed"), RULES.values(), ids=RULES.keys())
def test_who_may_write_decides_how_a_directory_or_file_is_used(owner, mode, kind, allowed):
    st = fake_stat(owner, mode, kind)
    if allowed is None:
        with pytest.raises(Untrusted, match="writable by|can write"):
            cachedir.judge(st, "it")
    else:
        assert cachedir.judge(st, "it") is allowed


@pytest.fixture
def directory(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield tmp_path, fd
    os.close(fd)


def test_files_are_written_under_a_fresh_name_that_no_planted_link_can_take(
        directory, monkeypatch):
    path, fd = directory
    target = path / "target"
    target.write_text("untouched")
    monkeypatch.setattr(os, "urandom", lambda n: bytes(n))  # the name an attacker would guess
    (path / (".tmp-" + "00" * 16)).symlink_to(target)
    with pytest.raises(FileExistsError):
        cachedir.write_file(fd, "usage", b"123")
    assert target.read_text() == "untouched" and not (path / "usage").exists()


def test_writing_over_a_link_replaces_the_link_not_its_target(directory):
    path, fd = directory
    target = path / "target"
    target.write_text("untouched")
    (path / "usage").symlink_to(target)
    cachedir.write_file(fd, "usage", b"123")
    assert target.read_text() == "untouched"
    assert not (path / "usage").is_symlink() and (path / "usage").read_bytes() == b"123"
    assert stat.S_IMODE((path / "usage").stat().st_mode) == 0o600
    assert [n for n in os.listdir(path) if n.startswith(".tmp-")] == []


def test_reading_refuses_links_fifos_directories_and_files_too_large(directory):
    path, fd = directory
    (path / "real").write_bytes(b"x" * 10)
    (path / "link").symlink_to(path / "real")
    os.mkfifo(path / "fifo")
    (path / "dir").mkdir()
    assert cachedir.read_file(fd, "real", 10, "real") == b"x" * 10
    assert cachedir.read_file(fd, "missing", 10, "missing") is None
    for name, message in (("link", "symbolic link"), ("fifo", "a FIFO"),
                          ("dir", "a directory")):
        with pytest.raises(BadFile, match=message):
            cachedir.read_file(fd, name, 10, name)
    with pytest.raises(BadFile, match="larger than 9 bytes"):
        cachedir.read_file(fd, "real", 9, "real")
    (path / "open").write_bytes(b"")
    (path / "open").chmod(0o666)
    with pytest.raises(Untrusted, match="writable by"):
        cachedir.read_file(fd, "open", 10, "open")


def test_a_fifo_where_a_file_should_be_never_blocks_a_reader(directory):
    path, fd = directory
    os.mkfifo(path / "entry")
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(_attempt(fd, "entry")),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], BadFile)


def _attempt(fd: int, name: str) -> object:
    try:
        return cachedir.read_file(fd, name, 100, name)
    except BadFile as exc:
        return exc


def test_a_sub_directory_that_is_a_link_is_untrusted(directory, tmp_path_factory):
    path, fd = directory
    (path / "2").symlink_to(tmp_path_factory.mktemp("elsewhere"))
    with pytest.raises(Untrusted, match="symbolic link"):
        cachedir.open_directory("2", fd, "2")
    assert cachedir.open_directory("missing", fd, "missing") is None


def test_only_an_empty_directory_is_adopted_and_marked(directory):
    path, fd = directory
    (path / (".tmp-" + "ab" * 16)).write_bytes(b"")  # another process marking it now
    assert cachedir.adoptable(fd)
    cachedir.mark(fd)
    assert cachedir.is_marked(fd)
    tag = (path / "CACHEDIR.TAG").read_bytes()
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55") and b"frostline" in tag
    (path / "CACHEDIR.TAG").unlink()
    (path / "notes.txt").write_text("someone's")
    assert not cachedir.adoptable(fd) and not cachedir.is_marked(fd)
    (path / "CACHEDIR.TAG").symlink_to(path / "notes.txt")
    assert not cachedir.is_marked(fd), "a linked tag does not count"


def test_the_lock_file_is_never_a_link(directory):
    path, fd = directory
    target = path / "target"
    target.write_text("untouched")
    (path / "lock").symlink_to(target)
    lock = cachedir.open_lock(fd, "lock")
    os.close(lock)
    assert target.read_text() == "untouched"
    assert (path / "lock").is_file() and not (path / "lock").is_symlink()


def test_only_frostline_s_stale_temporaries_are_removed(directory):
    path, fd = directory
    ours, theirs = path / (".tmp-" + "cd" * 16), path / ".tmp-someone-else-s"
    for file in (ours, theirs):
        file.write_bytes(b"")
        os.utime(file, (0, 0))
    cachedir.remove_stale(fd, 3600.0, now=7200.0)
    assert not ours.exists() and theirs.exists()


def test_an_unmarked_cache_of_an_earlier_frostline_is_adopted(directory):
    """Format-1 caches (before the marker) hold only frostline's names: upgrading keeps
    the directory usable; anything else in it makes it someone else's."""
    path, fd = directory
    shard = path / "1" / "ab"
    shard.mkdir(parents=True)
    (shard / ("ab" + "0" * 62)).write_bytes(b"FLCACHE\x01...")
    (shard / ".tmp-k3j2h1").write_bytes(b"")
    for name in ("lock", "usage", "host-" + "f" * 32 + ".json"):
        (path / name).write_text("")
    assert cachedir.adoptable(fd)
    (shard / "result0.npy").write_bytes(b"user data")
    assert not cachedir.adoptable(fd)
    (shard / "result0.npy").unlink()
    (path / "1" / "run_a").mkdir()
    assert not cachedir.adoptable(fd)
    (path / "1" / "run_a").rmdir()
    (path / "usage").unlink()
    (path / "usage").symlink_to(path / "lock")
    assert not cachedir.adoptable(fd), "a link where a file should be is not frostline's"
