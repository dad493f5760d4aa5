"""The disk cache: object code addressed by content, shared by processes, robust like ccache.

An entry is one file, ``<root>/1/<k[:2]>/<k>``, named by its key ``k`` (see
``CachedStep.key``).  Its layout::

    magic (8 bytes) | header length (u32) | payload length (u64)
    | header (JSON: key, function, signature, target, created, versions)
    | payload (pickled ObjectCode) | SHA-256 of everything before it (32 bytes)

Writes go to a temporary file in the same directory and are renamed over the
entry, so a reader sees a whole entry or none; many processes may write the
same key at once (the last rename wins, and every writer wrote the same
content).  A reader checks length, checksum and key before unpickling, so a
truncated or corrupted entry is a miss with a warning, never wrong code.  A
directory that cannot be written degrades to in-memory caching with one
warning.  The total size is kept under a cap by evicting the least recently
used entries; a hit refreshes the entry's modification time, which is the
only use of file times (never in keys).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import struct
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import attrs

from frostline import __version__, stats
from frostline.stages.executable import ObjectCode

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: size accounting runs unlocked
    fcntl = None  # type: ignore[assignment]

MAGIC = b"FLCACHE\x01"
FORMAT = "1"
_PREFIX = struct.Struct("<8sIQ")
_CHECKSUM_SIZE = 32
DEFAULT_MAX_SIZE = 1 << 30
#: After an eviction the cache holds at most this fraction of its cap, so that
#: eviction (a directory scan) runs rarely.
_PRUNE_TO = 0.8


_unwritable: set[Path] = set()
_unwritable_lock = threading.Lock()


class CacheWarning(UserWarning):
    """The disk cache found a damaged entry or cannot be written; nothing is lost."""


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


def encode_entry(key: str, code: ObjectCode) -> bytes:
    """The bytes of a cache entry holding ``code`` under ``key``."""
    header = json.dumps({
        "key": key,
        "function": code.abi.qualified_name or code.abi.function_name,
        "signature": code.abi.signature,
        "target": f"{code.target_triple} {code.target_cpu}",
        "created": time.time(),
        "frostline": __version__,
    }).encode()
    payload = pickle.dumps(code, protocol=pickle.HIGHEST_PROTOCOL)
    body = _PREFIX.pack(MAGIC, len(header), len(payload)) + header + payload
    return body + hashlib.sha256(body).digest()


class CorruptEntry(Exception):
    """An entry whose bytes do not check out; the message says how."""


def _split(data: bytes) -> tuple[dict[str, object], bytes]:
    """Header and payload of an entry, after checking magic, lengths and checksum."""
    if len(data) < _PREFIX.size + _CHECKSUM_SIZE:
        raise CorruptEntry(f"truncated ({len(data)} bytes)")
    magic, header_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CorruptEntry("not a frostline cache entry (bad magic)")
    if len(data) != _PREFIX.size + header_len + payload_len + _CHECKSUM_SIZE:
        raise CorruptEntry(f"truncated or padded ({len(data)} bytes)")
    body, checksum = data[:-_CHECKSUM_SIZE], data[-_CHECKSUM_SIZE:]
    if hashlib.sha256(body).digest() != checksum:
        raise CorruptEntry("checksum mismatch")
    start = _PREFIX.size
    try:
        header = json.loads(data[start:start + header_len])
    except ValueError as exc:
        raise CorruptEntry(f"unreadable header ({exc})") from None
    if not isinstance(header, dict):
        raise CorruptEntry("unreadable header")
    return header, data[start + header_len:start + header_len + payload_len]


def decode_entry(key: str, data: bytes) -> ObjectCode:
    """The object code stored in an entry for ``key``; ``CorruptEntry`` if it is not one."""
    header, payload = _split(data)
    if header.get("key") != key:
        raise CorruptEntry("entry stored under another key")
    try:
        code = pickle.loads(payload)
    except Exception as exc:  # a checked payload that still fails: a frostline version skew
        raise CorruptEntry(f"payload does not unpickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(code, ObjectCode):
        raise CorruptEntry(f"payload is a {type(code).__name__}, not ObjectCode")
    return code


class DiskCache:
    """Object code on disk under content keys: ``get(key)`` and ``put(key, code)``.

    ``directory`` is created (owner-only permissions) on the first write.
    ``max_size`` caps the total size in bytes; least recently used entries go first.
    """

    def __init__(self, directory: str | os.PathLike[str], max_size: int = DEFAULT_MAX_SIZE):
        self.directory = Path(directory)
        self.max_size = max_size
        self._entries = self.directory / FORMAT
        self._writable: bool | None = None  # unknown until the first write

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r}, max_size={self.max_size})"

    def path(self, key: str) -> Path:
        return self._entries / key[:2] / key

    @property
    def writable(self) -> bool:
        """False once a write failed (the warning has been given); reads go on."""
        return self._writable is not False

    def get(self, key: str) -> ObjectCode | None:
        """The object code for ``key``, or None: missing, unreadable or damaged (warned)."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            _warn(f"cannot read the cache entry {path} ({exc}); compiling instead")
            return None
        try:
            code = decode_entry(key, data)
        except CorruptEntry as exc:
            _warn(f"the cache entry {path} is damaged ({exc}); compiling it again")
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used eviction goes by modification time
        return code

    def put(self, key: str, code: ObjectCode) -> None:
        """Store ``code`` under ``key``: atomically, or not at all (with one warning)."""
        if self._writable is False:
            return
        from frostline.backends.llvm.sharedlib import with_library

        data = encode_entry(key, with_library(code))
        path = self.path(key)
        try:
            self._make_directories(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            self._disable(exc)
            return
        self._writable = True
        stats.bump("disk_writes")
        self._account(len(data))

    def _make_directories(self, leaf: Path) -> None:
        """The cache directory and its sub-directories, readable by their owner only."""
        for directory in (self.directory, self._entries, leaf):
            if not directory.is_dir():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _disable(self, exc: OSError) -> None:
        with _unwritable_lock:
            self._writable = False
            if self.directory in _unwritable:
                return  # one warning per directory and process, however many caches use it
            _unwritable.add(self.directory)
        _warn(f"cannot write the disk cache at {self.directory} ({exc}); executables are "
              "cached in memory only in this process")

    # -- size accounting and eviction ------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise size accounting and eviction across processes (entries need no lock)."""
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _account(self, added: int) -> None:
        """Add ``added`` bytes to the recorded size; evict if it passes the cap."""
        usage = self.directory / "usage"
        try:
            with self._locked():
                try:
                    size = int(usage.read_text() or 0) + added
                except (OSError, ValueError):
                    size = self.size()  # missing or damaged record: count again
                if size > self.max_size:
                    size = self._evict(int(self.max_size * _PRUNE_TO))
                _write_small(usage, str(size))
        except OSError:
            pass  # the record is advisory: the next write or prune counts again

    def _evict(self, target: int) -> int:
        """Remove least recently used entries until at most ``target`` bytes remain."""
        entries = sorted(self._scan(), key=lambda e: e[1])
        total = sum(size for _, _, size in entries)
        for path, _, size in entries:
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                total -= size
        return total

    def _scan(self) -> Iterator[tuple[Path, float, int]]:
        """(path, last use, size) of every entry; temporary files are skipped."""
        if not self._entries.is_dir():
            return
        for sub in os.scandir(self._entries):
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                if entry.name.startswith(".tmp-"):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat()
                    yield Path(entry.path), st.st_mtime, st.st_size

    # -- maintenance: what the ``frostline cache`` command uses ----------------------------

    def size(self) -> int:
        """The total size of the entries in bytes (counted now)."""
        return sum(size for _, _, size in self._scan())

    def __len__(self) -> int:
        return sum(1 for _ in self._scan())

    def entries(self) -> list[EntryInfo]:
        """Every entry, most recently used first; damaged entries show as such."""
        infos = []
        for path, last_used, size in self._scan():
            try:
                header, _ = _split(path.read_bytes())
                info = EntryInfo(path, str(header.get("key", path.name)),
                                 str(header.get("function", "?")),
                                 str(header.get("signature", "?")),
                                 str(header.get("target", "?")),
                                 float(header.get("created", last_used)),  # type: ignore
                                 last_used, size)
            except (OSError, CorruptEntry, TypeError, ValueError) as exc:
                info = EntryInfo(path, path.name, f"<damaged: {exc}>", "", "", last_used,
                                 last_used, size)
            infos.append(info)
        return sorted(infos, key=lambda i: -i.last_used)

    def prune(self, max_size: int | None = None) -> int:
        """Evict least recently used entries down to ``max_size`` (default: the cap) and
        remove temporary files left by killed writers; returns the bytes removed."""
        cap = self.max_size if max_size is None else max_size
        if not self._entries.is_dir():
            return 0
        before = self.size()
        self._remove_stale_temporaries()
        with self._locked():
            after = self._evict(cap)
            _write_small(self.directory / "usage", str(after))
        return before - after

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        removed = 0
        if not self._entries.is_dir():
            return 0
        with self._locked():
            for path, _, _ in list(self._scan()):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
            self._remove_stale_temporaries(age=0.0)
            _write_small(self.directory / "usage", "0")
        return removed

    def _remove_stale_temporaries(self, age: float = 3600.0) -> None:
        if not self._entries.is_dir():
            return
        now = time.time()
        for tmp in [*self._entries.glob("*/.tmp-*"), *self.directory.glob(".tmp-*")]:
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime >= age:
                    tmp.unlink()


def _write_small(path: Path, text: str) -> None:
    """Write a small bookkeeping file, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


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
