"""Execution modes: choosing one, stepping down when a granularity fails, and what each
granularity really runs.

A failure under a mode with ``FALLBACK`` (``auto``) emits one ``FallbackWarning``
naming the function, the granularity, the stage and the reason, counts it in
``fl.stats()`` and steps down (``whole`` → ``per_function`` → ``python``; ``f.run``'s
native loop → a Python loop of calls); without ``FALLBACK`` it raises.  Background
compilations are waited for through their handles and events, never by sleeping.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import importlib
import inspect
import pickle
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import frostline as fl
from frostline.modes import batch_steps, single_call_steps
from frostline.toolchain.runner import background_runner
from tests.toolchain.test_runner import TIMEOUT, counter, holding

M = fl.ExecutionMode
THIS_FILE = __file__


def counters():
    """The fallback counters of ``fl.stats()``."""
    return {name: counter(name) for name in
            ("fallbacks_run", "fallbacks_whole", "fallbacks_per_function")}


def moved(before, **expected):
    """The fallback counters moved by exactly ``expected`` (others not at all)."""
    after = counters()
    want = {name: before[name] + expected.get(name, 0) for name in before}
    assert after == want, f"fallback counters: expected {want}, got {after}"


def line_of(fn, text):
    """The file line of the first line of ``fn``'s source containing ``text``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def fallback_warnings(caught):
    return [w for w in caught if issubclass(w.category, fl.FallbackWarning)]


@contextlib.contextmanager
def record_fallbacks():
    """Record every warning raised in the block, FallbackWarnings always."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fl.FallbackWarning)
        yield caught


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


def text_when_negative(x):
    y = 0.0
    if x > 0:
        y = 1.5
    else:
        y = "negative"  # strings: the whole compilation fails at infer_types
    return y


TEXT_LINE = line_of(text_when_negative, '"negative"')


def double(x):
    return x * 2


def wrapping_square(n):
    # int64 wraps where a Python int grows: a result of 0 for 2**62 shows compiled code
    return n * n


BIG = 2**62


def squares_then_text(n):
    total = wrapping_square(n)
    if total < 0:
        return "negative"  # fails whole; runs per_function with wrapping_square compiled
    return total


@fl.jit
def jit_square(n):
    return n * n


def calls_jit_square(n):
    return jit_square(n) + 1


def calls_failing_callee(x):
    return text_when_negative(x) * 2.0


class Exploding:
    """A global whose attribute lookup fails: no per-function copy can be made."""

    def __getattr__(self, name):
        raise RuntimeError("exploding global")


EXPLODING = Exploding()


def uses_exploding_global(x):
    if x > 100.0:
        return EXPLODING.value
    return x + 1.0


def add(a, b):
    return a + b


def pair(a, b):
    return a + b, a * b


def fill_row(row, value):
    for i in range(row.shape[0]):
        row[i] = value + i


def row_sum(row):
    s = 0.0
    for i in range(row.shape[0]):
        s += row[i]
    return s


def halve_rows(rows, d):
    for i in range(rows.shape[0]):
        rows[i] = rows[i] / d
    return 1.0 / d


def scaled(x, factor=3.0):
    return x * factor


# ---------------------------------------------------------------------------
# Choosing a mode
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "mode"), [
    ("auto", M.AUTO), ("AUTO", M.AUTO), ("whole", M.WHOLE), ("python", M.PYTHON),
    ("run", M.RUN), ("per_function", M.PER_FUNCTION), ("per-function", M.PER_FUNCTION),
    ("Per Function", M.PER_FUNCTION), ("whole|fallback", M.WHOLE | M.FALLBACK),
    ("run + whole", M.RUN | M.WHOLE), ("python, per_function", M.PYTHON | M.PER_FUNCTION),
    ("auto|python", M.AUTO | M.PYTHON), ("whole|", M.WHOLE),
])
def test_parse_reads_names_in_any_case_combined_with_bar_plus_or_comma(text, mode):
    assert M.parse(text) == mode
    assert fl.jit(double, mode=text).mode == mode


def test_parse_returns_members_unchanged_and_auto_is_fallback_run_whole_per_function():
    assert M.parse(M.RUN | M.FALLBACK) == M.RUN | M.FALLBACK
    assert M.AUTO == M.FALLBACK | M.RUN | M.WHOLE | M.PER_FUNCTION
    assert not M.AUTO & M.PYTHON
    assert fl.jit(double).mode == M.WHOLE, "whole is the default"


def test_parse_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown execution mode 'fast' \(valid: python, "
                                         r"per_function, whole, run, fallback, auto\)"):
        M.parse("whole|fast")
    with pytest.raises(ValueError, match="unknown execution mode 'fast'"):
        fl.jit(double, mode="fast")
    with pytest.raises(ValueError, match="unknown execution mode"):
        fl.jit(mode="fast")  # the decorator form checks at once too


@pytest.mark.parametrize("mode", ["fallback", "", " | ", M.FALLBACK, M(0)])
def test_parse_rejects_a_mode_without_granularity(mode):
    with pytest.raises(ValueError, match="names no granularity"):
        M.parse(mode)


@pytest.mark.parametrize("mode", [3, None, 2.0, b"auto"])
def test_parse_rejects_other_types(mode):
    with pytest.raises(TypeError, match="mode must be an ExecutionMode or a string"):
        M.parse(mode)


@pytest.mark.parametrize(("mode", "single", "batch"), [
    (M.WHOLE, (M.WHOLE,), (M.PYTHON,)),
    (M.PER_FUNCTION, (M.PER_FUNCTION,), (M.PYTHON,)),
    (M.PYTHON, (M.PYTHON,), (M.PYTHON,)),
    (M.RUN, (M.WHOLE,), (M.RUN,)),
    (M.AUTO, (M.WHOLE, M.PER_FUNCTION, M.PYTHON), (M.RUN, M.PYTHON)),
    (M.WHOLE | M.FALLBACK, (M.WHOLE, M.PYTHON), (M.PYTHON,)),
    (M.PER_FUNCTION | M.FALLBACK, (M.PER_FUNCTION, M.PYTHON), (M.PYTHON,)),
    (M.WHOLE | M.PER_FUNCTION, (M.WHOLE,), (M.PYTHON,)),
    (M.RUN | M.FALLBACK, (M.WHOLE, M.PYTHON), (M.RUN, M.PYTHON)),
])
def test_steps_coarsest_first_and_only_the_coarsest_without_fallback(mode, single, batch):
    assert single_call_steps(mode) == single
    assert batch_steps(mode) == batch


def test_pickling_keeps_the_mode_and_the_fallback():
    for mode in ("auto", "python", "per_function", "run|fallback", "whole"):
        f = fl.jit(double, mode=mode)
        assert pickle.loads(pickle.dumps(f)).mode == M.parse(mode)
    tiered = pickle.loads(pickle.dumps(fl.jit(double, mode="auto", background=True)))
    assert tiered.mode == M.AUTO and tiered.background
    f = pickle.loads(pickle.dumps(fl.jit(text_when_negative, mode="auto")))
    with record_fallbacks() as caught:
        assert f(-1.0) == "negative"
    assert len(fallback_warnings(caught)) == 1, "the unpickled function lost its fallback"


def test_fallback_warning_pickles_and_copies_with_its_attributes():
    warning = fl.FallbackWarning("f(float64)", M.WHOLE, "infer_types", ValueError("why"),
                                 M.PER_FUNCTION)
    for clone in (pickle.loads(pickle.dumps(warning)), copy.copy(warning)):
        assert str(clone) == str(warning)
        assert (clone.function, clone.granularity, clone.stage, clone.next) == \
            ("f(float64)", M.WHOLE, "infer_types", M.PER_FUNCTION)
        assert str(clone.reason) == "why"


# ---------------------------------------------------------------------------
# Single calls: whole → per_function → python
# ---------------------------------------------------------------------------


def test_whole_failure_warns_once_per_signature_and_steps_down():
    f = fl.jit(text_when_negative, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        call_line = inspect.currentframe().f_lineno + 1
        assert f(1.0) == 1.5
        assert f(-2.0) == "negative"
        assert f(3.0) == 1.5
    (w,) = fallback_warnings(caught)
    text = str(w.message)
    assert text.startswith("frostline: text_when_negative(float64) fell back from whole to "
                           "per_function: the whole compilation failed at stage "
                           "'infer_types': "), text
    assert f"{THIS_FILE}:{TEXT_LINE}:" in text and "strings are not supported" in text
    warning = w.message
    assert (warning.function, warning.granularity, warning.stage, warning.next) == \
        ("text_when_negative(float64)", M.WHOLE, "infer_types", M.PER_FUNCTION)
    assert isinstance(warning.reason, fl.CompileError)
    assert (w.filename, w.lineno) == (THIS_FILE, call_line), "not attributed to the call"
    moved(before, fallbacks_whole=1)

    with record_fallbacks() as caught:
        assert f(5) == 1.5
        assert f(np.int64(-5)) == "negative"  # int64 again: no second warning
        assert f(True) == 1.5
    assert [w.message.function for w in fallback_warnings(caught)] == \
        ["text_when_negative(int64)", "text_when_negative(bool)"]
    moved(before, fallbacks_whole=3)


def test_failed_compilation_is_kept_not_repeated():
    f = fl.jit(text_when_negative, mode="auto")
    with pytest.raises(fl.CompileError, match="strings are not supported") as first:
        f.compile("float64")  # compile() raises whatever the mode
    with record_fallbacks() as caught:
        assert f(-1.0) == "negative"
    (w,) = fallback_warnings(caught)
    assert w.message.reason is first.value, "the call compiled the failing program again"
    with pytest.raises(fl.CompileError) as again:
        f.compile(fl.float64)
    assert again.value is first.value
    assert f.signatures == []


def test_argument_types_that_are_not_numbers_or_arrays_fail_whole_at_arguments():
    f = fl.jit(double, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        assert f("ab") == "abab"
        assert f("cd") == "cdcd"
        assert f([1]) == [1, 1]
    texts = [str(w.message) for w in fallback_warnings(caught)]
    assert texts == [
        "frostline: double(str) fell back from whole to per_function: the whole compilation "
        "failed at stage 'arguments': TypeError: double() argument 'x': frostline has no "
        "type for str values",
        "frostline: double(list) fell back from whole to per_function: the whole compilation "
        "failed at stage 'arguments': TypeError: double() argument 'x': frostline has no "
        "type for list values"], texts
    moved(before, fallbacks_whole=2)
    with pytest.raises(TypeError, match="double\\(\\) argument 'x': frostline has no type for "
                                        "str values"):
        fl.jit(double)("ab")


def test_without_fallback_whole_and_run_raise_the_compile_error():
    before = counters()
    with record_fallbacks() as caught:
        for mode in ("whole", "run", "whole|per_function|python"):
            f = fl.jit(text_when_negative, mode=mode)
            with pytest.raises(fl.CompileError, match=f"{TEXT_LINE}:.*strings are not "):
                f(1.0)
            with pytest.raises(fl.CompileError):
                f(1.0)  # again: the kept failure, not a fallback
        with pytest.raises(fl.CompileError, match="strings are not supported"):
            fl.jit(text_when_negative, mode="run").run(np.ones(3))
    assert fallback_warnings(caught) == []
    moved(before)


def test_per_function_failure_steps_down_to_python():
    f = fl.jit(uses_exploding_global, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        assert f(1.0) == 2.0
        assert f(2.0) == 3.0
    whole, per_function = fallback_warnings(caught)
    assert whole.message.granularity is M.WHOLE
    assert str(per_function.message) == (
        "frostline: uses_exploding_global fell back from per_function to python: the "
        "per_function compilation failed at stage 'per_function': RuntimeError: exploding "
        "global")
    assert per_function.filename == THIS_FILE
    moved(before, fallbacks_whole=1, fallbacks_per_function=1)
    with pytest.raises(RuntimeError, match="exploding global"):
        fl.jit(uses_exploding_global, mode="per_function")(1.0)
    moved(before, fallbacks_whole=1, fallbacks_per_function=1)


def test_whole_fallback_lands_on_python_when_the_mode_has_no_per_function():
    f = fl.jit(squares_then_text, mode="whole|fallback")
    with record_fallbacks() as caught:
        assert f(BIG) == BIG * BIG, "a Python int: the callee ran as Python"
    (w,) = fallback_warnings(caught)
    assert w.message.next is M.PYTHON and " fell back from whole to python: " in \
        str(w.message)


def test_python_mode_never_compiles():
    f = fl.jit(squares_then_text, mode="python")
    watched = ("compiled", "memory_hits", "disk_hits", "background_started", "python_calls",
               "fallbacks_run", "fallbacks_whole", "fallbacks_per_function")
    before = {name: counter(name) for name in watched}
    assert f(BIG) == BIG * BIG
    assert f(3) == 9
    assert f.run(np.array([2, 3])).tolist() == [4, 9]
    assert {name: counter(name) for name in watched} == before
    assert f.signatures == []


# ---------------------------------------------------------------------------
# PER_FUNCTION: the function's code as Python, its callees compiled
# ---------------------------------------------------------------------------


def test_per_function_compiles_the_callees_and_runs_the_function_as_python():
    f = fl.jit(squares_then_text, mode="per_function")
    assert f(BIG) == 0, "wrapping_square ran as Python, not compiled"
    assert f(3) == 9
    assert squares_then_text(BIG) == BIG * BIG, "the module's function is left alone"
    g = fl.jit(calls_jit_square, mode="per_function")
    assert g(BIG) == 1, "a jit callee ran as Python"
    assert fl.jit(squares_then_text, mode="python")(BIG) == BIG * BIG


def test_auto_runs_per_function_after_whole_fails_with_callees_compiled():
    f = fl.jit(squares_then_text, mode="auto")
    with record_fallbacks() as caught:
        assert f(BIG) == 0
    assert [w.message.next for w in fallback_warnings(caught)] == [M.PER_FUNCTION]


def test_failing_callee_raises_under_per_function_and_falls_back_under_auto():
    f = fl.jit(calls_failing_callee, mode="per_function")
    with pytest.raises(fl.CompileError, match=f"{TEXT_LINE}:.*strings are not supported"):
        f(1.0)
    g = fl.jit(calls_failing_callee, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        assert g(1.0) == 3.0
        assert g(2.0) == 3.0
    outer, callee = (w.message for w in fallback_warnings(caught))
    assert (outer.function, outer.next) == ("calls_failing_callee(float64)", M.PER_FUNCTION)
    assert (callee.function, callee.granularity, callee.next) == \
        ("text_when_negative(float64)", M.WHOLE, M.PYTHON)
    moved(before, fallbacks_whole=2)


def _closure_over(kernel):
    def top(n):
        return kernel(n) + 1

    return top


def _recursive_closure():
    def nested_squares_down(n, depth):
        if depth == 0:
            return 0
        return wrapping_square(n) + nested_squares_down(n, depth - 1)

    return nested_squares_down


def test_per_function_replaces_callees_held_in_closures():
    top = _closure_over(wrapping_square)
    f = fl.jit(top, mode="per_function")
    assert f(BIG) == 1
    assert top.__closure__[0].cell_contents is wrapping_square, "the closure was changed"
    assert top(BIG) == BIG * BIG + 1
    nested = _recursive_closure()
    assert fl.jit(nested, mode="per_function")(BIG, 3) == 0, \
        "a recursive call through a closure ran the original, its callees uncompiled"
    assert nested(BIG, 3) == 3 * BIG * BIG


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    """Modules in tmp_path: kernels in a module and a package, and a user module calling
    them through dotted names."""
    (tmp_path / "fl_modes_kernels.py").write_text("def square(n):\n    return n * n\n")
    package = tmp_path / "fl_modes_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from fl_modes_pkg import sub\n")
    (package / "sub.py").write_text("def cube(n):\n    return n * n * n\n")
    (tmp_path / "fl_modes_user.py").write_text(textwrap.dedent("""\
        import fl_modes_kernels
        import fl_modes_pkg

        LIMIT = 10


        def top(n):
            a = fl_modes_kernels.square(n)
            b = fl_modes_pkg.sub.cube(n)
            return a, b, n < LIMIT
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ["fl_modes_user", "fl_modes_kernels", "fl_modes_pkg", "fl_modes_pkg.sub"]
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield importlib.import_module("fl_modes_user")
    for name in names:
        sys.modules.pop(name, None)


def test_per_function_replaces_kernels_called_through_modules(user_modules):
    f = fl.jit(user_modules.top, mode="per_function")
    assert f(BIG) == (0, 0, False), "a kernel called through a module ran as Python"
    assert f(3) == (9, 27, True)
    kernels = sys.modules["fl_modes_kernels"]
    assert inspect.isfunction(kernels.square) and kernels.square(BIG) == BIG * BIG, \
        "the module itself was changed"
    assert user_modules.top(BIG) == (BIG * BIG, BIG**3, False)


def test_per_function_sees_later_changes_of_module_globals(user_modules, monkeypatch):
    f = fl.jit(user_modules.top, mode="per_function")
    assert f(3) == (9, 27, True)
    monkeypatch.setattr(user_modules, "LIMIT", 2)
    assert f(3) == (9, 27, False), "the per-function copy read a stale global"
    kernels = sys.modules["fl_modes_kernels"]
    monkeypatch.setattr(kernels, "square", sys.modules["fl_modes_pkg.sub"].cube)
    assert f(BIG) == (0, 0, False)
    assert f(3) == (27, 27, False), "the copy called a kernel the module no longer has"


STEP = wrapping_square
GLOBAL_CALLS = 0


def steps_by_global(n):
    return STEP(n)


def counts_its_calls(x):
    global GLOBAL_CALLS
    GLOBAL_CALLS += 1
    return x * 2.0


def test_per_function_sees_a_kernel_global_rebound_later(monkeypatch):
    f = fl.jit(steps_by_global, mode="per_function")
    assert f(3) == 9
    monkeypatch.setattr(sys.modules[__name__], "STEP", jit_square.py_func)
    assert f(BIG) == 0, "the new kernel runs compiled"
    monkeypatch.setattr(sys.modules[__name__], "STEP", double)
    assert f(3) == 6, "the copy called the kernel the global no longer names"


def test_a_function_assigning_globals_is_not_run_per_function(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "GLOBAL_CALLS", 0)
    with pytest.raises(fl.CompileError, match="assigns the global name GLOBAL_CALLS"):
        fl.jit(counts_its_calls, mode="per_function")(1.0)
    f = fl.jit(counts_its_calls, mode="auto")
    with record_fallbacks() as caught:
        assert f(1.0) == 2.0
        assert f(2.0) == 4.0
    assert GLOBAL_CALLS == 2, "the function's global writes did not reach its module"
    assert [w.message.granularity for w in fallback_warnings(caught)] == \
        [M.WHOLE, M.PER_FUNCTION]


def squares_down(n, depth):
    if depth == 0:
        return 0
    return wrapping_square(n) + squares_down(n, depth - 1)


@fl.jit(mode="per_function")
def jit_squares_down(n, depth):
    if depth == 0:
        return 0
    return wrapping_square(n) + jit_squares_down(n, depth - 1)


def test_per_function_recursion_compiles_the_callees_at_every_depth():
    assert squares_down(BIG, 3) == 3 * BIG * BIG
    assert jit_squares_down(BIG, 3) == 0
    assert fl.jit(squares_down, mode="per_function")(BIG, 3) == 0, \
        "a recursive call ran the function's Python original, its callees uncompiled"
    assert fl.jit(squares_down, mode="per_function")(3, 4) == 36


# ---------------------------------------------------------------------------
# Tiered execution (background=True) under a mode
# ---------------------------------------------------------------------------


def failed_in_background(f, signature):
    """Start ``f``'s compilation while the runner is held (so the first call runs Python),
    then wait until it has failed and the function has seen it."""
    python_calls = counter("python_calls")
    with holding(background_runner()):
        assert f(1.0) == 1.5
        handle = f.compile_async(signature)
        assert not handle.done()
    assert counter("python_calls") == python_calls + 1
    ended = threading.Event()
    handle.add_finalize(ended.set)  # after the function's own finaliser
    concurrent.futures.wait([handle], TIMEOUT)
    assert ended.wait(TIMEOUT) and isinstance(handle.exception(), fl.CompileError)
    return handle


def test_tiered_failure_under_auto_warns_once_and_runs_the_function_as_python():
    f = fl.jit(text_when_negative, mode="auto", background=True, cache=False)
    handle = failed_in_background(f, "float64")
    before, python_calls = counters(), counter("python_calls")
    started = counter("background_started")
    with record_fallbacks() as caught:
        assert f(2.0) == 1.5
        assert f(-2.0) == "negative"
        assert f.run(np.array([1.0, 2.0])).tolist() == [1.5, 1.5]
    whole, run = (w.message for w in fallback_warnings(caught))
    assert (whole.function, whole.stage, whole.next) == \
        ("text_when_negative(float64)", "infer_types", M.PER_FUNCTION)
    assert whole.reason is handle.exception()
    assert (run.granularity, run.stage, run.next) == (M.RUN, "element infer_types", M.PYTHON)
    moved(before, fallbacks_whole=1, fallbacks_run=1)
    assert counter("python_calls") == python_calls, "calls after the fallback are no " \
        "longer tiered calls waiting for native code"
    assert counter("background_started") == started, "the failing program was compiled again"


@pytest.mark.parametrize("mode", ["whole", "run"])
def test_tiered_failure_without_fallback_raises_on_the_next_call(mode):
    f = fl.jit(text_when_negative, mode=mode, background=True, cache=False)
    handle = failed_in_background(f, "float64")
    before = counters()
    with holding(background_runner()):  # a new compilation could not finish before the call
        with pytest.raises(fl.CompileError) as raised:
            f(1.0)
    assert raised.value is handle.exception()
    moved(before)


def test_tiered_batch_runs_python_calls_while_compiling():
    f = fl.jit(add, mode="auto", background=True, cache=False)
    python_calls = counter("python_calls")
    with holding(background_runner()):
        got = f.run(np.arange(3.0), 1.0)
    assert got.tolist() == [1.0, 2.0, 3.0]
    assert counter("python_calls") == python_calls + 3
    exe = f.compile_async("float64", "float64").result(TIMEOUT)
    assert exe(1.0, 2.0) == 3.0


# ---------------------------------------------------------------------------
# f.run
# ---------------------------------------------------------------------------


def test_run_falls_back_to_a_python_loop_with_one_warning_per_kind_of_batch():
    f = fl.jit(text_when_negative, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        call_line = inspect.currentframe().f_lineno + 1
        assert f.run(np.array([1.0, 2.0])).tolist() == [1.5, 1.5]
        assert f.run(np.array([3.0, 4.0, 5.0])).tolist() == [1.5] * 3  # same kind: quiet
    run, whole = fallback_warnings(caught)
    assert str(run.message).startswith(
        "frostline: text_when_negative.run fell back from run to python: the run "
        "compilation failed at stage 'element infer_types': ")
    assert f"{THIS_FILE}:{TEXT_LINE}:" in str(run.message)
    assert (run.filename, run.lineno) == (THIS_FILE, call_line)
    assert whole.message.function == "text_when_negative(float64)"
    moved(before, fallbacks_run=1, fallbacks_whole=1)
    with record_fallbacks() as caught:
        assert f.run(np.array([1, 2])).tolist() == [1.5, 1.5]  # int64 elements: both again
    assert [w.message.granularity for w in fallback_warnings(caught)] == [M.RUN, M.WHOLE]
    moved(before, fallbacks_run=2, fallbacks_whole=2)


def test_run_falls_back_when_the_driver_fails(monkeypatch):
    import frostline.batch

    def text_driver(name, params, batched, nresults):
        return f"def run_{name}(n, *args):\n    return 'text'\n"

    monkeypatch.setattr(frostline.batch, "driver_source", text_driver)
    f = fl.jit(double, mode="auto")
    before = counters()
    with record_fallbacks() as caught:
        assert f.run(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    (w,) = fallback_warnings(caught)
    assert w.message.granularity is M.RUN and w.message.stage.startswith("run driver ")
    assert isinstance(w.message.reason, fl.CompileError)
    assert "<frostline-run " in str(w.message.reason), "the driver's error names no file"
    moved(before, fallbacks_run=1)
    with pytest.raises(fl.CompileError):
        fl.jit(double, mode="run").run(np.array([1.0, 2.0]))


@pytest.mark.parametrize("mode", ["run", "auto", "whole", "python", "per_function"])
def test_run_results_per_kind_of_return(mode):
    f, g, h = (fl.jit(k, mode=mode) for k in (add, pair, fill_row))
    a = np.arange(4, dtype=np.int64)
    got = f.run(a, 10)
    assert got.tolist() == [10, 11, 12, 13] and got.dtype == np.int64
    s, p = g.run(a, np.full(4, 2))
    assert s.tolist() == [2, 3, 4, 5] and p.tolist() == [0, 2, 4, 6]
    rows = np.zeros((3, 2))
    assert h.run(rows, np.array([1.0, 2.0, 3.0])) is None
    assert rows.tolist() == [[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]]


@pytest.mark.parametrize("mode", ["run", "auto", "whole"])
def test_run_of_an_empty_batch(mode):
    f, g, h = (fl.jit(k, mode=mode) for k in (add, pair, fill_row))
    got = f.run(np.empty(0, np.int64), 1)
    assert got.shape == (0,) and got.dtype == np.int64
    s, p = g.run(np.empty(0), 2.0)
    assert s.shape == p.shape == (0,) and s.dtype == p.dtype == np.float64
    assert h.run(np.empty((0, 5)), 1.0) is None


def test_run_takes_lists_tuples_keywords_and_defaults():
    f = fl.jit(add, mode="run")
    assert f.run([1, 2, 3], 1).tolist() == [2, 3, 4]
    assert f.run((1.5, 2.5), [1.0, 1.0]).tolist() == [2.5, 3.5]
    assert f.run(b=np.arange(3), a=10).tolist() == [10, 11, 12]
    g = fl.jit(scaled, mode="run")
    assert g.run(np.arange(3.0)).tolist() == [0.0, 3.0, 6.0]
    assert g.run(np.arange(3.0), factor=np.array([1.0, 2.0, 3.0])).tolist() == [0.0, 2.0, 6.0]


def test_run_scalars_once_or_per_element_agree():
    f = fl.jit(add, mode="run")
    a = np.arange(5.0)
    assert f.run(a, 2.5).tolist() == f.run(a, np.full(5, 2.5)).tolist() == \
        [x + 2.5 for x in a.tolist()]
    assert f.run(a, a).tolist() == (2 * a).tolist()


@pytest.mark.parametrize("mode", ["run", "whole"])
def test_run_argument_errors_name_the_parameters(mode):
    f = fl.jit(add, mode=mode)
    with pytest.raises(ValueError, match=r"add.run\(\) argument 'b' has a batch of 2, but "
                                         r"'a' has 3"):
        f.run(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match=r"add.run\(\) needs at least one batched argument"):
        f.run(1.0, 2.0)
    with pytest.raises(TypeError, match=r"add.run\(\) argument 'a' is a 0-dimensional array"):
        f.run(np.array(1.0), np.ones(2))
    with pytest.raises(TypeError, match=r"add.run\(\) got an unexpected keyword argument 'c'"):
        f.run(np.ones(2), 1.0, c=3)
    with pytest.raises(TypeError, match=r"add.run\(\) missing a required argument: 'b'"):
        f.run(np.ones(2))
    with pytest.raises(ValueError, match=r"add.run\(\) argument 'a': .*inhomogeneous"):
        f.run([[1.0, 2.0], [3.0]], 1.0)


def test_run_rejects_unsupported_argument_types_naming_the_parameter():
    with pytest.raises(TypeError, match=r"add.run\(\) argument 'b': frostline has no type "
                                        r"for str values"):
        fl.jit(add, mode="run").run(np.ones(2), "x")
    with record_fallbacks() as caught:
        got = fl.jit(add, mode="auto").run(np.array(["a", "b"]), "x")
    assert got.tolist() == ["ax", "bx"]
    assert [(w.message.granularity, w.message.stage) for w in fallback_warnings(caught)] == \
        [(M.RUN, "arguments"), (M.WHOLE, "arguments")]


def test_run_follows_the_layout_of_every_batch():
    f = fl.jit(row_sum, mode="run")
    m = np.arange(24.0).reshape(4, 6)
    for batch in (m, np.asfortranarray(m), m[::-1], m[:, ::-2], m.T, m[1::2, 1:],
                  np.asfortranarray(m)[:, ::2]):
        assert f.run(batch).tolist() == batch.sum(axis=1).tolist(), batch.flags


@pytest.mark.parametrize("mode", ["run", "auto", "whole"])
def test_run_writes_rows_in_place_through_views(mode):
    f = fl.jit(fill_row, mode=mode)
    base = np.zeros((4, 6), order="F")
    view = base[::-1, 1::2]  # rows of three elements, reversed, in Fortran memory
    assert f.run(view, np.array([10.0, 20.0, 30.0, 40.0])) is None
    want = np.zeros((4, 6))
    for k, start in enumerate([40.0, 30.0, 20.0, 10.0]):
        want[k, 1::2] = [start, start + 1, start + 2]
    assert base.tolist() == want.tolist()


@pytest.mark.parametrize("mode", ["run", "auto", "whole"])
def test_run_stops_at_the_call_that_raises(mode):
    f = fl.jit(halve_rows, mode=mode)
    rows = np.full((4, 2), 2.0)
    with pytest.raises(ZeroDivisionError):
        f.run(rows, np.array([2.0, 2.0, 0.0, 2.0]))
    assert rows.tolist() == [[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]], \
        "calls before the failing one keep their writes; later calls do not run"
    assert f.run(rows, 2.0).tolist() == [0.5] * 4, "the function is usable afterwards"
