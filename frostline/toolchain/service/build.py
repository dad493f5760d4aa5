"""``frostline build``: compile every declared signature of some modules in the pool.

``find_kernels`` imports the modules (names or ``.py`` files) and collects each jit
function with ``signatures=[...]``; ``build`` compiles every function x signature pair
in a ``CompilerPool`` at once (a pair already in the disk cache is not compiled again),
stores the code in the disk cache, and with ``bundle`` writes it all to one file for
``fl.load_bundle``.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from frostline.errors import CompileError


class BuildError(Exception):
    """A module that cannot be imported, or nothing to build: ``frostline build`` exits 2."""


@attrs.frozen
class Kernel:
    """One function x signature pair of a build, and how it went."""

    name: str
    signature: str
    status: str = "pending"  # "compiled", "cached" or "failed"
    seconds: float = 0.0
    error: str = ""


def import_target(target: str) -> Any:
    """Import a module by name (from the current directory too, as ``python -m``) or a
    ``.py`` file by path (under its file name, its folder first on ``sys.path``)."""
    path = Path(target)
    try:
        if target.endswith(".py") or path.is_file():
            if not path.is_file():
                raise BuildError(f"{target}: no such file")
            folder = str(path.resolve().parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
            return module
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(target)
    except BuildError:
        raise
    except BaseException as exc:  # the module's own error, reported as its failure
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise BuildError(f"{target}: importing it raised {type(exc).__name__}: {exc}"
                         ) from None


def find_kernels(modules: Iterable[Any]) -> list[tuple[Any, Any]]:
    """Every (jit function, declared Signature) pair defined in the modules."""
    from frostline.dispatcher import Dispatcher

    pairs, seen = [], set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and id(value) not in seen \
                    and value.declared_signatures:
                seen.add(id(value))
                pairs += [(value, sig) for sig in value.declared_signatures]
    return pairs


def build(pairs: list[tuple[Any, Any]], workers: int, cache: Any,
          progress: Callable[[Kernel], None] = lambda kernel: None,
          bundle: str | os.PathLike[str] | None = None) -> list[Kernel]:
    """Compile the pairs in a pool of ``workers`` (``cache``: the DiskCache the code
    goes to and comes from, or None); each finished Kernel goes to ``progress``."""
    from frostline.stages.closure import Closure
    from frostline.toolchain import bundle as bundles
    from frostline.toolchain.pipeline import default_toolchain
    from frostline.toolchain.service.pool import CompilerPool

    chain = default_toolchain()
    codes: dict[str, Any] = {}
    results: list[Kernel] = []
    running: dict[concurrent.futures.Future[Any], tuple[Kernel, str]] = {}
    with CompilerPool(workers) as pool:
        for dispatcher, sig in pairs:
            kernel = Kernel(f"{dispatcher.__module__}.{dispatcher.__qualname__}", str(sig))
            try:
                closure = Closure(dispatcher.program, sig)
                key = chain.object_key(closure)
            except CompileError as exc:
                results.append(attrs.evolve(kernel, status="failed", error=str(exc)))
                progress(results[-1])
                continue
            code = bundles.lookup(key) or (cache.get(key) if cache is not None else None)
            if code is not None:
                codes[key] = code
                results.append(attrs.evolve(kernel, status="cached"))
                progress(results[-1])
                continue
            handle = pool.submit_closure(closure)
            running[handle.future] = (kernel, key)
        for future in concurrent.futures.as_completed(running):
            kernel, key = running[future]
            try:
                result = future.result()
                codes[key] = code = pool.read_result(result)
            except Exception as exc:  # a compile error or a worker's death: that kernel's
                done = attrs.evolve(kernel, status="failed", error=_first_lines(exc))
            else:
                if cache is not None:
                    cache.put(key, code)
                done = attrs.evolve(kernel, status="compiled",
                                    seconds=float(result.get("seconds", 0.0)))
            results.append(done)
            progress(done)
    if bundle is not None:
        bundles.write_bundle(bundle, codes)
    return results


def _first_lines(exc: BaseException, lines: int = 12) -> str:
    text = str(exc) or type(exc).__name__
    head = text.splitlines()[:lines]
    return "\n".join(head) + ("\n..." if len(text.splitlines()) > lines else "")


def summary(results: list[Kernel], seconds: float, workers: int) -> str:
    """The table ``frostline build`` ends with."""
    counts = {s: sum(1 for r in results if r.status == s)
              for s in ("compiled", "cached", "failed")}
    name_width = max([len(r.name) for r in results] + [6])
    sig_width = max([len(r.signature) for r in results] + [9])
    rows = [f"{'kernel':<{name_width}}  {'signature':<{sig_width}}  {'status':<8}  compile"]
    for r in sorted(results, key=lambda r: (r.name, r.signature)):
        when = f"{r.seconds:6.2f} s" if r.status == "compiled" else ""
        rows.append(f"{r.name:<{name_width}}  {r.signature:<{sig_width}}  {r.status:<8}  "
                    f"{when}".rstrip())
    rows.append("")
    rows.append(f"{len(results)} kernels in {seconds:.2f} s with {workers} worker"
                f"{'s' if workers != 1 else ''}: {counts['compiled']} compiled, "
                f"{counts['cached']} already cached, {counts['failed']} failed")
    for r in results:
        if r.status == "failed":
            rows.append(f"\nFAILED {r.name} {r.signature}:\n  "
                        + r.error.replace("\n", "\n  "))
    return "\n".join(rows)


def command(targets: list[str], jobs: int | None, bundle: str | None,
            cache_dir: str | None) -> int:
    """``frostline build``: 0 when every kernel built, 1 when one failed, 2 when there
    was nothing to build or a module did not import."""
    from frostline.parallel import available_cpus
    from frostline.toolchain.cache import DiskCache, configured_max_size, default_disk_cache

    try:
        pairs = find_kernels([import_target(t) for t in targets])
    except BuildError as exc:
        print(f"frostline build: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print("frostline build: no jit function with signatures=[...] in "
              + ", ".join(targets), file=sys.stderr)
        return 2
    if bundle is not None:
        folder = os.path.dirname(os.path.abspath(bundle))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            print(f"frostline build: cannot write the bundle {bundle}: {folder} is not a "
                  "writable folder", file=sys.stderr)
            return 2
    workers = max(1, min(jobs or available_cpus(), len(pairs)))
    cache = DiskCache(cache_dir, configured_max_size()) if cache_dir else default_disk_cache()
    from tqdm import tqdm

    start = time.perf_counter()
    with tqdm(total=len(pairs), unit="kernel", desc="frostline build", file=sys.stderr,
              disable=None, leave=False) as bar:
        def advance(kernel: Kernel) -> None:
            bar.set_postfix_str(kernel.name.rpartition(".")[2], refresh=False)
            bar.update()

        results = build(pairs, workers, cache, advance, bundle)
    print(summary(results, time.perf_counter() - start, workers))
    if bundle is not None:
        kept = sum(1 for r in results if r.status != "failed")
        print(f"bundle: {bundle} ({kept} kernels, {os.path.getsize(bundle)} bytes)")
    return 1 if any(r.status == "failed" for r in results) else 0
