"""The files of a cache directory: reached without following symbolic links, checked for
who can write them, and only those whose names are frostline's.

Loading cached native code runs it, so whoever can write a cache directory can
run code in every process that uses it.  The rules, applied to the cache
directory, each sub-directory and each file read from them (``judge``):

- owned by this process's user, writable by neither group nor others: used
  for reading and writing;
- owned by root, writable by neither group nor others: read, never written;
- owned by another user and writable by nobody (no write bit at all): a cache
  shared read-only on purpose, read, never written;
- anything else (group or others may write, or another user may): refused.

Every path is opened relative to a directory descriptor with ``O_NOFOLLOW``
(directories also with ``O_DIRECTORY``), files with ``O_NONBLOCK`` and checked
with ``fstat`` to be regular files of a bounded size, so a symbolic link, a
FIFO or a device in the cache is an error, never followed, waited on or read.
Files are written under a random temporary name created with ``O_EXCL`` and
renamed over their final name, which replaces a symbolic link there rather
than writing through it.

A directory frostline made is marked with a ``CACHEDIR.TAG`` (the standard
signature, which backup tools know, and a line naming frostline); frostline
deletes files only in a marked directory, and only files whose names it gives.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import re
import stat
from collections.abc import Iterator

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: False where the platform lacks the flags these rules need (the cache is then refused).
SUPPORTED = hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY") and hasattr(os, "geteuid")
if SUPPORTED:
    _DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
    _READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC
    _CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC
    _LOCK = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC

TAG_NAME = "CACHEDIR.TAG"
TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
TAG = (TAG_SIGNATURE + b"\n# This file is a cache directory tag created by frostline.\n"
       b"# For information about cache directory tags, see https://bford.info/cachedir/\n")
TEMPORARY_PREFIX = ".tmp-"
_TEMPORARY = re.compile(r"\.tmp-[0-9a-f]{32}\Z")


class Access(enum.Enum):
    """What frostline may do in a directory that passed ``judge``."""

    WRITE = "read and write"
    READ = "read only"


class Untrusted(Exception):
    """A directory or file that someone other than this user (or root) can write, or one
    that is not what its place in the cache says (a symbolic link, not a directory)."""


class BadFile(Exception):
    """A file that is not a regular file of an acceptable size; the message says what."""


def judge(st: os.stat_result, what: str) -> Access:
    """Whether this process may use what ``st`` describes, and how (see the module rules)."""
    mode, owner, me = stat.S_IMODE(st.st_mode), st.st_uid, os.geteuid()
    if mode & 0o022:
        whom = " and ".join(w for w, bit in (("its group", 0o020), ("others", 0o002))
                            if mode & bit)
        raise Untrusted(f"{what} is writable by {whom} (mode {mode:04o}); "
                        f"run chmod go-w on it if it is yours")
    if owner == me:
        return Access.WRITE
    if owner == 0:
        return Access.READ
    if mode & 0o222:
        raise Untrusted(f"{what} belongs to user {owner}, who can write it; a cache shared "
                        "read-only must have no write permission at all")
    return Access.READ


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one frostline gives its temporary files."""
    return _TEMPORARY.match(name) is not None


def open_root(path: os.PathLike[str] | str) -> tuple[int, Access] | None:
    """The cache directory's descriptor and access; None where it does not exist.

    ``Untrusted`` for a symbolic link or a directory that fails ``judge``; other
    ``OSError`` (a file in the way, no permission) propagate.
    """
    try:
        fd = os.open(path, _DIRECTORY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # O_DIRECTORY|O_NOFOLLOW on a link: ELOOP, or ENOTDIR (Linux) as for a file
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(path)):
            raise Untrusted("it is a symbolic link; point FROSTLINE_CACHE_DIR at the "
                            "directory itself") from None
        raise
    try:
        return fd, judge(os.fstat(fd), "it")
    except BaseException:
        os.close(fd)
        raise


def open_directory(name: str, dir_fd: int, what: str, *, create: bool = False) -> int | None:
    """A sub-directory's descriptor (made ``0700`` first if ``create``); None if missing.

    ``Untrusted`` where ``name`` is a symbolic link, not a directory, or fails ``judge``.
    """
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=dir_fd)
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Untrusted(f"{what} is a symbolic link or not a directory") from None
        raise
    try:
        judge(os.fstat(fd), what)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def closing(fd: int) -> Iterator[int]:
    """Close a descriptor when the block ends."""
    try:
        yield fd
    finally:
        os.close(fd)


def read_file(dir_fd: int, name: str, limit: int, what: str) -> bytes | None:
    """The contents of a regular file of at most ``limit`` bytes; None if it is missing.

    ``BadFile`` for a symbolic link, anything not a regular file, or one too large;
    ``Untrusted`` for a file that fails ``judge``.
    """
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadFile("is a symbolic link") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a socket
            raise BadFile("is not a regular file") from None
        raise
    with closing(fd):
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadFile(f"is not a regular file ({_kind(st.st_mode)})")
        judge(st, what)
        if st.st_size > limit:
            raise BadFile(f"is larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise BadFile(f"is larger than {limit} bytes")
        return b"".join(chunks)


def read_prefix(dir_fd: int, name: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file (None if it is missing or is not one)."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError:
        return None
    with closing(fd):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, size)


def write_file(dir_fd: int, name: str, data: bytes) -> None:
    """Write ``name`` atomically: a temporary file of a random name, created with
    ``O_EXCL``, readable by its owner only, renamed over ``name``."""
    tmp = TEMPORARY_PREFIX + os.urandom(16).hex()
    fd = os.open(tmp, _CREATE, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def open_lock(dir_fd: int, name: str) -> int:
    """A regular file of this user's to lock, made where missing; a symbolic link or
    anything else in its place is replaced, never followed."""
    for attempt in range(2):
        try:
            fd = os.open(name, _LOCK, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP or attempt:
                raise
        else:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                return fd
            os.close(fd)
            if attempt:
                break
        write_file(dir_fd, name, b"")
    raise OSError(errno.EINVAL, f"{name} is not a regular file of this user's")


def names(dir_fd: int) -> list[str]:
    """The names in a directory."""
    with os.scandir(dir_fd) as it:
        return [entry.name for entry in it]


def files(dir_fd: int, pattern: re.Pattern[str]) -> Iterator[tuple[str, os.stat_result]]:
    """(name, lstat) of the regular files whose names match ``pattern``; links are skipped."""
    with os.scandir(dir_fd) as it:
        for entry in it:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    yield entry.name, st


def directories(dir_fd: int, pattern: re.Pattern[str]) -> list[str]:
    """The sub-directories (not links to them) whose names match ``pattern``."""
    with os.scandir(dir_fd) as it:
        return [e.name for e in it
                if pattern.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]


def is_marked(dir_fd: int) -> bool:
    """Whether the directory carries frostline's ``CACHEDIR.TAG`` (a regular file)."""
    try:
        tag = read_file(dir_fd, TAG_NAME, 4096, TAG_NAME)
    except (OSError, BadFile, Untrusted):
        return False
    return tag is not None and tag.startswith(TAG_SIGNATURE) and b"frostline" in tag


#: What a cache made by frostline before it marked its directories holds (format 1):
#: ``1/<2 hex>/<64 hex>`` entries, ``lock``, ``usage``, ``host-<32 hex>.json`` and their
#: temporary files.
_LEGACY_TOP = re.compile(r"lock|usage|host-[0-9a-f]{32}\.json|\.tmp-host-[0-9a-f]{32}\.json\.\d+"
                         r"|\.tmp-\w+")
_LEGACY_SHARD = re.compile(r"[0-9a-f]{2}")
_LEGACY_ENTRY = re.compile(r"[0-9a-f]{64}|\.tmp-\w+")


def adoptable(dir_fd: int) -> bool:
    """Whether a directory holds nothing, only frostline's temporary files (of a process
    marking it at the same time), or only an unmarked cache of an earlier frostline
    (format 1, which it leaves as it is): one frostline may make its own."""
    for name in names(dir_fd):
        if is_temporary(name) or (_LEGACY_TOP.fullmatch(name) and _is_file(dir_fd, name)):
            continue
        if name != "1" or not _legacy_entries(dir_fd):
            return False
    return True


def _is_file(dir_fd: int, name: str) -> bool:
    with contextlib.suppress(OSError):
        return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    return False


def _legacy_entries(dir_fd: int) -> bool:
    """Whether ``1/`` holds only shard directories of format-1 entry files."""
    try:
        fd = os.open("1", _DIRECTORY, dir_fd=dir_fd)
    except OSError:
        return False
    with closing(fd):
        for shard in names(fd):
            if not _LEGACY_SHARD.fullmatch(shard):
                return False
            try:
                sub = os.open(shard, _DIRECTORY, dir_fd=fd)
            except OSError:
                return False
            with closing(sub):
                if not all(_LEGACY_ENTRY.fullmatch(n) and _is_file(sub, n)
                           for n in names(sub)):
                    return False
    return True


def mark(dir_fd: int) -> None:
    """Mark a directory as frostline's (``CACHEDIR.TAG``, written atomically)."""
    write_file(dir_fd, TAG_NAME, TAG)


def remove_stale(dir_fd: int, older_than: float, now: float) -> None:
    """Remove frostline's temporary files last written before ``now - older_than``."""
    for name, st in list(files(dir_fd, _TEMPORARY)):
        if now - st.st_mtime >= older_than:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a file"
