"""The LLVM backend: IR verification, optimisation, object code, loading, the entry ABI."""

import math
import pickle
import re
import subprocess
import sys

import attrs
import numpy as np
import pytest

import frostline as fl
from frostline.backends import llvm
from frostline.backends.llvm.loader import IncompatibleTargetError
from frostline.backends.llvm.target import host_target, parse_verified


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def total(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s


def test_invalid_ir_is_an_exception_not_an_abort():
    bad = "define i32 @f() {\nentry:\n  ret i64 0\n}\n"
    with pytest.raises(RuntimeError):
        parse_verified(bad)


def test_contiguous_loops_vectorise_for_the_host():
    optimized = fl.jit(axpy).stages("float64, float64[::1], float64[::1]").optimized
    assert re.search(r"<\d+ x double>", optimized.as_text())


def test_fastmath_lets_reductions_vectorise():
    strict = fl.jit(total).stages("float64[::1]").optimized.as_text()
    fast = fl.jit(total, fastmath=True).stages("float64[::1]").optimized.as_text()
    assert re.search(r"fadd reassoc arcp contract <\d+ x double>", fast)
    assert not re.search(r"fadd <\d+ x double>", strict)


def test_fastmath_keeps_nan_and_inf_tests_working():
    def nan_sum(x, y):
        return math.isnan(x + y), math.isinf(x * y), x + y != x + y

    exe = fl.jit(nan_sum, fastmath=True).compile("float64, float64")
    assert exe(math.nan, 1.0) == (True, False, True)
    assert exe(math.inf, 2.0) == (False, True, False)


def test_target_is_the_host_cpu():
    code = fl.jit(total).stages("float64[::1]").object_code
    host = host_target()
    assert (code.target_triple, code.target_cpu) == (host.triple, host.cpu)
    assert code.data[:4] == b"\x7fELF"


def test_garbage_object_code_raises_instead_of_crashing():
    code = fl.jit(total).stages("float64[::1]").object_code
    broken = attrs.evolve(code, data=b"\x7fELF" + b"\0" * 60)
    with pytest.raises(RuntimeError):
        llvm.load(broken)


def test_object_code_for_missing_cpu_features_is_refused():
    code = fl.jit(total).stages("float64[::1]").object_code
    alien = attrs.evolve(code, target_features=code.target_features + ",+frostline-test-feature")
    with pytest.raises(IncompatibleTargetError, match="frostline-test-feature"):
        llvm.load(alien)
    other = attrs.evolve(code, target_triple="aarch64-unknown-linux-gnu")
    with pytest.raises(IncompatibleTargetError, match="aarch64"):
        llvm.load(other)


def test_object_code_loads_again_without_code_generation():
    code = fl.jit(total).stages("float64[::1]").object_code
    before = fl.stats()["compiled"]
    exe = llvm.load(pickle.loads(pickle.dumps(code)))
    assert exe(np.arange(5.0)) == 10.0
    assert fl.stats()["compiled"] == before


def test_pickled_executable_runs_in_a_fresh_process_without_compiling():
    exe = fl.jit(total).compile("float64[::1]")
    payload = pickle.dumps(exe)
    script = (
        "import pickle, sys, numpy as np, frostline as fl\n"
        "exe = pickle.loads(sys.stdin.buffer.read())\n"
        "print(exe(np.arange(5.0)), fl.stats()['compiled'])\n")
    out = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True,
                         check=True)
    assert out.stdout.split() == [b"10.0", b"0"]


def test_kernel_errors_come_back_as_their_python_exceptions():
    def checked(x, n):
        if n < 0:
            raise ValueError("n must not be negative")
        assert n < 100, "n is too large"
        return x[n] / n

    exe = fl.jit(checked).compile("float64[::1], int64")
    x = np.arange(200.0)
    with pytest.raises(ValueError, match="^n must not be negative$"):
        exe(x, -1)
    with pytest.raises(AssertionError, match="^n is too large$"):
        exe(x, 150)
    with pytest.raises(ZeroDivisionError, match="float division by zero"):
        exe(x, 0)
    assert exe(x, 4) == 1.0


def test_errors_raised_in_callees_propagate():
    def inner(v):
        if v > 10:
            raise OverflowError("too big")
        return v

    def outer(v):
        return inner(v) + inner(v + 5)

    f = fl.jit(outer)
    assert f(1) == 7
    with pytest.raises(OverflowError, match="too big"):
        f(8)


def test_user_defined_exception_classes():
    exe = fl.jit(raises_custom).compile("int64")
    with pytest.raises(CustomError, match="custom"):
        exe(1)


def test_exception_classes_defined_inside_functions():
    class LocalError(Exception):
        pass

    def kernel(x):
        if x > 0:
            raise LocalError("local")
        return x

    with pytest.raises(LocalError, match="local"):
        fl.jit(kernel)(1.0)


class CustomError(Exception):
    pass


def raises_custom(n):
    if n > 0:
        raise CustomError("custom")
    return n


def test_boundscheck_turns_bad_indices_into_index_error():
    def get(x, i):
        return x[i]

    safe = fl.jit(get, boundscheck=True).compile("float64[::1], int64")
    x = np.arange(3.0)
    assert safe(x, -1) == 2.0
    for bad in (3, -4, 1 << 40):
        with pytest.raises(IndexError, match="index out of bounds for axis 0"):
            safe(x, bad)


def test_gil_is_released_while_a_looping_kernel_runs():
    import threading
    import time

    def spin(n):
        s = 0
        for i in range(n):
            s = (s * 31 + i) % 1000003
        return s

    exe = fl.jit(spin).compile("int64")
    exe(10)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    start = time.perf_counter()
    exe(300_000_000)
    elapsed = time.perf_counter() - start
    done.set()
    thread.join()
    during = [t for t in ticks if start < t < start + elapsed]
    # With the GIL held the ticker could not run at all during the call.
    assert elapsed < 0.05 or len(during) >= 3


def count_down(n):
    if n == 0:
        return 0
    return 1 + count_down(n - 1)


def ping(n):
    return 0 if n == 0 else pong(n - 1) + 1


def pong(n):
    return 0 if n == 0 else ping(n - 1) + 1


@pytest.mark.parametrize("kernel", [count_down, ping])
def test_runaway_recursion_raises_recursion_error_instead_of_crashing(kernel):
    import threading

    f = fl.jit(kernel)
    assert f(5000) == 5000
    with pytest.raises(RecursionError, match="maximum recursion depth exceeded"):
        f(10**9)
    errors = []

    def in_thread():
        try:
            f(10**9)
        except RecursionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1


SMALL_STACK = """
import sys, threading
sys.path.insert(0, {tests!r})
import frostline as fl
from backends.test_llvm import count_down, ping
outcome = []
def run():
    for kernel in (count_down, ping):
        f = fl.jit(kernel, cache=False)
        outcome.append(f(1000))
        try:
            f(10**9)
        except RecursionError as exc:
            outcome.append(str(exc))
if {stack}:
    threading.stack_size({stack})
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
else:
    run()
print(outcome)
"""


@pytest.mark.parametrize(("stack", "ulimit"), [(256 << 10, None), (512 << 10, None),
                                               (1 << 20, None), (0, 1024), (0, 512)],
                         ids=["thread of 256 KiB", "thread of 512 KiB", "thread of 1 MiB",
                              "ulimit -s 1024", "ulimit -s 512"])
def test_runaway_recursion_on_a_small_stack_raises_recursion_error(stack, ulimit):
    """The limit comes from the running thread's real stack, not a fixed 1 MiB."""
    import os
    import subprocess
    import sys

    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = SMALL_STACK.format(tests=tests, stack=stack)
    command = [sys.executable, "-c", script]
    if ulimit:
        command = ["bash", "-c", f'ulimit -s {ulimit} && exec "$@"', "-", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    message = "maximum recursion depth exceeded in compiled code"
    assert done.stdout.strip() == str([1000, message, 1000, message])


def test_recursion_may_use_the_whole_default_stack():
    """Deeper than the fixed 1 MiB budget of before, on the main thread's 8 MiB."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != resource.RLIM_INFINITY and soft < 8 << 20:
        pytest.skip("a main-thread stack under 8 MiB")
    assert fl.jit(count_down)(60_000) == 60_000


@fl.jit(boundscheck=True)
def checked_get(a, i):
    return a[i]


def unchecked_caller(a, i):
    return checked_get(a, i) + a[i]


def test_jit_callees_keep_their_own_options():
    f = fl.jit(unchecked_caller)
    x = np.arange(3.0)
    assert f(x, 1) == 2.0
    with pytest.raises(IndexError):
        f(x, 5)
