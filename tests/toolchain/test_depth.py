"""Deep but ordinary programs compile, or give a located CompileError; never a
RecursionError from inside the compiler, never a crash (issue 9, item 12)."""

from __future__ import annotations

import itertools
import linecache
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import frostline as fl

N = 500
_names = itertools.count()


def define(source: str, name: str) -> Any:
    filename = f"<test_depth {next(_names)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "test_depth_generated"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def sum_of_terms(n: int) -> str:
    return "def k(x):\n    return " + " + ".join(f"x * {k % 7}" for k in range(n)) + "\n"


def minuses(n: int) -> str:
    return "def k(x):\n    return " + "-" * n + "x\n"


def elif_ladder(n: int) -> str:
    branches = "".join(f"    elif n == {k}:\n        return {k * 3}\n" for k in range(1, n))
    return f"def k(n):\n    if n == 0:\n        return 0\n{branches}    return -1\n"


def helper_chain(n: int) -> str:
    helpers = "".join(f"def h{k}(x):\n    return h{k + 1}(x) + {k}.0\n\n" for k in range(n))
    return helpers + f"def h{n}(x):\n    return x\n\ndef k(x):\n    return h0(x)\n"


@pytest.mark.parametrize(("make", "size", "args"), [
    (sum_of_terms, N, (1.5,)), (minuses, N, (2.0,)), (minuses, N + 1, (2.0,)),
    (elif_ladder, N, (7,)), (elif_ladder, N, (N - 1,)), (elif_ladder, N, (N + 3,)),
    (helper_chain, 100, (1.0,)),
], ids=["sum of 500 terms", "500 minuses", "501 minuses", "500-branch elif",
        "the last branch", "no branch", "100 nested helpers"])
def test_deep_ordinary_programs_compile(make, size, args):
    k = define(make(size), "k")
    assert fl.jit(k, cache=False)(*args) == k(*args)


def test_the_recursion_limit_is_restored():
    limit = sys.getrecursionlimit()
    fl.jit(define(sum_of_terms(N), "k"), cache=False)(1.0)
    assert sys.getrecursionlimit() == limit


SMALL_STACK = textwrap.dedent('''
    import linecache, sys, threading
    import frostline as fl
    source = {source!r}
    linecache.cache["<deep>"] = (len(source), None, source.splitlines(True), "<deep>")
    namespace = {{"__name__": "deep"}}
    exec(compile(source, "<deep>", "exec"), namespace)
    outcome = []
    def run():
        try:
            outcome.append(fl.jit(namespace["k"], cache=False)(1.0))
        except fl.CompileError as exc:
            outcome.append(str(exc))
    threading.stack_size({stack})
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    print(outcome[0])
''')


@pytest.mark.parametrize(("stack", "compiles"), [(256 << 10, False), (2 << 20, True)],
                         ids=["256 KiB", "2 MiB"])
def test_a_thread_with_a_small_stack_gets_a_compile_error_not_a_crash(stack, compiles):
    script = SMALL_STACK.format(source=sum_of_terms(N), stack=stack)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    if compiles:
        assert float(done.stdout) == sum(k % 7 for k in range(N)) * 1.0
    else:
        assert re.search(r"k\(\) is nested \d+ levels deep, more than the compiler can "
                         r"walk in this thread", done.stdout), done.stdout
        assert "<deep>:1:1" in done.stdout
