"""Parallel kernels through everything else: ahead-of-time compilation, the disk cache
and pickles in fresh processes (which run them without compiling), execution modes,
batched ``f.run``, ``bind`` and background compilation."""

import os
import pickle
import subprocess
import sys
import textwrap
import time

import cloudpickle
import numpy as np
import pytest

import frostline as fl
from frostline import prange

from . import kernels as k


def row_total(m):
    s = 0.0
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            s += m[i, j] * (j + 1)
    return s


def serial_row_total(m):
    return sum(float(m[i, j]) * (j + 1) for i in range(m.shape[0]) for j in range(m.shape[1]))


M = np.arange(600.0).reshape(100, 6)


def test_ahead_of_time_compilation():
    exe = fl.jit(row_total).compile("float64[:, ::1]")
    assert exe(M) == serial_row_total(M)


SCRIPT = textwrap.dedent('''
    import pickle, sys
    import numpy as np
    import frostline as fl
    from frostline import prange

    @fl.jit
    def row_total(m):
        s = 0.0
        for i in prange(m.shape[0]):
            for j in range(m.shape[1]):
                s += m[i, j] * (j + 1)
        return s

    m = np.arange(600.0).reshape(100, 6)
    if sys.argv[1] == "call":
        print(row_total(m), fl.stats()["compiled"], fl.stats()["disk_hits"],
              fl.parallel.pool_state()["started"] > 0)
    elif sys.argv[1] == "dump":
        sys.stdout.buffer.write(pickle.dumps(row_total.compile("float64[:, ::1]")))
''')

LOAD = textwrap.dedent('''
    import pickle, sys
    import numpy as np
    import frostline as fl
    exe = pickle.loads(sys.stdin.buffer.read())
    m = np.arange(600.0).reshape(100, 6)
    print(exe(m), fl.stats()["compiled"], fl.parallel.pool_state()["started"] > 0)
''')


def _env(tmp_path):
    return {**os.environ, "FROSTLINE_CACHE_DIR": str(tmp_path / "cache"),
            "FROSTLINE_NUM_THREADS": "3"}


def test_the_disk_cache_serves_parallel_code_to_a_fresh_process(tmp_path):
    script = tmp_path / "parallel_cache_script.py"
    script.write_text(SCRIPT)
    runs = [subprocess.run([sys.executable, str(script), "call"], capture_output=True,
                           text=True, env=_env(tmp_path), cwd=tmp_path, timeout=120)
            for _ in range(2)]
    want = serial_row_total(M)
    cold, warm = (r.stdout.split() for r in runs)
    assert cold == [repr(want), "1", "0", "True"], runs[0].stderr
    assert warm == [repr(want), "0", "1", "True"], runs[1].stderr


def test_a_pickled_parallel_executable_runs_in_a_fresh_process(tmp_path):
    script = tmp_path / "parallel_pickle_script.py"
    script.write_text(SCRIPT)
    env = {**_env(tmp_path), "FROSTLINE_CACHE": "0"}
    dumped = subprocess.run([sys.executable, str(script), "dump"], capture_output=True,
                            env=env, cwd=tmp_path, timeout=120, check=True).stdout
    loaded = subprocess.run([sys.executable, "-c", LOAD], input=dumped, capture_output=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert loaded.stdout.decode().split() == [repr(serial_row_total(M)), "0", "True"], \
        loaded.stderr.decode()


@pytest.mark.parametrize("pickler", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_executables_and_jit_functions_pickle(pickler):
    f = fl.jit(row_total)
    back = pickler.loads(pickler.dumps(f.compile("float64[:, ::1]")))
    assert back(M) == serial_row_total(M)
    assert pickler.loads(pickler.dumps(f))(M) == serial_row_total(M)


@pytest.mark.parametrize("mode", ["whole", "python", "auto", "per_function", "run"])
def test_every_mode_agrees(mode):
    f = fl.jit(mode=mode)(k.through_callee)
    m = np.random.default_rng(0).standard_normal((50, 9))
    np.testing.assert_allclose(f(m, np.zeros(50)), m.sum(axis=1), rtol=1e-12)


def test_batched_runs_and_bound_calls():
    f = fl.jit(row_total)
    batch = np.stack([M, M * 2, M * -1])
    np.testing.assert_array_equal(f.run(batch), [serial_row_total(b) for b in batch])
    call = f.bind(M)
    assert [call() for _ in range(3)] == [serial_row_total(M)] * 3


def test_background_compilation():
    f = fl.jit(background=True)(row_total)
    assert f(M) == serial_row_total(M)  # Python while compiling, then native
    handle = f.compile_async("float64[:, ::1]")
    exe = handle.result(120)
    assert exe(M) == serial_row_total(M)
    deadline = time.monotonic() + 60
    while not f.signatures and time.monotonic() < deadline:  # tiered up
        time.sleep(0.01)
    assert f.signatures and f(M) == serial_row_total(M)


def unit_axpy(a, x, y, out):
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


def test_the_outlined_loop_vectorises_like_the_serial_one():
    """A chunk's loop runs a constant unit step, so LLVM vectorises it (the 1-thread
    cost of a prange kernel is the serial one's)."""
    import re

    sig = "float64, float64[::1], float64[::1], float64[::1]"
    ir = fl.jit(unit_axpy).stages(sig).optimized.llvm_ir
    tasks = [f for f in re.split(r"\ndefine ", ir) if ".prange." in f.split("(")[0]]
    assert len(tasks) == 1
    assert re.search(r"<\d+ x double>", tasks[0]), tasks[0][:2000]
