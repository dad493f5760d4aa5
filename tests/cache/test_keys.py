"""Cache keys: every input of DESIGN.md's "Fingerprints" changes the key; positions do not.

Each kernel is loaded from a source file under one fixed module name, so two versions
differ only in what the test changes (file paths and line numbers differ on purpose).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import frostline as fl
from frostline.stages.closure import Closure
from frostline.stages.definition import Definition, JitOptions
from frostline.toolchain.frontend import parse
from frostline.toolchain.pipeline import Toolchain
from frostline.toolchain.workflow import Step, version_salt
from frostline.types import make_signature

_dirs = itertools.count()
DEFAULT_OPTIONS = JitOptions()

BASE = """
import numpy as np
import frostline as fl
import helpers

SCALE = 2.0
TABLE = np.array([1.0, 2.0, 3.0])
PAIR = (1, 2)

def kernel(a, n=3):
    s = 0.0
    for i in range(a.shape[0]):
        s += helpers.weight(a[i]) * SCALE + TABLE[i % 3] + PAIR[0]
    return s + n
"""

HELPERS = """
def weight(x):
    return x * x
"""


def load(tmp_path: Path, source: str, helpers: str = HELPERS) -> ModuleType:
    """Import ``source`` as module ``keymod`` (and ``helpers``) from a fresh directory."""
    directory = tmp_path / f"v{next(_dirs)}"
    directory.mkdir()
    (directory / "helpers.py").write_text(textwrap.dedent(helpers))
    (directory / "keymod.py").write_text(textwrap.dedent(source))
    sys.modules.pop("helpers", None)
    sys.path.insert(0, str(directory))
    try:
        spec = importlib.util.spec_from_file_location("keymod", directory / "keymod.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("helpers", None)
    return module


def key(module: ModuleType, signature: str = "float64[::1], int64",
        options: JitOptions = DEFAULT_OPTIONS, name: str = "kernel") -> str:
    program = parse(Definition(getattr(module, name), options))
    return Closure(program, make_signature(signature)).fingerprint


CHANGES = {
    "kernel body": (BASE.replace("+ PAIR[0]", "+ PAIR[1]"), HELPERS),
    "callee in another module": (BASE, HELPERS.replace("x * x", "x * x * x")),
    "global number": (BASE.replace("SCALE = 2.0", "SCALE = 2.5"), HELPERS),
    "global number's type": (BASE.replace("SCALE = 2.0", "SCALE = 2"), HELPERS),
    "global array content": (BASE.replace("[1.0, 2.0, 3.0]", "[1.0, 2.0, 4.0]"), HELPERS),
    "global array dtype": (BASE.replace("[1.0, 2.0, 3.0])", "[1.0, 2.0, 3.0], np.float32)"),
                           HELPERS),
    "global tuple": (BASE.replace("PAIR = (1, 2)", "PAIR = (3, 2)"), HELPERS),
    "default argument": (BASE.replace("n=3", "n=4"), HELPERS),
    "function name": (BASE.replace("def kernel", "def kernel2").replace(
        "return s + n", "return s + n\n\nkernel = kernel2"), HELPERS),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_input_changes_the_key(tmp_path, change):
    source, helpers = CHANGES[change]
    assert key(load(tmp_path, BASE)) != key(load(tmp_path, source, helpers)), change


POSITION_ONLY = {
    "blank lines above": "\n\n\n" + BASE,
    "comment lines above and inside": BASE.replace("def kernel", "# a comment\ndef kernel")
    .replace("    s = 0.0", "    # why s starts at zero\n    s = 0.0"),
    "unrelated function above": "def unrelated():\n    return 1\n" + BASE,
    "trailing whitespace and blank lines inside": BASE.replace("s = 0.0", "s = 0.0   \n\n"),
    "spacing inside expressions": BASE.replace("s = 0.0", "s=0.0").replace("s + n", "s+n"),
    "parenthesised differently": BASE.replace("return s + n", "return (s + n)"),
}


@pytest.mark.parametrize("change", list(POSITION_ONLY))
def test_positions_and_layout_do_not_change_the_key(tmp_path, change):
    assert key(load(tmp_path, BASE)) == key(load(tmp_path, POSITION_ONLY[change])), change


def test_options_and_signature_change_the_key(tmp_path):
    module = load(tmp_path, BASE)
    keys = {key(module), key(module, options=JitOptions(boundscheck=True)),
            key(module, options=JitOptions(fastmath=True)), key(module, "float64[:], int64"),
            key(module, "float32[::1], int64"), key(module, "float64[::1], int32"),
            key(module, "float64(float64[::1], int64)")}
    assert len(keys) == 7


def test_a_callees_own_options_change_the_key(tmp_path):
    plain = load(tmp_path, BASE)
    helper_jit = "import frostline as fl\n\n@fl.jit(boundscheck=True)\n" + HELPERS.lstrip()
    checked = load(tmp_path, BASE, helper_jit)
    assert key(plain) != key(checked)


def test_closure_cells_change_the_key(tmp_path):
    source = """
    def make(k):
        def kernel(a, n):
            return a[0] * k
        return kernel
    first = make(2.0)
    second = make(3.0)
    again = make(2.0)
    """
    module = load(tmp_path, source)
    assert key(module, name="first") != key(module, name="second")
    assert key(module, name="first") == key(module, name="again")


def test_versions_target_and_steps_change_the_salt_or_the_step():
    host = fl.backends.llvm.host_target()
    salts = {version_salt(host.fingerprint, "llvmlite=0.50.0 llvm=22.1"),
             version_salt(host.fingerprint, "llvmlite=0.50.1 llvm=22.1"),
             version_salt(host.fingerprint, "llvmlite=0.50.0 llvm=22.2"),
             version_salt("another cpu", "llvmlite=0.50.0 llvm=22.1")}
    assert len(salts) == 4
    default = Toolchain()
    newer = Toolchain(lower=Step("llvm.lower", default.lower.version + ".1", default.lower.run))
    assert default.fingerprint != newer.fingerprint
