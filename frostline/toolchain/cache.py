"""The disk cache: object code addressed by content, shared by processes, robust like
ccache, and careful about whose files it trusts.

An entry is one file, ``<root>/2/<k[:2]>/<k>``, named by its key ``k`` (64 hex
digits, see ``CachedStep.key``), in the data-only format of ``entry_codec`` (never a
pickle).  Writes go to a temporary file of a random name in the same directory and
are renamed over the entry, so a reader sees a whole entry or none; many processes
may write the same key at once (the last rename wins; all wrote the same content).
A reader checks length, checksum, key and every field: a truncated, corrupted or
forged entry is a miss with a warning, never wrong code.

Loading an entry runs its native code, so the directory is a trust boundary:
``cachedir`` says which directories and files are used and how, and opens every
path without following links.  A directory that fails those rules, or a non-empty
one frostline did not make (it marks its own with a ``CACHEDIR.TAG``), is refused
with one warning per process, and caching goes on in memory; so does a directory
that cannot be written.  The total size is kept under a cap by evicting the least
recently used entries; a hit refreshes the entry's modification time, which is the
only use of file times (never in keys).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import attrs

from frostline import forksafe, stats
from frostline.stages.executable import ObjectCode
from frostline.toolchain import cachedir
from frostline.toolchain.cachedir import Access, closing
from frostline.toolchain.entry_codec import (
    FORMAT,
    MAGIC,
    MAX_ENTRY_SIZE,
    CorruptEntry,
    decode_entry,
    encode_entry,
    has_magic,
    read_entry,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: size accounting runs unlocked
    fcntl = None  # type: ignore[assignment]

DEFAULT_MAX_SIZE = 1 << 30
#: After an eviction the cache holds at most this fraction of its cap, so that
#: eviction (a directory scan) runs rarely.
_PRUNE_TO = 0.8
_KEY = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"[0-9a-f]{2}")
_BOOKKEEPING = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_RESERVED = {"lock", "usage", cachedir.TAG_NAME, FORMAT}
_MAX_BOOKKEEPING = 1 << 16

T = TypeVar("T")
_warned: set[tuple[str, Path]] = set()
_warned_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_warned_lock")


class CacheWarning(UserWarning):
    """The disk cache found a damaged entry, cannot be written, or is not safe to use;
    nothing is lost (the code is compiled and kept in memory)."""


class CacheRefused(Exception):
    """A cache directory frostline will not use, or will not change; the message says why."""


@attrs.frozen
class EntryInfo:
    """What ``frostline cache list`` shows about one entry (read from its header)."""

    path: Path
    key: str
    function: str
    signature: str
    target: str
    created: float
    last_used: float
    size: int


class DiskCache:
    """Object code on disk under content keys: ``get(key)`` and ``put(key, code)``.

    ``directory`` is created (owner-only permissions) and marked on the first write;
    an existing empty directory is adopted. ``max_size`` caps the total size in bytes;
    least recently used entries go first.
    """

    def __init__(self, directory: str | os.PathLike[str], max_size: int = DEFAULT_MAX_SIZE):
        self.directory = Path(directory)
        self.max_size = max_size
        self._writable: bool | None = None  # unknown until the first write
        self._refused: str | None = None
        self._marked: tuple[int, int] | None = None  # the root (device, inode) found marked

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r}, max_size={self.max_size})"

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives (for messages and listings)."""
        return self.directory / FORMAT / key[:2] / key

    @property
    def writable(self) -> bool:
        """False once a write failed or was refused (the warning has been given)."""
        return self._writable is not False and self._refused is None

    def check(self) -> Access | None:
        """How this process may use the directory: ``Access.WRITE`` or ``Access.READ``;
        None where it does not exist yet (or is empty); ``CacheRefused`` where it may not
        be used at all."""
        opened = self._open()
        if opened is None:
            return None
        os.close(opened[0])
        return opened[1]

    def get(self, key: str) -> ObjectCode | None:
        """The object code for ``key``, or None: missing, unreadable, damaged or in a
        refused directory (warned)."""
        _check_key(key)
        try:
            opened = self._open()
            if opened is None:
                return None
            with closing(opened[0]) as root:
                return self._get(root, opened[1], key)
        except CacheRefused:
            self._warn_refused()
        except OSError as exc:
            _warn(f"cannot read the cache entry {self.path(key)} ({exc}); compiling instead")
        return None

    def _get(self, root: int, access: Access, key: str) -> ObjectCode | None:
        path = self.path(key)
        shard = self._shard(root, key[:2])
        if shard is None:
            return None
        with closing(shard):
            try:
                data = cachedir.read_file(shard, key, MAX_ENTRY_SIZE, str(path))
            except cachedir.BadFile as exc:
                _warn(f"the cache entry {path} {exc}; compiling it again")
                return None
            except cachedir.Untrusted as exc:
                _warn(f"not loading the cache entry {path}: {exc}; compiling it again")
                return None
            if data is None:
                return None
            try:
                code = decode_entry(key, data)
            except CorruptEntry as exc:
                _warn(f"the cache entry {path} is damaged ({exc}); compiling it again")
                return None
            if access is Access.WRITE:
                with contextlib.suppress(OSError):  # least recently used eviction goes by it
                    os.utime(key, dir_fd=shard, follow_symlinks=False)
            return code

    def put(self, key: str, code: ObjectCode) -> None:
        """Store ``code`` under ``key``: atomically, or not at all (with one warning)."""
        _check_key(key)
        if not self.writable:
            return
        from frostline.backends.llvm.sharedlib import with_library

        try:
            data = encode_entry(key, with_library(code))
        except ValueError as exc:
            _warn(f"{exc}; it is cached in memory only")
            return
        try:
            root, access = self._open_for_writing()
            with closing(root):
                if access is not Access.WRITE:
                    self._disable("it is not this user's: it is read, never written")
                    return
                shard = self._shard(root, key[:2], create=True)
                if shard is None:
                    raise FileNotFoundError(f"{self.path(key).parent} vanished")
                with closing(shard):
                    cachedir.write_file(shard, key, data)
                self._writable = True
                stats.bump("disk_writes")
                self._account(root, len(data))
        except CacheRefused:
            self._warn_refused()
        except OSError as exc:
            self._disable(str(exc))

    def read_bookkeeping(self, name: str) -> bytes | None:
        """A small file kept next to the entries (the host description), read only from a
        directory the trust rules accept; None where it is missing or not a safe file."""
        _check_bookkeeping_name(name)
        try:
            opened = self._open()
            if opened is None:
                return None
            with closing(opened[0]) as root:
                return cachedir.read_file(root, name, _MAX_BOOKKEEPING, name)
        except CacheRefused:
            self._warn_refused()
        except (OSError, cachedir.BadFile, cachedir.Untrusted):
            pass
        return None

    def write_bookkeeping(self, name: str, data: bytes) -> bool:
        """Write such a file atomically, where the directory is this user's; False if not
        written (never warned: the file only saves work)."""
        _check_bookkeeping_name(name)
        if not self.writable:
            return False
        try:
            root, access = self._open_for_writing()
            with closing(root):
                if access is Access.WRITE:
                    cachedir.write_file(root, name, data)
                    return True
        except CacheRefused:
            self._warn_refused()
        except OSError:
            pass
        return False

    # -- the directory and its trust -----------------------------------------------------

    def _open(self, create: bool = False) -> tuple[int, Access] | None:
        """The root's descriptor (the caller closes it) and access; None where there is no
        cache yet. ``CacheRefused`` for a directory frostline may not use."""
        if self._refused is not None:
            raise CacheRefused(self._refused)
        if not cachedir.SUPPORTED:
            self._refuse("this platform lacks O_NOFOLLOW or O_DIRECTORY")
        if create:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.directory, 0o700)
        try:
            opened = cachedir.open_root(self.directory)
        except cachedir.Untrusted as exc:
            self._refuse(str(exc))
        except NotADirectoryError:
            if create:
                raise
            return None
        if opened is None:
            return None
        try:
            if self._usable(*opened, create):
                return opened
        except BaseException:
            os.close(opened[0])
            raise
        os.close(opened[0])
        return None

    def _open_for_writing(self) -> tuple[int, Access]:
        opened = self._open(create=True)
        if opened is None:
            raise FileNotFoundError(f"{self.directory} vanished")
        return opened

    def _usable(self, root: int, access: Access, create: bool) -> bool:
        """Whether the root is frostline's: marked, or empty and adopted now (``create``)."""
        st = os.fstat(root)
        if (st.st_dev, st.st_ino) == self._marked:
            return True
        if not cachedir.is_marked(root):
            if not cachedir.adoptable(root):
                self._refuse(f"it holds files and was not made by frostline (it has no "
                             f"{cachedir.TAG_NAME}); use a new or empty directory")
            if not create:
                return False
            if access is not Access.WRITE:
                return True  # to be refused by the writer, which writes nothing here
            cachedir.mark(root)
        self._marked = (st.st_dev, st.st_ino)
        return True

    def _shard(self, root: int, shard: str, create: bool = False) -> int | None:
        """The descriptor of ``<root>/2/<shard>`` (None if missing)."""
        entries = self._subdirectory(root, FORMAT, FORMAT, create)
        if entries is None:
            return None
        with closing(entries):
            return self._subdirectory(entries, shard, f"{FORMAT}/{shard}", create)

    def _subdirectory(self, parent: int, name: str, relative: str,
                      create: bool = False) -> int | None:
        try:
            return cachedir.open_directory(name, parent, str(self.directory / relative),
                                           create=create)
        except cachedir.Untrusted as exc:
            self._refuse(str(exc))

    def _refuse(self, reason: str) -> NoReturn:
        self._refused = reason
        raise CacheRefused(reason)

    def _warn_refused(self) -> None:
        if _first_time("refused", self.directory):
            _warn(f"not using the disk cache at {self.directory}: {self._refused}; "
                  "executables are cached in memory only in this process")

    def _disable(self, reason: str) -> None:
        self._writable = False
        if _first_time("unwritable", self.directory):  # however many caches use it
            _warn(f"cannot write the disk cache at {self.directory} ({reason}); executables "
                  "are cached in memory only in this process")

    # -- size accounting and eviction ------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, root: int) -> Iterator[None]:
        """Serialise size accounting and eviction across processes (entries need no lock)."""
        with closing(cachedir.open_lock(root, "lock")) as fd:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield  # closing releases the lock

    def _account(self, root: int, added: int) -> None:
        """Add ``added`` bytes to the recorded size; evict if it passes the cap."""
        with contextlib.suppress(OSError, CacheRefused):  # advisory: counted again later
            with self._locked(root):
                recorded = self._recorded_size(root)
                size = self._count(root) if recorded is None else recorded + added
                if size > self.max_size:
                    size = self._evict(root, int(self.max_size * _PRUNE_TO))[1]
                cachedir.write_file(root, "usage", str(size).encode())

    def _recorded_size(self, root: int) -> int | None:
        try:
            text = cachedir.read_file(root, "usage", 32, "usage")
            size = int(text or b"")
        except (OSError, ValueError, cachedir.BadFile, cachedir.Untrusted):
            return None  # missing or damaged record: count again
        return size if size >= 0 else None

    def _count(self, root: int) -> int:
        return sum(st.st_size for _, _, st in self._walk(root))

    def _evict(self, root: int, target: int) -> tuple[int, int]:
        """Remove least recently used entries until at most ``target`` bytes remain (every
        entry, for a negative target); returns how many went and the bytes left."""
        entries = sorted(((key, st.st_mtime, st.st_size) for _, key, st in self._walk(root)),
                         key=lambda e: e[1])
        total = sum(size for _, _, size in entries)
        removed = 0
        shards: dict[str, int | None] = {}
        top = self._subdirectory(root, FORMAT, FORMAT)
        if top is None:
            return 0, total
        try:
            for key, _, size in entries:
                if total <= target:
                    break
                if key[:2] not in shards:
                    shards[key[:2]] = self._subdirectory(top, key[:2], f"{FORMAT}/{key[:2]}")
                shard = shards[key[:2]]
                if shard is not None and _remove_entry(shard, key):
                    total -= size
                    removed += 1
        finally:
            for fd in [top, *(fd for fd in shards.values() if fd is not None)]:
                os.close(fd)
        return removed, total

    def _walk(self, root: int) -> Iterator[tuple[int, str, os.stat_result]]:
        """(shard descriptor, key, lstat) of every entry file: a regular file named by 64
        hexadecimal digits in the shard named by its first two; nothing else is seen."""
        top = self._subdirectory(root, FORMAT, FORMAT)
        if top is None:
            return
        with closing(top):
            for name in cachedir.directories(top, _SHARD):
                try:
                    shard = cachedir.open_directory(name, top, name)
                except (OSError, cachedir.Untrusted):
                    continue  # neither read nor changed
                if shard is None:
                    continue
                with closing(shard):
                    for key, st in list(cachedir.files(shard, _KEY)):
                        if key.startswith(name):
                            yield shard, key, st

    def _remove_stale_temporaries(self, root: int, age: float) -> None:
        now = time.time()
        cachedir.remove_stale(root, age, now)
        top = self._subdirectory(root, FORMAT, FORMAT)
        if top is None:
            return
        with closing(top):
            for name in cachedir.directories(top, _SHARD):
                with contextlib.suppress(OSError, cachedir.Untrusted):
                    shard = cachedir.open_directory(name, top, name)
                    if shard is not None:
                        with closing(shard):
                            cachedir.remove_stale(shard, age, now)

    # -- maintenance: what the ``frostline cache`` command uses ----------------------------

    def _each(self, visit: Callable[[int, str, os.stat_result], T]) -> list[T]:
        """``visit(shard descriptor, key, lstat)`` for every entry; nothing for a missing
        or refused directory (warned)."""
        try:
            opened = self._open()
            if opened is None:
                return []
            with closing(opened[0]) as root:
                return [visit(*found) for found in self._walk(root)]
        except CacheRefused:
            self._warn_refused()
        except OSError:
            pass
        return []

    def size(self) -> int:
        """The total size of the entries in bytes (counted now)."""
        return sum(self._each(lambda shard, key, st: st.st_size))

    def __len__(self) -> int:
        return len(self._each(lambda shard, key, st: key))

    def entries(self) -> list[EntryInfo]:
        """Every entry, most recently used first; damaged entries show as such."""
        return sorted(self._each(self._describe), key=lambda i: -i.last_used)

    def _describe(self, shard: int, key: str, st: os.stat_result) -> EntryInfo:
        path = self.path(key)
        try:
            data = cachedir.read_file(shard, key, MAX_ENTRY_SIZE, str(path))
            if data is None:
                raise FileNotFoundError(key)
            entry = read_entry(data)
        except (OSError, CorruptEntry, cachedir.BadFile, cachedir.Untrusted) as exc:
            return EntryInfo(path, key, f"<damaged: {exc}>", "", "", st.st_mtime,
                             st.st_mtime, st.st_size)
        abi = entry.code.abi
        return EntryInfo(path, entry.key, abi.qualified_name or abi.function_name,
                         abi.signature, f"{entry.code.target_triple} {entry.code.target_cpu}",
                         entry.created, st.st_mtime, st.st_size)

    def _open_to_change(self) -> tuple[int, Access] | None:
        """The root, for ``prune`` and ``clear``: ``CacheRefused`` unless it is ours."""
        opened = self._open()
        if opened is not None and opened[1] is not Access.WRITE:
            os.close(opened[0])
            raise CacheRefused("it is not this user's: frostline reads it and never "
                               "changes it")
        return opened

    def prune(self, max_size: int | None = None) -> int:
        """Evict least recently used entries down to ``max_size`` (default: the cap) and
        remove temporary files left by killed writers; returns the bytes removed.

        ``CacheRefused`` for a directory that frostline did not make or may not change."""
        cap = self.max_size if max_size is None else max_size
        opened = self._open_to_change()
        if opened is None:
            return 0
        with closing(opened[0]) as root:
            before = self._count(root)
            self._remove_stale_temporaries(root, 3600.0)
            with self._locked(root):
                after = self._evict(root, cap)[1]
                cachedir.write_file(root, "usage", str(after).encode())
        return before - after

    def clear(self) -> int:
        """Remove every entry (and temporary file); returns how many entries went.

        ``CacheRefused`` for a directory that frostline did not make or may not change."""
        opened = self._open_to_change()
        if opened is None:
            return 0
        with closing(opened[0]) as root, self._locked(root):
            removed = self._evict(root, -1)[0]
            self._remove_stale_temporaries(root, 0.0)
            cachedir.write_file(root, "usage", b"0")
        return removed


def _remove_entry(shard: int, key: str) -> bool:
    """Unlink an entry file, after checking it starts with frostline's magic."""
    prefix = cachedir.read_prefix(shard, key, len(MAGIC))
    if prefix is None or not has_magic(prefix):
        return False
    try:
        os.unlink(key, dir_fd=shard)
    except FileNotFoundError:
        return False
    return True


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"a cache key is 64 lowercase hexadecimal digits, not {key!r}")


def _check_bookkeeping_name(name: str) -> None:
    if not _BOOKKEEPING.fullmatch(name) or name in _RESERVED:
        raise ValueError(f"not a name for a bookkeeping file: {name!r}")


def _first_time(kind: str, directory: Path) -> bool:
    with _warned_lock:
        if (kind, directory) in _warned:
            return False
        _warned.add((kind, directory))
        return True


def _warn(message: str) -> None:
    warnings.warn(f"frostline: {message}", CacheWarning, stacklevel=4)


def parse_size(text: str) -> int:
    """Bytes from ``"1073741824"``, ``"512M"``, ``"2G"``, ``"100k"`` (powers of 1024)."""
    text = text.strip()
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    number, unit = text, 1
    suffix = text[-1:].lower()
    if suffix == "b" and len(text) > 1:
        text = text[:-1]
        suffix = text[-1:].lower()
        number = text
    if suffix in units:
        number, unit = text[:-1], units[suffix]
    try:
        value = float(number) * unit
    except ValueError:
        raise ValueError(f"not a size: {text!r} (examples: 1073741824, 512M, 2G)") from None
    if value < 0:
        raise ValueError(f"a cache size cannot be negative: {text!r}")
    return int(value)


def default_directory() -> Path:
    """``FROSTLINE_CACHE_DIR``, else the user cache directory (platformdirs conventions)."""
    configured = os.environ.get("FROSTLINE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # only when needed: it is not free at start-up

    return Path(platformdirs.user_cache_dir("frostline", appauthor=False))


@functools.cache
def default_disk_cache() -> DiskCache | None:
    """The process's disk cache, configured by the environment when first needed.

    ``FROSTLINE_CACHE=0`` turns it off (None); ``FROSTLINE_CACHE_DIR`` places it;
    ``FROSTLINE_CACHE_SIZE`` caps it (default 1 GiB).
    """
    if not cache_enabled():
        return None
    return DiskCache(default_directory(), configured_max_size())


def reset_default_disk_cache() -> None:
    """Read the environment again on the next ``default_disk_cache()`` (for tests and tools)."""
    default_disk_cache.cache_clear()


def cache_enabled() -> bool:
    """False when ``FROSTLINE_CACHE`` turns the disk cache off (0, false, no, off)."""
    return os.environ.get("FROSTLINE_CACHE", "1").strip().lower() not in (
        "0", "false", "no", "off")


def configured_max_size() -> int:
    """``FROSTLINE_CACHE_SIZE``, else 1 GiB."""
    size = os.environ.get("FROSTLINE_CACHE_SIZE")
    if size:
        try:
            return parse_size(size)
        except ValueError as exc:
            _warn(f"FROSTLINE_CACHE_SIZE: {exc}; using 1 GiB")
    return DEFAULT_MAX_SIZE
