"""Replay fuzz seeds, or run a long fuzzing batch, from the command line.

::

    python -m tests.fuzz 1234             # print seed 1234's program and check it
    python -m tests.fuzz 1234 --features all
    python -m tests.fuzz --count 5000 --start 1000000 [--minutes 15] [--features all]

Run from the repository root.  A long run prints one report per failing seed and
a summary of the failing seeds at the end; ``--verbose`` prints each seed before
it runs, so a crash of the process can be traced to its program.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from .differential import Discrepancy, GeneratorBug, check_program
from .program import generate
from .semantics import Features


def replay(seed: int, features: Features | None = None, *, show_source: bool = True) -> bool:
    """Print seed ``seed``'s program and whether CPython and frostline agree on it."""
    program = generate(seed, features)
    if show_source:
        print(program.source)
    try:
        check_program(program)
    except (Discrepancy, GeneratorBug) as exc:
        print(exc)
        return False
    print(f"seed {seed}: CPython and frostline agree")
    return True


def long_run(start: int, count: int, minutes: float | None, features: Features | None,
             verbose: bool = False) -> dict[str, list[int]]:
    """Check ``count`` seeds from ``start`` (or until ``minutes`` pass); failing seeds by kind."""
    failures: dict[str, list[int]] = {"discrepancy": [], "generator bug": []}
    t0 = time.monotonic()
    done = 0
    for seed in range(start, start + count):
        if minutes is not None and time.monotonic() - t0 > minutes * 60:
            break
        if verbose:
            print(f"seed {seed}", flush=True)
        try:
            check_program(generate(seed, features))
        except Discrepancy as exc:
            failures["discrepancy"].append(seed)
            print(f"{exc}\n", flush=True)
        except GeneratorBug as exc:
            failures["generator bug"].append(seed)
            print(f"{exc}\n", flush=True)
        except Exception:  # noqa: BLE001 - the generator itself failed: report, go on
            failures["generator bug"].append(seed)
            print(f"generator crash (fuzz seed {seed})\n{traceback.format_exc(limit=-8)}",
                  flush=True)
        done += 1
    elapsed = time.monotonic() - t0
    print(f"{done} programs in {elapsed:.0f} s; failing seeds: {failures}", flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", nargs="*", type=int, help="seeds to replay")
    parser.add_argument("--count", type=int, help="run a batch of this many seeds")
    parser.add_argument("--start", type=int, default=int(time.time()),
                        help="first seed of the batch (default: the time)")
    parser.add_argument("--minutes", type=float, help="stop the batch after this long")
    parser.add_argument("--features", choices=("default", "all"), default="default",
                        help="'all' switches on the constructs of known discrepancies")
    parser.add_argument("--quiet", action="store_true", help="do not print the source")
    parser.add_argument("--verbose", action="store_true", help="print each seed first")
    args = parser.parse_args(argv)
    features = Features.all_on() if args.features == "all" else None
    if args.count:
        failures = long_run(args.start, args.count, args.minutes, features, args.verbose)
        return 1 if any(failures.values()) else 0
    if not args.seeds:
        parser.error("give seeds to replay, or --count")
    ok = [replay(seed, features, show_source=not args.quiet) for seed in args.seeds]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
