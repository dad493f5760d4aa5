"""What reaches frostline before any compiling: the function's source, its parameters and
defaults, constructs refused with their location, and the names errors use.

Each test names the hardening item it guards (issue 9).
"""

from __future__ import annotations

import importlib
import math
import sys
import warnings

import numpy as np
import pytest

import frostline as fl

# --- the source must be the function that runs (item 9) --------------------------------


@pytest.fixture
def module_file(tmp_path, monkeypatch):
    """Write a module, import it, and return (module, path)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def make(name: str, text: str):
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name), path

    yield make
    for name in names:
        sys.modules.pop(name, None)


def test_a_module_edited_after_import_is_a_compile_error(module_file):
    mod, path = module_file("edited_kernel", "def k(x):\n    return x * 2.0\n")
    path.write_text("def k(x):\n    return x * 3.0\n")  # an editor saves the file
    assert mod.k(1.0) == 2.0
    with pytest.raises(fl.CompileError, match="the source of k .* has changed since k was "
                                               "defined") as info:
        fl.jit(mod.k, cache=False)(1.0)
    assert info.value.lineno == 1 and "def k(x):" in str(info.value)
    with pytest.warns(fl.FallbackWarning, match="has changed"):
        assert fl.jit(mod.k, cache=False, mode="auto")(1.0) == 2.0  # the function that runs


def test_an_edited_callee_is_found_too(module_file):
    mod, path = module_file("edited_callee",
                            "def helper(x):\n    return x + 1.0\n\n"
                            "def k(x):\n    return helper(x)\n")
    path.write_text("def helper(x):\n    return x + 5.0\n\ndef k(x):\n    return helper(x)\n")
    with pytest.raises(fl.CompileError, match="the source of helper"):
        fl.jit(mod.k, cache=False)(1.0)


@pytest.mark.parametrize("text", [
    "import math\n\ndef k(x):\n    return math.sqrt(x) + math.floor(x)\n",
    "import numpy as np\n\n\n\n# moved down\ndef k(x):\n    return np.sqrt(x)\n",
    "from __future__ import annotations\n\ndef k(x: float) -> float:\n    '''doc'''\n"
    "    return -0.0 + x * 1.5\n",
    "def make(c):\n    def k(x):\n        return x * c\n    return k\nk = make(2.5)\n",
    "class Holder:\n    @staticmethod\n    def k(x):\n        return x + 1\n\nk = Holder.k\n",
])
def test_unedited_sources_compile(module_file, text):
    mod, _ = module_file(f"unedited_{abs(hash(text))}", text)
    assert fl.jit(mod.k, cache=False)(2.0) == mod.k(2.0)


def test_a_kernel_in_a_test_file_with_asserts_compiles():
    # pytest rewrites the asserts of this file: the function that runs is the rewritten one
    def checked(x):
        assert x > 0, "x must be positive"
        return x + 1.0

    assert fl.jit(checked, cache=False)(1.0) == 2.0
    with pytest.raises(AssertionError, match="x must be positive"):
        fl.jit(checked, cache=False)(-1.0)


# --- parameters and defaults (items 11 and 15e) ----------------------------------------


def keyword_only(x, *, scale=2.0):
    return x * scale


def keywords(x, **options):
    return x


def variadic(*xs):
    return len(xs)


def mutable_default(x, d=[1]):  # noqa: B006 - the point of the test
    return x + d[0]


@pytest.mark.parametrize("fn", [keyword_only, keywords, variadic])
def test_parameters_that_are_not_plain_are_a_located_compile_error(fn):
    with pytest.raises(fl.CompileError, match="only plain positional parameters are "
                                               "supported") as info:
        fl.jit(fn)(1.0)
    assert info.value.filename == __file__ and f"def {fn.__name__}(" in str(info.value)
    with pytest.raises(fl.CompileError, match="only plain positional parameters"):
        fl.jit(fn).compile("float64")


def test_auto_falls_back_for_them_with_the_keywords_kept():
    f = fl.jit(keyword_only, mode="auto")
    with pytest.warns(fl.FallbackWarning, match="only plain positional parameters"):
        assert f(1.0, scale=3.0) == 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(2.0) == 4.0  # warned once
    assert f.bind(1.0, scale=5.0)() == 5.0
    np.testing.assert_array_equal(f.run(np.ones(3), scale=4.0), np.full(3, 4.0))
    with pytest.warns(fl.FallbackWarning):
        assert fl.jit(variadic, mode="auto")(1.0, 2.0, 3.0) == 3


def test_a_mutable_default_is_the_documented_compile_error():
    with pytest.raises(fl.CompileError, match="the default value of 'd' must be a number "
                                               "or tuple"):
        fl.jit(mutable_default)(1.0)
    with pytest.warns(fl.FallbackWarning):
        assert fl.jit(mutable_default, mode="auto")(1.0) == 2.0


# --- refused constructs are located (item 15) ------------------------------------------


async def asynchronous(x):
    return x


def outer(x):
    def inner(y):
        return y
    return inner(x)


def test_async_def_has_its_line_and_caret():
    with pytest.raises(fl.CompileError) as info:
        fl.jit(asynchronous)(1.0)
    text = str(info.value)
    assert "async functions are not supported in kernels" in text
    assert "async def asynchronous(x):" in text and text.rstrip().endswith("^")


def test_a_nested_def_gives_the_documented_message():
    with pytest.raises(fl.CompileError, match="nested function definitions are not "
                                               "supported in kernels") as info:
        fl.jit(outer)(1.0)
    assert "def inner(y):" in str(info.value)


def write_through(a, v):
    p = (a, 1)
    b = p[0]
    b[0] = v


def takes_an_int(x, n):
    return x + n


def test_run_errors_name_the_function_and_its_parameters():
    f = fl.jit(write_through, mode="run")
    with pytest.raises(TypeError, match="write_through.run\\(\\) argument 'a' must be a "
                                        "writable array"):
        f.run(np.broadcast_to(np.zeros(3), (4, 3)), 1.0)
    g = fl.jit(takes_an_int, mode="run")
    with pytest.raises(OverflowError, match="takes_an_int.run\\(\\) argument 'n' = "
                                            "[0-9.]+ \\(401 digits\\) is out of range"):
        g.run(np.ones(2), 10**400)


def clash(n, i, kernel, out0):
    return n + i + kernel + out0


def test_a_run_driver_s_own_names_never_clash_with_parameters():
    f = fl.jit(clash, mode="run")
    np.testing.assert_array_equal(f.run(np.arange(3.0), 1.0, 2.0, np.ones(3)),
                                  [4.0, 5.0, 6.0])


# --- evaluation, once and in order (items 16 and 20) -----------------------------------


def bump(a):
    a[0] += 1.0
    return 1


def ldexp_bumps(a):
    return math.ldexp(a[0], bump(a))


def test_call_arguments_are_evaluated_once_left_to_right():
    expected, got = np.zeros(1), np.zeros(1)
    assert fl.jit(ldexp_bumps)(got) == ldexp_bumps(expected) == 0.0
    np.testing.assert_array_equal(got, expected)


def zero_step_if(n):
    if n > 100:
        for _ in range(0, 3, 0):
            pass
    return n


def test_a_zero_range_step_raises_when_reached():
    f = fl.jit(zero_step_if)
    assert f(1) == 1
    with pytest.raises(ValueError, match="range\\(\\) arg 3 must not be zero"):
        f(101)
    with pytest.raises(ValueError, match="range\\(\\) arg 3 must not be zero"):
        zero_step_if(101)
