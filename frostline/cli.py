"""The ``frostline`` command: ``demo``, ``version``, ``build`` and
``cache info|list|clear|prune``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from frostline.toolchain.cache import DiskCache


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``frostline`` and ``python -m frostline``."""
    parser = argparse.ArgumentParser(prog="frostline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="compile a few kernels and compare them with plain Python")
    sub.add_parser("version", help="print the frostline, llvmlite and LLVM versions")
    build = sub.add_parser("build", help="compile the declared signatures of jit functions "
                           "in a pool of compiler processes, into the cache or a bundle")
    build.add_argument("targets", nargs="+", metavar="MODULE_OR_FILE",
                       help="a module name (importable from here) or a .py file")
    build.add_argument("-j", "--jobs", type=int, help="compiler processes (default: one per "
                       "CPU this process may use)")
    build.add_argument("--bundle", help="also write all the object code to this file, for "
                       "fl.load_bundle")
    build.add_argument("--cache-dir", help="the disk cache to fill and reuse (default: "
                       "FROSTLINE_CACHE_DIR, else the user cache directory)")
    cache = sub.add_parser("cache", help="inspect or clean the disk cache of compiled code")
    cache.add_argument("--dir", type=Path, help="the cache directory (default: "
                       "FROSTLINE_CACHE_DIR, else the user cache directory)")
    actions = cache.add_subparsers(dest="action", required=True)
    actions.add_parser("info", help="location, size, entry count and size cap")
    actions.add_parser("list", help="every entry: function, signature, target, age, size")
    actions.add_parser("clear", help="remove every entry")
    prune = actions.add_parser("prune", help="evict least recently used entries down to the "
                               "size cap, and remove temporary files left by killed writers")
    prune.add_argument("--max-size", help="evict down to this size instead of the cap "
                       "(bytes, or 512M, 2G, ...)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from frostline.demo import main as demo

        demo()
    elif args.command == "version":
        import frostline
        from frostline.backends.llvm.target import host_target, versions

        print(f"frostline {frostline.__version__} ({versions()}; host {host_target().cpu})")
    elif args.command == "build":
        from frostline.toolchain.service.build import command

        if args.jobs is not None and args.jobs < 1:
            parser.error(f"-j needs a positive number of processes, not {args.jobs}")
        return command(args.targets, args.jobs, args.bundle, args.cache_dir)
    elif args.command == "cache":
        return cache_command(args.action, args.dir, getattr(args, "max_size", None))
    return 0


def cache_command(action: str, directory: Path | None, max_size: str | None) -> int:
    """``frostline cache ACTION``: print what it did, return the exit status (1 for a
    directory frostline refuses to use or to change)."""
    import os

    from frostline.toolchain.cache import (
        CacheRefused,
        DiskCache,
        cache_enabled,
        configured_max_size,
        default_directory,
    )

    cache = DiskCache(directory or default_directory(), configured_max_size())
    try:
        access = cache.check()
    except CacheRefused as exc:
        if action != "info":
            print(f"frostline cache {action}: refusing {cache.directory}: {exc}",
                  file=sys.stderr)
            return 1
        access, refusal = None, str(exc)
    else:
        refusal = ""
    if action == "info":
        setting = os.environ.get("FROSTLINE_CACHE", "")
        print(f"location:  {cache.directory}")
        print(f"enabled:   {'yes' if cache_enabled() else f'no (FROSTLINE_CACHE={setting})'}")
        print(f"access:    {_access_text(access, refusal)}")
        count, size = (0, 0) if refusal else (len(cache), cache.size())
        print(f"entries:   {count}")
        print(f"size:      {human_size(size)} of {human_size(cache.max_size)}")
    elif action == "list":
        entries = cache.entries()
        now = time.time()
        for e in entries:
            print(f"{e.function}\n    {e.signature}\n    target {e.target}; created "
                  f"{human_age(now - e.created)} ago, used {human_age(now - e.last_used)} ago; "
                  f"{human_size(e.size)}; key {e.key[:16]}")
        print(f"{entries_text(len(entries))}, {human_size(sum(e.size for e in entries))} "
              f"in {cache.directory}")
    else:
        return _change(cache, action, max_size)
    return 0


def _change(cache: DiskCache, action: str, max_size: str | None) -> int:
    """``clear`` and ``prune``: only in a directory frostline made and this user owns."""
    from frostline.toolchain.cache import CacheRefused, parse_size

    try:
        cap = parse_size(max_size) if max_size is not None else None
    except ValueError as exc:
        print(f"frostline cache prune: {exc}", file=sys.stderr)
        return 2
    try:
        if action == "clear":
            print(f"removed {entries_text(cache.clear())} from {cache.directory}")
        else:
            removed = cache.prune(cap)
            print(f"removed {human_size(removed)}; {entries_text(len(cache))}, "
                  f"{human_size(cache.size())} left in {cache.directory}")
    except CacheRefused as exc:
        print(f"frostline cache {action}: refusing {cache.directory}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"frostline cache {action}: {cache.directory}: {exc}", file=sys.stderr)
        return 1
    return 0


def _access_text(access: object, refusal: str) -> str:
    if refusal:
        return f"refused, executables are cached in memory only: {refusal}"
    value = getattr(access, "value", None)
    return str(value) if value else "nothing cached yet"


def entries_text(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def human_size(n: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_age(seconds: float) -> str:
    """``90`` -> ``1 min``; ``7200`` -> ``2 h``."""
    seconds = max(seconds, 0.0)
    for limit, unit, div in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{seconds / div:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


if __name__ == "__main__":
    sys.exit(main())
