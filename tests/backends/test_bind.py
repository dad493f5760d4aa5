"""Bound calls: ``exe.bind(*args)()`` does what ``exe(*args)`` does, with the arguments
converted once; ``context=`` hands back the same bound call for the same arguments."""

from __future__ import annotations

import array
import ctypes
import fractions
import functools
import gc
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import threading
import weakref
from typing import Any

import attrs
import cloudpickle
import numpy as np
import pytest
from corpus.kernels import CASES, Case
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl
from frostline.backends.llvm import loader, sharedlib
from frostline.backends.llvm.bound import PyBuffer, packed_field, packed_offsets
from frostline.stages.executable import BoundCall
from frostline.types import parse_signature

needs_linker = pytest.mark.skipif(sharedlib._linker() is None, reason="no system linker (ld)")


def outcome(call: Any) -> tuple[Any, ...]:
    """What a call returned (its repr: types, -0.0 and NaN count), or what it raised."""
    try:
        return ("returned", repr(call()))
    except Exception as exc:  # noqa: BLE001 - an exception is an outcome
        return ("raised", type(exc), str(exc))


def arrays_of(args: tuple[Any, ...]) -> list[bytes]:
    """The bytes of every array argument and of the array it views."""
    found = []
    for a in args:
        if isinstance(a, np.ndarray):
            found.append(a.tobytes())
            if isinstance(a.base, np.ndarray):
                found.append(a.base.tobytes())
    return found


# -- the differential corpus: every kernel, every argument set -----------------------------


def corpus_executable(case: Case, args: tuple[Any, ...]) -> Any:
    """The executable the differential tests compile for this case (same cache entries)."""
    dispatcher = fl.jit(**case.options)(case.fn) if case.options else fl.jit(case.fn)
    return dispatcher.compile(*[fl.typeof(a) for a in args])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bound_call_does_what_the_call_does_over_the_corpus(case):
    called, bound_args = case.args_factory(), case.args_factory()
    exe = corpus_executable(case, called)
    want = outcome(lambda: exe(*called))
    got = outcome(lambda: exe.bind(*bound_args)())
    assert got == want, f"bound call of {case.id}: {got} != {want}"
    assert arrays_of(bound_args) == arrays_of(called), f"arrays after the bound call of {case.id}"


# -- every scalar type, array layouts, results of every shape ------------------------------


def echo(x, out):
    out[0] = x
    return x


EXTREMES = {
    "bool": [True, False], "int8": [-128, 127, 0], "int16": [-(2**15), 2**15 - 1],
    "int32": [-(2**31), 2**31 - 1], "int64": [-(2**63), 2**63 - 1, -1],
    "uint8": [0, 255], "uint16": [0, 2**16 - 1], "uint32": [0, 2**32 - 1],
    "uint64": [0, 2**63, 2**64 - 1], "float32": [1.5, -0.0, 3.4e38, math.inf, math.nan],
    "float64": [-0.0, 5e-324, 1.7976931348623157e308, -math.inf, math.nan],
}


@functools.cache
def echo_exe(dtype: str) -> Any:
    return fl.jit(echo).compile(f"{dtype}, {dtype}[::1]")


@pytest.mark.parametrize("dtype", list(EXTREMES))
def test_every_scalar_type_is_packed_and_read_back(dtype):
    exe = echo_exe(dtype)
    for value in EXTREMES[dtype]:
        called, bound_out = np.zeros(1, dtype), np.zeros(1, dtype)
        want = outcome(lambda v=value, o=called: exe(v, o))
        assert outcome(exe.bind(value, bound_out)) == want, f"{dtype} {value!r}"
        assert bound_out.tobytes() == called.tobytes(), f"{dtype} {value!r} written"


def scalars_of(dtype: str) -> st.SearchStrategy[Any]:
    if dtype == "bool":
        return st.booleans()
    if dtype.startswith("float"):
        return st.floats(width=int(dtype[5:]))
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(EXTREMES)).flatmap(lambda d: st.tuples(st.just(d), scalars_of(d))))
def test_any_value_of_any_scalar_type_comes_back_as_from_the_call_and_numpy(drawn):
    dtype, value = drawn
    exe = echo_exe(dtype)
    called, bound_out = np.zeros(1, dtype), np.zeros(1, dtype)
    assert outcome(exe.bind(value, bound_out)) == outcome(lambda: exe(value, called))
    assert bound_out.tobytes() == called.tobytes() == np.array([value], dtype).tobytes()


def mixed(a, b, c, d, e, f, g):
    return a, b, c, d, e, f, g


def test_scalars_of_every_width_side_by_side_keep_their_places():
    exe = fl.jit(mixed).compile("int8, float32, bool, uint64, int16, float64, uint8")
    args = (-7, 0.25, True, 2**64 - 2, -300, -1e300, 200)
    assert exe.bind(*args)() == exe(*args) == (-7, 0.25, True, 2**64 - 2, -300, -1e300, 200)


def weighted(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * (i * 10 + j + 1)
    return s


def weighted3(a, out):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                out[i, j, k] = a[i, j, k] * (i * 100 + j * 10 + k)


@pytest.mark.parametrize("layout", ["C", "F", "A"])
def test_arrays_of_every_layout_pass_shape_and_strides(layout):
    grid = np.arange(1.0, 31.0).reshape(5, 6)
    a = {"C": grid, "F": np.asfortranarray(grid), "A": grid[::-2, 1::2]}[layout]
    dims = {"C": "float64[:, ::1]", "F": "float64[::1, :]", "A": "float64[:, :]"}[layout]
    exe = fl.jit(weighted).compile(dims)
    expected = sum(a[i, j] * (i * 10 + j + 1) for i in range(a.shape[0])
                   for j in range(a.shape[1]))
    assert exe.bind(a)() == exe(a) == expected


def test_three_dimensional_strided_views_are_read_and_written_through():
    cube = np.arange(60.0).reshape(3, 4, 5)
    exe = fl.jit(weighted3).compile("float64[:, :, :], float64[:, :, :]")
    called, bound = np.zeros((6, 4, 5))[::2], np.zeros((6, 4, 5))[::2]
    exe(cube[:, ::-1], called)
    exe.bind(cube[:, ::-1], bound)()
    assert np.array_equal(bound, called) and np.array_equal(bound.base[1::2], 0 * called)
    assert bound[2, 3, 4] == cube[2, 0, 4] * 234


def constant():
    return 42


def test_a_function_of_no_arguments_binds_to_nothing():
    exe = fl.jit(constant).compile("")
    bound = exe.bind()
    assert bound() == 42 and bound.args == ()


def nothing_back(a):
    a[0] += 1.0


def pair_back(a, k):
    return a[0] * k, k > 2, a.shape[0]


def test_none_and_tuple_results_come_back_as_from_the_call():
    a = np.zeros(3)
    assert fl.jit(nothing_back).compile("float64[:]").bind(a)() is None
    assert a[0] == 1.0
    exe = fl.jit(pair_back).compile("float64[:], int32")
    assert exe.bind(a, 3)() == exe(a, 3) == (3.0, True, 3)


# -- the arrays: writes, lifetimes -------------------------------------------------------


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


@pytest.fixture(scope="module")
def axpy_exe():
    return fl.jit(axpy).compile("float64, float64[::1], float64[::1]")


def test_writes_through_a_bound_call_are_seen_in_the_callers_arrays(axpy_exe):
    x, y = np.arange(4.0), np.zeros(4)
    step = axpy_exe.bind(0.5, x, y)
    for _ in range(3):
        step()
    assert y.tolist() == [0.0, 1.5, 3.0, 4.5]
    x[:] = 1.0  # the bound call reads the array's memory, not a copy
    step()
    assert y.tolist() == [0.5, 2.0, 3.5, 5.0]


def test_a_bound_call_keeps_its_arrays_alive_and_lets_them_go(axpy_exe):
    x, y = np.arange(4.0), np.zeros(4)
    refs = [weakref.ref(x), weakref.ref(y)]
    step = axpy_exe.bind(2.0, x, y)
    del x, y
    gc.collect()
    assert all(ref() is not None for ref in refs), "an array died under its bound call"
    step()
    assert refs[1]().tolist() == [0.0, 2.0, 4.0, 6.0]
    del step
    gc.collect()
    assert all(ref() is None for ref in refs), "a dropped bound call kept its arrays"


def fill(buf, value):
    for i in range(buf.shape[0]):
        buf[i] = value


def test_a_bound_array_cannot_be_resized_while_the_bound_call_lives():
    exe = fl.jit(fill).compile("uint8[::1], uint8")
    data = np.zeros(4, np.uint8)
    bound = exe.bind(data, 7)
    bound()
    assert bytes(data) == b"\x07" * 4
    with pytest.raises(ValueError, match="cannot resize"):
        data.resize(8)  # would move the memory the bound call points to
    del bound
    gc.collect()
    data.resize(8)


def test_other_buffer_exporters_are_refused_as_by_a_call():
    exe = fl.jit(fill).compile("uint8[::1], uint8")
    for buffer in (bytearray(4), memoryview(bytearray(4)), __import__("array").array("B", b"ab")):
        with pytest.raises(TypeError, match="must be a uint8\\[::1\\] array, not"):
            exe(buffer, 7)
        with pytest.raises(TypeError, match="must be a uint8\\[::1\\] array, not"):
            exe.bind(buffer, 7)


# -- bad arguments: the errors of a call, at bind time -------------------------------------


def update(u, v, m, dt, k, n, flag):
    for i in range(u.shape[0]):
        u[i] += dt * v[i] + k + m[0, 0]
    return n if flag else n // 2


UPDATE_SIGNATURE = "float64[::1], float64[:], float64[::1, :], float64, int8, uint64, bool"


def update_args() -> list[Any]:
    return [np.zeros(4), np.arange(8.0)[::2], np.asfortranarray(np.ones((2, 3))), 0.5, 3,
            2**64 - 1, True]


def read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


BAD_ARGUMENTS = {
    "u of int64": (0, np.zeros(4, np.int64)),
    "u two-dimensional": (0, np.zeros((2, 2))),
    "u strided for a C parameter": (0, np.zeros(8)[::2]),
    "u read-only but written": (0, read_only(np.zeros(4))),
    "v a list": (1, [1.0, 2.0]),
    "m C-ordered for an F parameter": (2, np.ones((2, 3))),
    "dt a string": (3, "0.5"),
    "k out of range": (4, 300),
    "k a float": (4, 2.5),
    "n negative": (5, -1),
    "n too large": (5, 2**64),
    "flag an int": (6, 1),
}


@pytest.fixture(scope="module")
def update_exe():
    return fl.jit(update).compile(UPDATE_SIGNATURE)


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_bad_arguments_raise_at_bind_what_the_call_raises(update_exe, name):
    position, value = BAD_ARGUMENTS[name]
    args = update_args()
    args[position] = value
    want = outcome(lambda: update_exe(*args))
    assert want[0] == "raised", f"{name}: the call accepted it"
    assert outcome(lambda: update_exe.bind(*args)) == want
    assert outcome(lambda: update_exe.bind(*args, context="bad")) == want


@pytest.mark.parametrize("args, kwargs", [
    (update_args()[:-1], {}), (update_args() + [1], {}), (update_args()[:-1], {"flag": True}),
    ((), {}),
], ids=["one missing", "one extra", "keyword", "none"])
def test_arity_and_keyword_errors_are_those_of_the_call(update_exe, args, kwargs):
    want = outcome(lambda: update_exe(*args, **kwargs))
    assert want[0] == "raised"
    assert outcome(lambda: update_exe.bind(*args, **kwargs)) == want


def test_arguments_the_call_converts_are_converted_at_bind(update_exe):
    converted = update_args()
    converted[3:7] = [np.float32(0.5), np.int64(3), np.uint64(2**64 - 1), np.bool_(True)]
    called, bound = update_args(), converted
    called_result = update_exe(*called)
    assert update_exe.bind(*bound)() == called_result == 2**64 - 1
    assert bound[0].tolist() == called[0].tolist()


class Index:
    """An integer-like object: it has ``__index__`` only."""

    def __index__(self) -> int:
        return 3


#: Arguments the entry reads through the C API (buffer protocol, ``__float__``,
#: ``__index__``) rather than as NumPy arrays and Python numbers, accepted or not.
OTHER_ARGUMENTS = {
    "u big-endian": (0, np.zeros(4).astype(">f8")),
    "u little-endian spelled out": (0, np.zeros(4).astype("<f8")),
    "u a read-only memoryview": (0, memoryview(bytes(32)).cast("d")),
    "u a writable memoryview": (0, memoryview(bytearray(32)).cast("d")),
    "v an array.array": (1, array.array("d", [1.0, 2.0, 3.0, 4.0])),
    "v big-endian": (1, np.arange(8.0).astype(">f8")[::2]),
    "dt a Fraction": (3, fractions.Fraction(1, 4)),
    "dt an int": (3, 2),
    "dt an int too large for a float": (3, 2**2000),
    "k an __index__ object": (4, Index()),
    "k True": (4, True),
    "n True": (5, True),
    "n a NumPy int64": (5, np.int64(7)),
}


@pytest.mark.parametrize("name", list(OTHER_ARGUMENTS))
def test_arguments_outside_numpy_bind_as_they_call(update_exe, name):
    position, value = OTHER_ARGUMENTS[name]
    called, bound = update_args(), update_args()
    called[position] = bound[position] = value
    want = outcome(lambda: update_exe(*called))
    assert outcome(lambda: update_exe.bind(*bound)()) == want, name
    assert bound[0].tolist() == called[0].tolist(), name


def test_a_bound_call_given_arguments_says_they_belong_to_bind(axpy_exe):
    y = np.zeros(2)
    step = axpy_exe.bind(1.0, np.ones(2), y)
    for args, kwargs in (((1.0,), {}), ((), {"a": 1.0}), ((1.0, np.ones(2), y), {})):
        with pytest.raises(TypeError, match=r"axpy\(\): a bound call takes no arguments"):
            step(*args, **kwargs)
    step()
    assert y.tolist() == [1.0, 1.0]


# -- errors the kernel raises --------------------------------------------------------------


class StepError(Exception):
    """Raised by a kernel below."""


def checked_step(a, i):
    if a[i] < 0.0:
        raise StepError("negative step")
    return 10 // int(a[i])


@pytest.mark.parametrize("boundscheck", [True, False])
def test_kernel_exceptions_propagate_and_the_bound_call_still_works(boundscheck):
    exe = fl.jit(boundscheck=boundscheck)(checked_step).compile("float64[::1], int64")
    a = np.array([0.0, -1.0, 5.0])
    for i, raised in ((0, ZeroDivisionError), (1, StepError)):
        bound = exe.bind(a, i)
        for _ in range(2):
            with pytest.raises(raised) as info:
                bound()
            assert outcome(bound) == outcome(lambda i=i: exe(a, i)), str(info.value)
    assert exe.bind(a, 2)() == 2
    a[0] = 2.0
    assert exe.bind(a, 0)() == 5
    if boundscheck:
        past_the_end = exe.bind(a, 3)
        with pytest.raises(IndexError):
            past_the_end()
        assert outcome(past_the_end) == outcome(lambda: exe(a, 3))


def test_a_call_that_frees_its_callable_still_raises_its_own_error():
    # The temporary is freed while its exception propagates; that must not lose the error.
    exe = fl.jit(checked_step).compile("float64[::1], int64")
    with pytest.raises(ZeroDivisionError):
        exe.bind(np.zeros(1), 0)()
    with pytest.raises(ZeroDivisionError):
        pickle.loads(pickle.dumps(exe))(np.zeros(1), 0)
    with pytest.raises(TypeError, match="argument 'i'"):
        pickle.loads(pickle.dumps(exe))(np.zeros(1), 0.5)
    with pytest.raises(TypeError, match="a bound call takes no arguments"):
        exe.bind(np.zeros(1), 0)(1)


# -- the BoundCall object ------------------------------------------------------------------


def test_a_bound_call_shows_what_it_binds_and_is_immutable(axpy_exe):
    x, y = np.ones(3), np.zeros(3)
    bound = axpy_exe.bind(2.0, x, y)
    assert isinstance(bound, BoundCall)
    assert bound.executable is axpy_exe and bound.args[1] is x and bound.args[2] is y
    text = repr(bound)
    assert text.startswith("<frostline.BoundCall axpy(a=2.0, x=<float64[::1] ndarray")
    assert "of shape (3,)" in text
    with pytest.raises(AttributeError):
        bound.args = ()  # type: ignore[misc]


@pytest.mark.parametrize("pickler", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_a_bound_call_does_not_pickle(axpy_exe, pickler):
    bound = axpy_exe.bind(1.0, np.ones(2), np.zeros(2))
    with pytest.raises(TypeError, match="BoundCall cannot be pickled.*bind again"):
        pickler.dumps(bound)


def test_the_packed_layout_is_one_word_a_scalar_and_two_plus_two_per_dimension():
    # An array: its data pointer, shape, strides and owner (none for an argument).
    arg_types = parse_signature("int8, float64[:, :], bool, float32[::1], uint64").args
    assert packed_offsets(arg_types) == ((0, 1, 7, 8, 12), 13)
    assert struct.calcsize("".join(packed_field(ty) for ty in arg_types)) == 13 * 8


def test_python_reads_buffers_where_the_ir_reads_them():
    import llvmlite.binding as llvm

    from frostline.backends.llvm import target
    from frostline.backends.llvm.wrapper import PY_BUFFER

    layout = llvm.create_target_data(target.data_layout(target.host_target()))
    assert PY_BUFFER.get_abi_size(layout) == ctypes.sizeof(PyBuffer)
    offsets = [getattr(PyBuffer, name).offset for name, _ in PyBuffer._fields_]
    assert [PY_BUFFER.get_element_offset(layout, k) for k in range(len(offsets))] == offsets


def test_the_bound_function_finds_the_packed_bytes_where_cpython_keeps_them():
    from frostline.backends.llvm import wrapper

    assert ().__sizeof__() == wrapper._TUPLE_ITEMS, "tuple items moved"
    assert bytes.__basicsize__ - 1 == wrapper._BYTES_DATA, "bytes data moved"


# -- contexts ------------------------------------------------------------------------------


def test_the_same_context_and_arguments_give_the_same_bound_call(axpy_exe):
    x, y = np.ones(3), np.zeros(3)
    first = axpy_exe.bind(2.0, x, y, context="step")
    assert axpy_exe.bind(2.0, x, y, context="step") is first
    assert axpy_exe.bind(2.0, x, y) is not first  # no context: always a new one
    assert axpy_exe.bind(2.0, x, y, context="other") is not first
    assert axpy_exe.bind(2.0, x, y, context="step") is first


@pytest.mark.parametrize("change", [
    "another scalar value", "a scalar of another type", "-0.0 for 0.0",
    "an equal array that is another object",
])
def test_other_arguments_in_a_context_make_a_new_bound_call_that_replaces_it(axpy_exe, change):
    x, y = np.ones(3), np.zeros(3)
    a = -0.0 if change == "-0.0 for 0.0" else 2.0
    first = axpy_exe.bind(a, x, y, context="step")
    other = {"another scalar value": (3.0, x, y), "a scalar of another type": (2, x, y),
             "-0.0 for 0.0": (0.0, x, y), "an equal array that is another object": (a, x.copy(), y)
             }[change]
    second = axpy_exe.bind(*other, context="step")
    assert second is not first and second.args == other
    assert axpy_exe.bind(*other, context="step") is second
    assert axpy_exe.bind(a, x, y, context="step") is not first  # replaced, not kept beside


def test_a_nan_in_a_context_matches_only_itself(axpy_exe):
    x, y, nan = np.ones(2), np.zeros(2), float("nan")
    first = axpy_exe.bind(nan, x, y, context="nan")
    assert axpy_exe.bind(nan, x, y, context="nan") is first
    assert axpy_exe.bind(float("nan"), x, y, context="nan") is not first


def test_bad_arguments_in_a_context_leave_the_held_bound_call(axpy_exe):
    x, y = np.ones(2), np.zeros(2)
    first = axpy_exe.bind(1.0, x, y, context="keep")
    with pytest.raises(TypeError, match="argument 'y'"):
        axpy_exe.bind(1.0, x, y.astype(np.float32), context="keep")
    with pytest.raises(TypeError, match="keyword"):
        axpy_exe.bind(1.0, x, y=y, context="keep")
    assert axpy_exe.bind(1.0, x, y, context="keep") is first


def test_unbind_drops_a_context_and_the_arrays_it_held(axpy_exe):
    x = np.ones(2)
    ref = weakref.ref(x)
    first = axpy_exe.bind(1.0, x, np.zeros(2), context="drop")
    del first, x
    gc.collect()
    assert ref() is not None, "a context let its arrays go"
    axpy_exe.unbind("drop")
    axpy_exe.unbind("never bound")
    gc.collect()
    assert ref() is None, "unbind kept the arrays"


# -- how the executable was made or loaded -------------------------------------------------


def half(x):
    return x * 0.5


@fl.jit
def jit_half(x):
    return x * 0.5


@fl.jit
def sum_of_halves(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += half(a[i]) + jit_half(b[i])
    return s


def test_a_jit_function_with_callees_compiles_and_binds():
    a, b = np.arange(4.0), np.ones(4)
    exe = sum_of_halves.compile("float64[::1], float64[:]")
    assert exe.bind(a, b)() == sum_of_halves(a, b) == 5.0


def mul_add(x, y, out):
    out[0] = x * y + 1.0
    return out[0]


@pytest.fixture(scope="module")
def mul_add_code():
    return fl.jit(mul_add, cache=False).compile("float64, float64, float64[::1]").object_code


def test_code_linked_by_orc_binds(mul_add_code):
    exe = loader.load(attrs.evolve(mul_add_code, shared_library=b""))  # no library: ORC
    assert type(exe.resources).__name__ != "CDLL"
    out = np.zeros(1)
    assert exe.bind(2.0, 3.0, out)() == 7.0 and out[0] == 7.0


@needs_linker
def test_code_opened_as_a_shared_library_binds(mul_add_code, monkeypatch):
    monkeypatch.setattr(loader, "_load_with_orc", lambda code: pytest.fail("ORC was used"))
    exe = loader.load(sharedlib.with_library(mul_add_code))
    out = np.zeros(1)
    assert exe.bind(2.0, 3.0, out)() == 7.0 and out[0] == 7.0


CHILD = """
import json
import pickle
import sys

import numpy as np

import frostline as fl

if sys.argv[1] == "pickle":
    with open(sys.argv[2], "rb") as f:
        exe = pickle.load(f)
else:
    sys.path.insert(0, sys.argv[2])
    from kern import mul_add
    exe = mul_add.compile("float64, float64, float64[::1]")
out = np.zeros(1)
bound = exe.bind(2.0, 3.0, out)
print(json.dumps({"results": [bound(), bound()], "out": out.tolist(),
                  "same": exe.bind(2.0, 3.0, out, context=0) is exe.bind(2.0, 3.0, out, context=0),
                  "linked_by": type(exe.resources).__name__, "compiled": fl.stats()["compiled"]}))
"""


def run_child(tmp_path, *argv: str) -> dict[str, Any]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {**os.environ, "FROSTLINE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_an_executable_unpickled_in_a_fresh_process_binds(tmp_path):
    exe = fl.jit(mul_add).compile("float64, float64, float64[::1]")
    (tmp_path / "exe.pickle").write_bytes(pickle.dumps(exe))
    child = run_child(tmp_path, "pickle", str(tmp_path / "exe.pickle"))
    assert child["results"] == [7.0, 7.0] and child["out"] == [7.0] and child["same"]
    assert child["compiled"] == 0
    if sharedlib._linker() is not None:
        assert child["linked_by"] == "CDLL", "the pickled code was linked with ORC, not opened"


def test_an_executable_from_the_disk_cache_binds(tmp_path):
    source = "import frostline as fl\n\n\n@fl.jit\n" + textwrap.dedent("""\
        def mul_add(x, y, out):
            out[0] = x * y + 1.0
            return out[0]
        """)
    (tmp_path / "kern.py").write_text(source)
    cold = run_child(tmp_path, "module", str(tmp_path))
    warm = run_child(tmp_path, "module", str(tmp_path))
    assert cold["compiled"] == 1 and warm["compiled"] == 0
    for child in (cold, warm):
        assert child["results"] == [7.0, 7.0] and child["out"] == [7.0] and child["same"]
    if sharedlib._linker() is not None:
        assert warm["linked_by"] == "CDLL", "the cached code was linked with ORC, not opened"


# -- threads and a differential property ---------------------------------------------------


def scaled_sum(a, k, out):
    s = 0.0
    for _ in range(50):
        for i in range(a.shape[0]):
            s += a[i] * k
    out[0] = s
    return s


def test_bound_calls_run_side_by_side_in_threads():
    exe = fl.jit(scaled_sum).compile("float64[::1], float64, float64[::1]")
    outs = [np.zeros(1) for _ in range(8)]
    bound = [exe.bind(np.arange(1000.0), float(k), out) for k, out in enumerate(outs)]
    threads = [threading.Thread(target=lambda b=b: [b() for _ in range(20)]) for b in bound]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [out[0] for out in outs] == [exe(np.arange(1000.0), float(k), np.zeros(1))
                                        for k in range(8)]


def blend(a, out, w, k, flag):
    s = 0.0
    for i in range(a.shape[0]):
        v = a[i] * w + k
        if flag:
            v = -v
        out[i] = v
        s += v
    return s, k * 2


@pytest.fixture(scope="module")
def blend_exe():
    return fl.jit(blend).compile("float64[:], float64[::1], float64, int32, bool")


floats = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(floats, max_size=12), strided=st.booleans(), w=floats,
       k=st.integers(-(2**20), 2**20), flag=st.booleans())
def test_bound_calls_agree_with_calls_and_with_python(blend_exe, values, strided, w, k, flag):
    def arguments() -> tuple[Any, ...]:
        a = np.array(values, dtype=np.float64)
        if strided:
            a = np.repeat(a, 2)[::2]
        return a, np.zeros(len(values)), w, k, flag

    py_args, called, bound = arguments(), arguments(), arguments()
    with np.errstate(all="ignore"):
        s, k2 = blend(*py_args)
    expected = repr((float(s), k2))
    assert outcome(lambda: blend_exe(*called)) == ("returned", expected)
    assert outcome(blend_exe.bind(*bound)) == ("returned", expected)
    assert bound[1].tobytes() == called[1].tobytes() == py_args[1].tobytes()
