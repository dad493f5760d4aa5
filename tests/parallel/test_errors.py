"""Bad prange programs: a located CompileError each, a ValueError for a zero step."""

import numpy as np
import pytest

import frostline as fl
from tests.toolchain.test_compile_errors import check_error

CASES = [
    ("float-argument", """
def k(a):
    for i in fl.prange(a[0]):  # error: a[0]
        a[i] = 0.0
""", "float64[:]", "prange() arguments must be integers, not float64"),
    ("outside-for", """
def k(a):
    r = fl.prange(3)  # error: fl.prange(3)
""", "float64[:]", "prange() can only be used as the iterable of a for loop"),
    ("keywords", """
def k(a):
    for i in fl.prange(stop=3):  # error: fl.prange
        a[i] = 0.0
""", "float64[:]", "prange() takes 1 to 3 positional arguments"),
    ("carried", """
def k(a):
    prev = 0.0
    for i in fl.prange(a.shape[0]):
        a[i] = prev  # error: prev
        prev = a[i]
""", "float64[:]", "'prev' is read before this iteration of the prange loop assigns it"),
    ("carried-self", """
def k(a):
    t = 1.0
    for i in fl.prange(a.shape[0]):
        t = t * 2.0 + a[i]  # error: t * 2.0
""", "float64[:]", "'t' is read before this iteration"),
    ("carried-in-branch", """
def k(a):
    for i in fl.prange(a.shape[0]):
        if a[i] > 0:
            v = a[i]
        a[i] = v  # error: v
""", "float64[:]", "'v' is read before this iteration"),
    ("reduction-read", """
def k(a):
    s = 0.0
    for i in fl.prange(a.shape[0]):
        s += a[i]
        a[i] = s  # error: s
""", "float64[:]", "'s' is a reduction variable of this prange loop"),
    ("reduction-in-operand", """
def k(a):
    s = 0.0
    for i in fl.prange(a.shape[0]):
        s += a[i] * s  # error: s
""", "float64[:]", "'s' is a reduction variable"),
    ("mixed-reductions", """
def k(a):
    s = 0.0
    for i in fl.prange(a.shape[0]):
        s += a[i]
        s *= a[i]  # error: s
""", "float64[:]", "updated with different operations"),
    ("private-after", """
def k(a):
    x = 0.0
    for i in fl.prange(a.shape[0]):
        x = a[i]
    return x  # error: x
""", "float64[:]", "'x' is assigned in the body of a prange loop"),
    ("index-after", """
def k(a):
    for i in fl.prange(a.shape[0]):
        a[i] = 1.0
    return i  # error: i
""", "float64[:]", "'i' is assigned in the body of a prange loop"),
    ("private-next-time-round", """
def k(a):
    x = 0.0
    for r in range(3):
        a[0] = x  # error: x
        for i in fl.prange(a.shape[0]):
            x = a[i]
""", "float64[:]", "'x' is assigned in the body of a prange loop"),
    ("break", """
def k(a):
    for i in fl.prange(a.shape[0]):
        if a[i] > 0:
            break  # error: break
""", "float64[:]", "a prange loop cannot break"),
    ("return", """
def k(a):
    for i in fl.prange(a.shape[0]):
        return a[i]  # error: return
""", "float64[:]", "a prange loop's body cannot return"),
    ("array-reduction", """
def k(a):
    s = a * 0.0
    for i in fl.prange(a.shape[0]):  # error: for
        s += a
""", "float64[:]", "reduction variable 's' of a prange loop is a"),
]


@pytest.mark.parametrize("source, signature, message", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_compile_error_points_at_the_problem(tmp_path, source, signature, message):
    assert "# error: " in source
    check_error(tmp_path, source, signature, message)


def fine_reuse(a):
    """Names reused after the loop once assigned again, and a second loop's index."""
    for i in fl.prange(a.shape[0]):
        x = a[i] * 2.0
        a[i] = x
    x = 1.0
    for i in fl.prange(a.shape[0]):
        a[i] += x + i
    return x


def test_reassigned_names_after_the_loop_are_fine():
    a = np.arange(10_000.0)
    want = fine_reuse(a.copy())
    b = a.copy()
    assert fl.jit(fine_reuse)(b) == want
    np.testing.assert_array_equal(b, (a * 2.0) + 1.0 + np.arange(10_000))


def zero_step(a, step):
    for i in fl.prange(0, a.shape[0], step):
        a[i] = 1.0


def literal_zero_step(a):
    for i in fl.prange(0, a.shape[0], 0):
        a[i] = 1.0


def test_zero_step_raises_value_error_as_range_does():
    a = np.zeros(5)
    with pytest.raises(ValueError, match="range\\(\\) arg 3 must not be zero"):
        fl.jit(zero_step)(a, 0)
    with pytest.raises(ValueError, match="range\\(\\) arg 3 must not be zero"):
        fl.jit(literal_zero_step)(a)
    with pytest.raises(ValueError, match="arg 3 must not be zero"):
        zero_step(a, 0)


def fill(a):
    for i in fl.prange(a.shape[0]):
        a[i] = 1.0


def test_a_target_without_the_pool_runtime_is_a_compile_error():
    from frostline.backends.llvm.codegen import lower_program

    typed = fl.jit(fill, cache=False).stages("float64[::1]").typed
    with pytest.raises(fl.CompileError, match="parallel loops need Linux on x86-64 or aarch64"):
        lower_program(typed, "riscv64-unknown-linux-gnu", "", "test.runtime")
    with pytest.raises(fl.CompileError, match="parallel loops need Linux"):
        lower_program(typed, "x86_64-apple-darwin", "", "test.runtime")
