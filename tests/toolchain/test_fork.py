"""A forked child compiles and calls as a fresh process would (issue 9, item 7).

The child of ``os.fork()`` has only the forking thread: compilations pending in
the parent's background workers are cancelled in the child, and locks other
threads held are new there. Each case runs in a subprocess with a timeout, as a
failure is a hang.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")

PRELUDE = textwrap.dedent('''
    import os, sys, threading, time
    import numpy as np
    import frostline as fl

    @fl.jit(cache=False)
    def k(a, x):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * x
        return s

    def in_child(body):
        """Fork; run body in the child (its exit status is whether it worked)."""
        pid = os.fork()
        if pid == 0:
            try:
                body()
                os._exit(0)
            except BaseException as exc:
                print("child:", repr(exc), flush=True)
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
''')

PENDING = PRELUDE + textwrap.dedent('''
    handle = k.compile_async("float64[:], float64")
    # What compiling imports is imported by now, here: a worker inside an import at
    # the fork would leave that module's import lock held in the child.
    from frostline.toolchain.pipeline import _COMPILER_MODULES
    assert all(name in sys.modules for name in _COMPILER_MODULES)
    finalized = []
    handle.add_finalize(lambda: finalized.append(True))
    def child():
        exe = k.compile("float64[:], float64")      # hung: it waited on the parent's job
        assert exe(np.ones(3), 2.0) == 6.0
        assert k(np.ones(3), 3.0) == 9.0
        assert handle.cancelled() and finalized == [True]
        other = k.compile_async("float64[:], int64")  # the child's own workers
        assert other.result(60)(np.ones(2), 1) == 2.0
    in_child(child)
    assert handle.result(60)(np.ones(3), 2.0) == 6.0 and not handle.cancelled()
    print("ok")
''')

HELD_LOCKS = PRELUDE + textwrap.dedent('''
    stats = sys.modules["frostline.stats"]
    held, release = threading.Event(), threading.Event()
    def hold():
        with k._lock, stats._lock:  # as a thread in the middle of a call would
            held.set()
            release.wait()
    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    def child():
        assert k(np.ones(4), 0.5) == 2.0
        assert fl.stats()["compiled"] >= 1
    in_child(child)
    release.set()
    thread.join()
    assert k(np.ones(4), 0.5) == 2.0
    print("ok")
''')

BUSY_WORKERS = PRELUDE + textwrap.dedent('''
    sigs = [f"float64[:], {ty}" for ty in ("float64", "int64", "int32", "float32", "bool")]
    ones = (1.0, 1, np.int32(1), np.float32(1), True)
    handles = [k.compile_async(s) for s in sigs]
    def child():
        for sig, one in zip(sigs, ones):
            assert k.compile(sig)(np.ones(2), one) == 2.0
    for _ in range(3):  # at different points of the parent's compilations
        in_child(child)
        time.sleep(0.05)
    assert all(h.result(60)(np.ones(2), one) == 2.0 for h, one in zip(handles, ones))
    print("ok")
''')


@pytest.mark.parametrize("script", [PENDING, HELD_LOCKS, BUSY_WORKERS],
                         ids=["a pending compilation", "locks held by another thread",
                              "busy background workers"])
def test_a_forked_child_compiles(script: str, tmp_path: Path) -> None:
    path = tmp_path / "forking.py"  # a file: kernels are compiled from their source
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), \
        done.stdout + done.stderr
