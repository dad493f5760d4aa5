"""Array code through everything frostline already does: ahead-of-time compilation, the
disk cache in a fresh process, pickles, execution modes, batched ``f.run`` and ``bind``."""

import os
import pickle
import subprocess
import sys
import textwrap

import cloudpickle
import numpy as np
import pytest

import frostline as fl

from .helpers import same


@fl.jit
def normalised(x):
    return (x - x.mean()) / x.std()


@fl.jit
def halves(x):
    n = x.shape[0] // 2
    return x[:n].copy(), x[n:] * 2


def test_ahead_of_time_compilation_of_array_code():
    exe = normalised.compile("float64[::1]")
    x = np.arange(6.0)
    same(exe(x), (x - x.mean()) / x.std())
    assert str(exe.abi.return_type) == "float64[::1]"


@pytest.mark.parametrize("pickler", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_executables_and_jit_functions_pickle_with_array_results(pickler):
    exe = halves.compile("float64[::1]")
    x = np.arange(5.0)
    back = pickler.loads(pickler.dumps(exe))
    for got, want in zip(back(x), halves.py_func(x), strict=True):
        same(got, want)
    fn = pickler.loads(pickler.dumps(normalised))
    same(fn(x), normalised.py_func(x))


SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import frostline as fl

    @fl.jit
    def softmax(x):
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    x = np.log(np.array([[1.0, 3.0], [2.0, 2.0]]))
    out = softmax(x)
    print(out.tolist(), fl.stats()["compiled"], fl.stats()["disk_hits"])
    del out
    print(fl.stats()["arrays_live"])
''')


def test_the_disk_cache_serves_array_code_to_a_fresh_process(tmp_path):
    script = tmp_path / "softmax_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "FROSTLINE_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    (cold, cold_live), (warm, warm_live) = (r.stdout.strip().splitlines() for r in runs)
    assert cold.startswith("[[0.25, 0.75], [0.5, 0.5]] 1 0")
    assert warm.startswith("[[0.25, 0.75], [0.5, 0.5]] 0 1")
    assert cold_live == warm_live == "0"


def scaled(x, k):
    return x * k


@pytest.mark.parametrize("mode", ["whole", "python", "auto", "per_function", "run"])
def test_every_mode_agrees_on_array_code(mode):
    f = fl.jit(mode=mode)(scaled)
    x = np.arange(4.0)
    same(f(x, 3.0), x * 3.0)


def test_batched_runs_stack_array_results():
    xs = np.arange(12.0).reshape(3, 4)
    got = normalised.run(xs)
    want = np.stack([normalised.py_func(x) for x in xs])
    assert got.shape == (3, 4)
    same(got, want)
    firsts, seconds = halves.run(xs)
    assert firsts.shape == (3, 2) and seconds.shape == (3, 2)
    same(seconds, xs[:, 2:] * 2)


def test_a_bound_call_returns_arrays():
    x = np.arange(6.0)
    call = halves.bind(x)
    for _ in range(3):
        first, second = call()
        same(first, x[:3])
        same(second, x[3:] * 2)
