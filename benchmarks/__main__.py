"""Command line: ``python -m benchmarks [--quick] [--only NAME[,NAME]] [--output PATH]``."""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import shlex
import sys
from pathlib import Path

from . import backends as backends_mod
from .arrays import array_suite
from .bound import bound_suite
from .harness import log
from .kernels import KERNELS, select
from .modes import batch_suite, tiered_suite
from .parallel import parallel_suite
from .pool import pool_suite
from .report import has_errors, machine_info, render
from .startup import startup_suite
from .suites import Config, Results, c_builder, compile_suite, overhead_suite, runtime_suite

SECTIONS = ("runtime", "compile", "overhead", "startup", "batch", "tiered", "bound", "arrays",
            "parallel", "pool")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    kernel_names = ", ".join(k.name for k in KERNELS)
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark frostline against numba, NumPy and C; print a Markdown report.",
    )
    p.add_argument(
        "--quick", action="store_true", help="small sizes and few repeats (smoke test, < 60 s)"
    )
    p.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        default="",
        help=f"restrict to kernels ({kernel_names}) and/or sections ({', '.join(SECTIONS)})",
    )
    p.add_argument(
        "--output", metavar="PATH", type=Path, help="also write the Markdown report to PATH"
    )
    p.add_argument("--repeat", type=int, help="override the number of run-time samples")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected suites and print the report; return 1 if anything failed."""
    faulthandler.enable()  # a crash inside compiled code still names the culprit
    args = parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    sections = [n for n in names if n in SECTIONS] or list(SECTIONS)
    try:
        kernels = select([n for n in names if n not in SECTIONS])
    except ValueError as exc:
        print(f"error: {exc}; sections: {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    cfg = Config.quick() if args.quick else Config.full()
    if args.repeat:
        cfg = dataclasses.replace(cfg, repeat=args.repeat)

    backends = {name: backends_mod.load(name) for name in ("frostline", "numba")}
    for b in backends.values():
        if not b.available:
            log(f"note: {b.name} unavailable: {b.error}")

    info = machine_info(backends)  # before the run, for an honest load average
    results = Results(cfg)
    if "compile" in sections:
        results.compile, notes = compile_suite(kernels, backends, cfg)
        results.notes += notes
    if "runtime" in sections:
        builder = c_builder()
        if builder is None:
            results.notes.append("gcc not found: C columns skipped.")
        try:
            results.runtime = runtime_suite(kernels, backends, builder, cfg)
        finally:
            if builder is not None:
                builder.close()
    if "overhead" in sections:
        results.overhead = overhead_suite(backends, cfg)
    if "startup" in sections:
        results.startup = startup_suite(backends, cfg)
    if "batch" in sections:
        results.batch = batch_suite(backends, cfg)
    if "tiered" in sections:
        results.tiered = tiered_suite(backends, cfg)
    if "bound" in sections:
        results.bound = bound_suite(backends, cfg)
    if "arrays" in sections:
        results.arrays = array_suite(backends, cfg.repeat, cfg.min_sample)
    if "parallel" in sections:
        results.parallel = parallel_suite(backends, cfg)
    if "pool" in sections:
        results.pool = pool_suite(backends, cfg)

    command = "python -m benchmarks" + "".join(
        " " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    report = render(results, backends, command, info)
    print(report, end="")
    if args.output:
        args.output.write_text(report, encoding="utf-8")
        log(f"report written to {args.output}")
    return 1 if has_errors(results) else 0


if __name__ == "__main__":
    sys.exit(main())
