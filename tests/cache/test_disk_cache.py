"""The disk cache in one process: entry format, damage, permissions, eviction, the command."""

from __future__ import annotations

import os
import stat
import warnings

import attrs
import numpy as np
import pytest

import frostline as fl
from frostline import cli
from frostline.backends.llvm.sharedlib import with_library
from frostline.dispatcher import MEMORY_CACHE
from frostline.stages.executable import ObjectCode
from frostline.toolchain import cache as cache_mod
from frostline.toolchain.cache import DiskCache, decode_entry, encode_entry, parse_size


def square_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s


def scaled(x, y):
    return x * y + 1.0


@pytest.fixture(scope="module")
def code() -> ObjectCode:
    # As entries store it: linked into a shared library where there is a linker.
    return with_library(fl.jit(square_sum, cache=False).compile("float64[::1]").object_code)


def key(n: int) -> str:
    return f"{n:064x}"


def test_put_then_get_returns_the_same_object_code(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    assert cache.get(key(1)) is None
    cache.put(key(1), code)
    got = cache.get(key(1))
    assert got == code
    assert len(cache) == 1 and cache.size() == cache.path(key(1)).stat().st_size


def test_directories_and_entries_are_private_to_their_owner(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    for directory in (cache.directory, cache.path(key(1)).parent.parent,
                      cache.path(key(1)).parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    for file in (cache.path(key(1)), cache.directory / "CACHEDIR.TAG", cache.directory / "usage"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_a_new_cache_directory_is_marked_as_frostline_s(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    tag = (cache.directory / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55\n") and "frostline" in tag
    assert cache.path(key(1)).parent.parent.name == "2", "entries of format 2 live under 2/"


def test_an_entry_is_only_valid_under_its_own_key(tmp_path, code):
    data = encode_entry(key(1), code)
    with pytest.raises(cache_mod.CorruptEntry, match="another key"):
        decode_entry(key(2), data)
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    cache.path(key(2)).write_bytes(data)  # e.g. a file copied to the wrong name
    with pytest.warns(fl.CacheWarning, match="another key"):
        assert cache.get(key(2)) is None


def damaged_variants(data: bytes) -> list[tuple[str, bytes]]:
    """Truncations, appended bytes, and one flipped byte in each of 64 ranges spanning the
    whole entry (magic, lengths, header, payload, checksum)."""
    n = len(data)
    variants = [(f"truncated to {k}", data[:k]) for k in (0, 1, 7, 8, 19, 20, n // 2, n - 32,
                                                          n - 1)]
    variants.append(("garbage appended", data + b"\0garbage"))
    for r in range(64):
        at = r * n // 64
        flipped = bytearray(data)
        flipped[at] ^= 0x5A
        variants.append((f"byte {at} of {n} flipped", bytes(flipped)))
    return variants


def test_every_damaged_entry_is_a_miss_with_a_warning_never_an_error(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    good = cache.path(key(1)).read_bytes()
    for what, data in damaged_variants(good):
        cache.path(key(1)).write_bytes(data)
        with pytest.warns(fl.CacheWarning, match="damaged") as record:
            assert cache.get(key(1)) is None, what
        assert len(record) == 1, what
    cache.put(key(1), code)  # the rewrite repairs it
    assert cache.get(key(1)) == code


def test_a_damaged_entry_is_compiled_again_and_rewritten(tmp_path):
    cache = DiskCache(tmp_path / "c")
    a = np.arange(6.0)
    MEMORY_CACHE.clear()
    assert fl.jit(square_sum, cache=cache)(a) == 55.0
    (entry,) = cache.entries()
    data = bytearray(entry.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    MEMORY_CACHE.clear()
    before = fl.stats()
    with pytest.warns(fl.CacheWarning, match="damaged"):
        assert fl.jit(square_sum, cache=cache)(a) == 55.0
    after = fl.stats()
    assert after["compiled"] == before["compiled"] + 1
    assert after["disk_writes"] == before["disk_writes"] + 1
    assert cache.get(entry.key) is not None  # valid again


def test_a_second_dispatcher_loads_from_disk_without_compiling(tmp_path):
    cache = DiskCache(tmp_path / "c")
    a = np.arange(4.0)
    MEMORY_CACHE.clear()  # an executable in memory would never reach this disk cache
    first = fl.jit(square_sum, cache=cache)
    assert first(a) == 14.0
    MEMORY_CACHE.clear()
    before = fl.stats()
    assert fl.jit(square_sum, cache=cache)(a) == 14.0
    after = fl.stats()
    assert after["compiled"] == before["compiled"]
    assert after["disk_hits"] == before["disk_hits"] + 1


def test_cache_false_neither_reads_nor_writes_the_disk(tmp_path):
    before = fl.stats()
    assert fl.jit(scaled, cache=False)(2.0, 3.0) == 7.0
    after = fl.stats()
    assert after["compiled"] == before["compiled"] + 1
    assert after["disk_writes"] == before["disk_writes"]


def test_an_unwritable_directory_warns_once_and_caches_in_memory(tmp_path, code):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = DiskCache(blocker / "cache")
    with pytest.warns(fl.CacheWarning, match="cannot write the disk cache") as record:
        cache.put(key(1), code)
        cache.put(key(2), code)
        DiskCache(blocker / "cache").put(key(3), code)  # another cache on the same directory
    assert len(record) == 1
    assert not cache.writable and cache.get(key(1)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fl.jit(scaled, cache=cache)(2.0, 2.0) == 5.0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_still_read(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    for directory in (cache.directory, cache.path(key(1)).parent):
        directory.chmod(0o500)
    try:
        assert cache.get(key(1)) == code
        with pytest.warns(fl.CacheWarning, match="cannot write"):
            cache.put(key(2), code)
    finally:
        for directory in (cache.directory, cache.path(key(1)).parent):
            directory.chmod(0o700)


def test_eviction_keeps_the_size_under_the_cap_and_drops_the_least_recently_used(
        tmp_path, code):
    entry_size = len(encode_entry(key(0), code))
    cache = DiskCache(tmp_path / "c", max_size=4 * entry_size + entry_size // 2)
    for n in range(4):
        cache.put(key(n), code)
        os.utime(cache.path(key(n)), (1000.0 + n, 1000.0 + n))  # n = 0 is the oldest
    assert cache.get(key(0)) is not None  # a hit makes it the most recently used
    cache.put(key(4), code)  # passes the cap: evict down to 80% of it
    assert cache.size() <= cache.max_size
    left = {e.key for e in cache.entries()}
    assert key(0) in left and key(4) in left
    assert key(1) not in left  # the least recently used went first


def test_prune_and_clear(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    for n in range(3):
        cache.put(key(n), code)
    stale = cache.path(key(0)).parent / (".tmp-" + "0" * 32)  # left by a killed writer
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    largest = max(cache.path(key(n)).stat().st_size for n in range(3))  # headers vary a little
    removed = cache.prune(max_size=largest)
    assert removed > 0 and len(cache) == 1 and not stale.exists()
    assert cache.clear() == 1 and len(cache) == 0
    assert DiskCache(tmp_path / "never-created").prune() == 0


def test_entries_describe_function_signature_and_target(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(key(1), code)
    cache.path(key(2)).write_bytes(b"junk")
    by_key = {e.key: e for e in cache.entries()}
    good = by_key[key(1)]
    assert good.function.endswith(":square_sum")
    assert good.signature == "square_sum(a: float64[::1]) -> float64"
    assert code.target_cpu in good.target and good.size > 0
    assert by_key[key(2)].function.startswith("<damaged")


@pytest.mark.parametrize(("text", "expected"), [
    ("1024", 1024), ("512k", 512 << 10), ("10M", 10 << 20), ("2G", 2 << 30), ("1.5g", 3 << 29),
    ("100MB", 100 << 20)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-5M", "M"])
def test_parse_size_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_the_environment_configures_the_default_cache(tmp_path, monkeypatch):
    try:
        monkeypatch.setenv("FROSTLINE_CACHE_DIR", str(tmp_path / "env"))
        monkeypatch.setenv("FROSTLINE_CACHE_SIZE", "3M")
        cache_mod.reset_default_disk_cache()
        configured = cache_mod.default_disk_cache()
        assert configured is not None
        assert configured.directory == tmp_path / "env" and configured.max_size == 3 << 20
        monkeypatch.setenv("FROSTLINE_CACHE", "0")
        cache_mod.reset_default_disk_cache()
        assert cache_mod.default_disk_cache() is None
    finally:
        monkeypatch.undo()
        cache_mod.reset_default_disk_cache()


def test_the_cache_command(tmp_path, code, capsys):
    directory = tmp_path / "c"
    cache = DiskCache(directory)
    cache.put(key(1), code)
    cache.put(key(2), code)
    assert cli.main(["cache", "--dir", str(directory), "info"]) == 0
    out = capsys.readouterr().out
    assert str(directory) in out and "entries:   2" in out
    assert cli.main(["cache", "--dir", str(directory), "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("square_sum(a: float64[::1]) -> float64") == 2
    assert code.target_cpu in out and "2 entries" in out
    assert cli.main(["cache", "--dir", str(directory), "prune", "--max-size", "1"]) == 0
    assert "0 entries" in capsys.readouterr().out
    cache.put(key(3), code)
    assert cli.main(["cache", "--dir", str(directory), "clear"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert cli.main(["cache", "--dir", str(directory), "prune", "--max-size", "x"]) == 2


def test_a_checked_entry_that_does_not_link_is_compiled_again(tmp_path):
    from frostline.stages.closure import Closure
    from frostline.toolchain.pipeline import default_toolchain

    cache = DiskCache(tmp_path / "c")
    f = fl.jit(scaled, cache=cache)
    closure = Closure(f.program, f.signature_from("float64, float64"))
    chain = default_toolchain()
    good = chain.object_code(closure)
    unlinkable = attrs.evolve(good, data=b"\x7fELF" + bytes(60),  # intact entry, bad code
                              shared_library=b"\x7fELF" + bytes(60))
    cache.put(chain.cached_object_code(cache).key(closure), unlinkable)
    MEMORY_CACHE.clear()
    with pytest.warns(fl.CacheWarning, match="does not load"):
        assert f(2.0, 4.0) == 9.0
    assert cache.get(chain.cached_object_code(cache).key(closure)).data == good.data


def test_the_cache_command_changes_nothing_in_a_directory_frostline_did_not_make(
        tmp_path, capsys):
    directory = tmp_path / "someone-s-results"
    (directory / "1" / "run_a").mkdir(parents=True)
    (directory / "1" / "run_a" / "result0.npy").write_bytes(bytes(16))
    (directory / "notes.txt").write_text("mine")
    for action in (["clear"], ["prune", "--max-size", "0"]):
        assert cli.main(["cache", "--dir", str(directory), *action]) == 1, action
        err = capsys.readouterr().err
        assert "refusing" in err and "CACHEDIR.TAG" in err, err
    assert cli.main(["cache", "--dir", str(directory), "info"]) == 0
    assert "refused" in capsys.readouterr().out
    assert sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) == [
        "1", "1/run_a", "1/run_a/result0.npy", "notes.txt"]
    with pytest.warns(fl.CacheWarning, match="not using the disk cache") as record:
        cache = DiskCache(directory)
        assert cache.get(key(1)) is None and len(cache) == 0
    assert len(record) == 1, "one warning per directory and process"
