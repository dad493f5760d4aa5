"""The warm-start path: cached code loads without LLVM, through a shared library or ORC."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import attrs
import numpy as np
import pytest

import frostline as fl
from frostline.backends.llvm import hostinfo, loader, sharedlib

needs_linker = pytest.mark.skipif(sharedlib._linker() is None, reason="no system linker (ld)")


def mul_add(x, y):
    return x * y + 1.0


@pytest.fixture(scope="module")
def code():
    return fl.jit(mul_add, cache=False).compile("float64, float64").object_code


@needs_linker
def test_code_leaving_the_process_carries_a_shared_library_that_loads_without_orc(
        code, monkeypatch, tmp_path):
    assert code.shared_library == b""  # compiling does not pay for the linker
    pickled = pickle.loads(pickle.dumps(fl.jit(mul_add).compile("float64, float64")))
    cache = fl.DiskCache(tmp_path)
    cache.put("0" * 64, code)
    for carried in (pickled.object_code, cache.get("0" * 64)):
        assert carried.shared_library.startswith(b"\x7fELF")
    code = sharedlib.with_library(code)
    monkeypatch.setattr(loader, "_load_with_orc", lambda code: pytest.fail("ORC was used"))
    exe = loader.load(code)
    assert exe(2.0, 3.0) == 7.0
    assert exe.fingerprint == code.fingerprint  # the library is derived, not keyed


def scaled_sum(a, k):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * k
    return s


@needs_linker
def test_many_libraries_load_side_by_side_in_one_process(monkeypatch):
    kernels = [fl.jit(fn, cache=False).compile(sig).object_code for fn, sig in
               ((mul_add, "float64, float64"), (mul_add, "float32, float32"),
                (scaled_sum, "float64[::1], float64"))] * 3
    monkeypatch.setattr(loader, "_load_with_orc", lambda code: pytest.fail("ORC was used"))
    exes = [loader.load(sharedlib.with_library(code)) for code in kernels]
    for exe in exes[::3]:
        assert exe(2.0, 3.0) == 7.0
    for exe in exes[2::3]:
        assert exe(np.arange(4.0), 2.0) == 12.0


def test_code_without_a_usable_library_loads_with_orc(code):
    for library in (b"", b"\x7fELF not a library"):
        exe = loader.load(attrs.evolve(code, shared_library=library))
        assert exe(2.0, 3.0) == 7.0


def test_without_a_linker_code_travels_without_a_library(monkeypatch, code):
    monkeypatch.setattr(sharedlib, "_linker", lambda: None)
    sharedlib.link.cache_clear()
    try:
        assert sharedlib.with_library(code) is code
        assert pickle.loads(pickle.dumps(loader.load(code)))(1.0, 1.0) == 2.0
    finally:
        sharedlib.link.cache_clear()


#: Host descriptions that must not be believed: each is asked of LLVM again and rewritten.
INVALID_HOST_FILES = {
    "truncated JSON": b'{"cpu": ',
    "a triple that is a number": b'{"triple": 5}',
    "garbage bytes": bytes(range(256)) * 4,
    "not an object": b'["x86_64-unknown-linux-gnu", "znver4", "+avx", "llvmlite=0 llvm=1"]',
    "fields of the wrong type": json.dumps({"triple": ["x86_64-unknown-linux-gnu"],
                                            "cpu": 7, "features": None,
                                            "versions": {"llvm": 1}}).encode(),
    "empty fields": json.dumps({"triple": "", "cpu": "", "features": "",
                                "versions": ""}).encode(),
    "a field missing": json.dumps({"triple": "x86_64-unknown-linux-gnu", "cpu": "znver4",
                                   "features": "+avx"}).encode(),
    "an extra field": None,  # the valid description plus one field, filled in below
    "versions not as frostline writes them": None,
}


def test_the_host_description_is_remembered_and_an_invalid_one_is_replaced(
        tmp_path, monkeypatch):
    from frostline.backends.llvm import target
    from frostline.toolchain import cache as cache_mod

    monkeypatch.setenv("FROSTLINE_CACHE_DIR", str(tmp_path / "cache"))
    cache_mod.reset_default_disk_cache()
    hostinfo._description.cache_clear()
    try:
        name = hostinfo.description_name()
        if name is None:
            pytest.skip("no /proc/cpuinfo: the host is asked from LLVM every time")
        path = tmp_path / "cache" / name
        expected = (target.host_target(), target.versions())
        assert hostinfo._description() == expected
        saved = json.loads(path.read_text())
        assert saved["cpu"] == target.host_target().cpu
        invalid = {**INVALID_HOST_FILES,
                   "an extra field": json.dumps({**saved, "extra": "x"}).encode(),
                   "versions not as frostline writes them": json.dumps(
                       {**saved, "versions": "llvmlite=0.0.0 llvm=1"}).encode()}
        for what, data in invalid.items():
            path.write_bytes(data)
            hostinfo._description.cache_clear()
            assert hostinfo._description() == expected, what
            assert json.loads(path.read_text()) == saved, f"{what}: not rewritten"
    finally:
        monkeypatch.undo()
        cache_mod.reset_default_disk_cache()
        hostinfo._description.cache_clear()


WARM = """
import sys
import numpy as np
import frostline as fl

@fl.jit
def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s

print(total(np.arange(4.0)), fl.stats()["compiled"], fl.stats()["disk_hits"],
      sorted(m for m in ("llvmlite.binding", "llvmlite.ir", "frostline.toolchain.typing",
                         "frostline.backends.llvm.codegen") if m in sys.modules))
"""


@needs_linker
def test_a_warm_start_imports_no_llvm_and_no_code_generation(tmp_path):
    if not os.path.exists("/proc/cpuinfo"):
        pytest.skip("no /proc/cpuinfo: the host is asked from LLVM")
    script = tmp_path / "warm.py"
    script.write_text(textwrap.dedent(WARM))
    env = {**os.environ, "FROSTLINE_CACHE_DIR": str(tmp_path / "cache")}
    outputs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120) for _ in range(2)]
    for out in outputs:
        assert out.returncode == 0, out.stderr
    cold, warm = (out.stdout.strip() for out in outputs)
    assert cold.startswith("14.0 1 0 ")
    assert warm == "14.0 0 1 []"
