"""Declared signatures, ``frostline build`` and bundles."""

import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import frostline as fl
from frostline.toolchain import bundle as bundles

ROOT = str(Path(fl.__file__).resolve().parents[1])

KERNELS = textwrap.dedent('''
    import frostline as fl

    @fl.jit
    def helper(x):
        return x * 2.0 + 1.0

    @fl.jit(signatures=["float64(float64[::1])", "float64(float32[:])"])
    def total(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += helper(a[i])
        return s

    @fl.jit(signatures=["float64, float64[::1]"])
    def scale(k, a):
        for i in range(a.shape[0]):
            a[i] *= k

    @fl.jit(signatures=["int64(int64)", "float64(float64)"])
    def twice(x):
        return x + x
''')

BROKEN = KERNELS + textwrap.dedent('''
    @fl.jit(signatures=["float64(float64[::1])"])
    def broken(a):
        return a.nope
''')

USE = textwrap.dedent('''
    import sys, warnings
    import numpy as np
    import frostline as fl
    import kernels
    if sys.argv[1] != "-":
        print("installed", fl.load_bundle(sys.argv[1]))
    a = np.arange(4.0)
    kernels.scale(2.0, a)
    print(kernels.total(a), kernels.total(np.ones(6, np.float32)[::2]), kernels.twice(3),
          kernels.twice(1.5))
    s = fl.stats()
    print("stats", s["compiled"], s["bundle_hits"], s["disk_hits"])
''')


def run(args, cwd, cache, **kw):
    env = {**os.environ, "PYTHONPATH": ROOT, "FROSTLINE_CACHE_DIR": str(cache)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, **kw)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "kernels.py").write_text(KERNELS)
    (tmp_path / "use.py").write_text(USE)
    return tmp_path


def test_declaring_signatures_compiles_nothing_and_calls_use_them():
    before = fl.stats()["compiled"]

    @fl.jit(signatures=["float64(float64[:])", (fl.int64[:],)], cache=False)
    def add(a):
        return a.sum()

    assert fl.stats()["compiled"] == before
    assert [str(s) for s in add.declared_signatures][0].startswith("float64(")
    assert add(np.arange(3.0)) == 3.0  # a C array finds the declared any-layout signature
    assert add.signatures == [add.declared_signatures[0]]
    assert add(np.arange(6.0)[::2]) == 6.0
    assert add.signatures == [add.declared_signatures[0]]  # the same one
    assert fl.stats()["compiled"] == before + 1
    assert add(np.arange(3)) == 3 and add.signatures[1] == add.declared_signatures[1]


def test_a_bad_declared_signature_is_reported_at_once():
    def f(x):
        return x

    with pytest.raises(TypeError, match="takes 1 parameters"):
        fl.jit(signatures=["float64(float64, float64)"])(f)
    with pytest.raises((TypeError, ValueError)):
        fl.jit(signatures=["float64(notatype)"])(f)


def test_build_then_a_fresh_process_compiles_nothing(project):
    cache = project / "cache"
    out = project / "out.flb"
    built = run(["frostline", "build", "kernels", "-j", "2", "--bundle", str(out)],
                project, cache)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "5 kernels" in built.stdout and "5 compiled, 0 already cached, 0 failed" \
        in built.stdout
    for name in ("kernels.total", "kernels.scale", "kernels.twice"):
        assert name in built.stdout
    # A second build finds every kernel in the cache.
    again = run(["frostline", "build", "kernels.py"], project, cache)
    assert again.returncode == 0 and "0 compiled, 5 already cached" in again.stdout
    # Deployed: another cache directory, the bundle: nothing compiles.
    used = run([sys.executable, "use.py", str(out)], project, project / "empty-cache")
    assert used.returncode == 0, used.stderr
    lines = used.stdout.split("\n")
    assert lines[0] == "installed 5"
    assert lines[1] == "28.0 9.0 6 3.0"
    assert lines[2] == "stats 0 5 0", used.stdout
    # The same kernels served by the cache the build filled.
    cached = run([sys.executable, "use.py", "-"], project, cache)
    assert cached.stdout.split("\n")[1] == "stats 0 0 5", cached.stdout


def test_build_failures_are_reported_and_exit_nonzero(project):
    (project / "kernels.py").write_text(BROKEN)
    built = run([sys.executable, "-m", "frostline", "build", "kernels.py", "-j", "1",
                 "--bundle", str(project / "out.flb")], project, project / "cache")
    assert built.returncode == 1
    assert "5 compiled, 0 already cached, 1 failed" in built.stdout
    assert "FAILED kernels.broken" in built.stdout and "'nope'" in built.stdout
    assert "^" in built.stdout  # the caret of the CompileError
    _, entries = bundles.read_bundle(project / "out.flb")
    assert len(entries) == 5  # the kernels that built are in the bundle


@pytest.mark.parametrize("target, message", [
    ("no_such_module_here", "importing it raised ModuleNotFoundError"),
    ("missing.py", "no such file"),
])
def test_build_of_nothing_exits_2(project, target, message):
    built = run(["frostline", "build", target], project, project / "cache")
    assert built.returncode == 2 and message in built.stderr


def test_build_to_a_bundle_nowhere_exits_2_before_compiling(project):
    built = run(["frostline", "build", "kernels", "--bundle", "/nonexistent/dir/out.flb"],
                project, project / "cache")
    assert built.returncode == 2 and "cannot write the bundle" in built.stderr
    assert not (project / "cache").exists() or not any((project / "cache").rglob("*.obj"))


def test_build_of_a_module_without_signatures_exits_2(project):
    (project / "plain.py").write_text("import frostline as fl\n@fl.jit\ndef f(x):\n"
                                      "    return x\n")
    built = run(["frostline", "build", "plain"], project, project / "cache")
    assert built.returncode == 2 and "no jit function with signatures" in built.stderr


def bundle_of(tmp_path):
    @fl.jit(signatures=["float64(float64)"], cache=False)
    def inc(x):
        return x + 1.0

    from frostline.stages.closure import Closure
    from frostline.toolchain.pipeline import default_toolchain

    closure = Closure(inc.program, inc.declared_signatures[0])
    chain = default_toolchain()
    path = tmp_path / "one.flb"
    bundles.write_bundle(path, {chain.object_key(closure): chain.object_code(closure)})
    return path, inc


def test_a_bundle_serves_calls_in_this_process(tmp_path):
    path, inc = bundle_of(tmp_path)
    try:
        assert fl.load_bundle(path) == 1
        hits, compiled = fl.stats()["bundle_hits"], fl.stats()["compiled"]
        assert inc(1.0) == 2.0
        assert fl.stats()["bundle_hits"] == hits + 1 and fl.stats()["compiled"] == compiled
    finally:
        bundles.unload_bundles()


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:100], "damaged"),
    (lambda data: data[:-10] + b"0123456789", "damaged"),
    (lambda data: b"PK\x03\x04" + data, "not a frostline bundle"),
    (lambda data: data.replace(b'"format": 1', b'"format": 99'), "format 99"),
    (lambda data: b"", "not a frostline bundle"),
])
def test_a_damaged_bundle_warns_and_the_kernels_compile(tmp_path, damage, message):
    path, inc = bundle_of(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(fl.BundleWarning, match=message):
        assert fl.load_bundle(path) == 0
    assert inc(2.0) == 3.0


def test_a_bundle_for_another_cpu_warns(tmp_path):
    path, inc = bundle_of(tmp_path)
    data = path.read_bytes()
    magic_and_header, _, body = data.partition(b"\n{")
    header_line, _, body = (b"{" + body).partition(b"\n")
    import json

    header = json.loads(header_line)
    header.update(salt="another", cpu="a-cpu-from-elsewhere")
    path.write_bytes(magic_and_header + b"\n" + json.dumps(header).encode() + b"\n" + body)
    with pytest.warns(fl.BundleWarning, match="a-cpu-from-elsewhere"):
        assert fl.load_bundle(path) == 0
    with pytest.warns(fl.BundleWarning, match="cannot be read"):
        assert fl.load_bundle(tmp_path / "nowhere.flb") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert inc(2.0) == 3.0


def test_declared_signatures_pickle_with_the_function():
    f = fl.jit(signatures=["float64(float64)"])(lambda_free)
    assert pickle.loads(pickle.dumps(f)).declared_signatures == f.declared_signatures


def lambda_free(x):
    return x
