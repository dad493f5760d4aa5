"""The ``frostline`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``frostline`` and ``python -m frostline``."""
    parser = argparse.ArgumentParser(prog="frostline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="compile a few kernels and compare them with plain Python")
    sub.add_parser("version", help="print the frostline, llvmlite and LLVM versions")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from frostline.demo import main as demo

        demo()
    elif args.command == "version":
        import frostline
        from frostline.backends.llvm.target import host_target, versions

        print(f"frostline {frostline.__version__} ({versions()}; host {host_target().cpu})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
