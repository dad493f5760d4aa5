"""The public API: jit, compile, Executable calls, argument errors, stats."""

import math
import pickle

import numpy as np
import pytest

import frostline as fl


def axpy(a, x, y):
    for i in range(x.shape[0]):
        y[i] += a * x[i]


def add3(a, b, c):
    return a + b + c


def annotated(x: fl.float64[::1], n: fl.int64) -> fl.float64:
    return x[n] * 2


def test_jit_as_decorator_call_and_with_options():
    plain = fl.jit(add3)
    assert plain(1.0, 2.0, 3.0) == 6.0
    decorated = fl.jit(boundscheck=True, fastmath=True)(add3)
    assert decorated.options.boundscheck and decorated.options.fastmath
    assert decorated(1, 2, 3) == 6
    assert plain.__name__ == "add3" and plain.py_func is add3


def test_jit_compiles_once_per_argument_types():
    f = fl.jit(add3, cache=False)
    before = fl.stats()["compiled"]
    f(1.0, 2.0, 3.0)
    f(4.0, 5.0, 6.0)
    assert fl.stats()["compiled"] == before + 1
    f(1, 2, 3)
    assert fl.stats()["compiled"] == before + 2
    assert len(f.signatures) == 2


def test_compile_ahead_of_time_from_string_and_type_objects():
    x, y = np.arange(5.0), np.ones(5)
    exe = fl.jit(axpy).compile("float64, float64[:], float64[:]")
    assert isinstance(exe, fl.Executable)
    exe(2.0, x, y)
    np.testing.assert_array_equal(y, 1 + 2 * np.arange(5.0))
    exe2 = fl.jit(axpy).compile(fl.float64, fl.float64[:], fl.float64[:])
    y2 = np.ones(5)
    exe2(2.0, x, y2)
    np.testing.assert_array_equal(y, y2)


def test_compile_from_annotations_and_typeof():
    f = fl.jit(annotated)
    exe = f.compile()
    assert exe(np.arange(3.0), 2) == 4.0
    exe2 = fl.jit(add3).compile(*map(fl.typeof, (1.0, 2, np.float32(3))))
    assert exe2(1.0, 2, 3.0) == 6.0


def test_compile_without_annotations_asks_for_a_signature():
    with pytest.raises(TypeError, match="'a' has no annotation"):
        fl.jit(add3).compile()


def test_signature_with_return_type_converts_the_result():
    exe = fl.jit(add3).compile("float64(int64, int64, int64)")
    result = exe(1, 2, 3)
    assert result == 6.0 and isinstance(result, float)


def test_executable_call_checks_arguments_and_names_the_parameter():
    exe = fl.jit(axpy).compile("float64, float64[::1], float64[::1]")
    x = np.arange(4.0)
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'y'"):
        exe(1.0, x)
    with pytest.raises(TypeError, match=r"takes 3 positional arguments but 4 were given"):
        exe(1.0, x, x, x)
    with pytest.raises(TypeError, match=r"argument 'a' must be float64, not str"):
        exe("1", x, x.copy())
    with pytest.raises(TypeError, match=r"argument 'x' must be a float64\[::1\] array, not list"):
        exe(1.0, [1.0, 2.0], x.copy())
    with pytest.raises(TypeError, match=r"argument 'y' must be a float64\[::1\] array, got int64"):
        exe(1.0, x, np.arange(4))
    with pytest.raises(TypeError, match=r"argument 'x' must be a 1-dimensional array"):
        exe(1.0, np.zeros((2, 2)), x.copy())
    with pytest.raises(TypeError, match=r"argument 'x' must be C-contiguous"):
        exe(1.0, np.arange(8.0)[::2], x.copy())
    readonly = x.copy()
    readonly.flags.writeable = False
    with pytest.raises(TypeError, match=r"argument 'y' must be a writable array"):
        exe(1.0, x, readonly)
    exe(1.0, readonly, x.copy())  # x is only read: a read-only array is fine
    with pytest.raises(TypeError, match="keyword"):
        exe(1.0, x, y=x.copy())


def test_integer_parameters_reject_floats_and_out_of_range_values():
    exe = fl.jit(add3).compile("int8, int64, uint64")
    assert exe(1, 2, 3) == 6
    with pytest.raises(TypeError, match="argument 'b' must be int64, not float"):
        exe(1, 2.0, 3)
    with pytest.raises(OverflowError, match="argument 'a' = 300 is out of range for int8"):
        exe(300, 2, 3)
    with pytest.raises(OverflowError, match="argument 'c' = -1 is out of range for uint64"):
        exe(1, 2, -1)


def test_numpy_scalars_and_bools_are_accepted():
    def pick(flag, a, b):
        return a if flag else b

    exe = fl.jit(pick).compile("bool, float64, float64")
    assert exe(True, 1.0, 2.0) == 1.0
    assert exe(np.bool_(False), np.float64(1.0), np.float32(2.0)) == 2.0
    with pytest.raises(TypeError, match="argument 'flag' must be bool, not int"):
        exe(1, 1.0, 2.0)


def test_a_python_bool_passes_beside_an_argument_that_needs_converting():
    def both(flag, n):
        return flag, n

    exe = fl.jit(both).compile("bool, uint64")
    assert exe(True, np.uint64(2**64 - 1)) == (True, 2**64 - 1)  # the NumPy integer converted
    assert exe(np.bool_(False), np.uint64(5)) == (False, 5)


def test_dispatcher_keywords_and_defaults():
    def scaled(x, k=2.0):
        return x * k

    f = fl.jit(scaled)
    assert f(3.0) == 6.0
    assert f(3.0, k=3.0) == 9.0
    assert f(k=1.0, x=5.0) == 5.0
    with pytest.raises(TypeError):
        f()


def test_dispatcher_rejects_unsupported_argument_values():
    with pytest.raises(TypeError, match="argument 'a'"):
        fl.jit(add3)("x", 1.0, 2.0)
    with pytest.raises(TypeError, match="argument 'b'"):
        fl.jit(add3)(1.0, (1, 2), 2.0)


def test_stats_counts_code_generation_and_memory_hits():
    before = fl.stats()
    fl.jit(add3).compile("float32, float32, float32")
    fl.jit(add3).compile("float32, float32, float32")  # a new dispatcher, same content
    after = fl.stats()
    assert after["compiled"] - before["compiled"] <= 1
    assert after["memory_hits"] > before["memory_hits"]


def test_results_are_python_objects():
    def many(x):
        return x, x > 0, int(x), np.float32(x)

    result = fl.jit(many)(2.5)
    assert result == (2.5, True, 2, 2.5)
    assert [type(v) for v in result] == [float, bool, int, float]


def test_executables_are_immutable_and_pickle():
    exe = fl.jit(add3).compile("float64, float64, float64")
    with pytest.raises(AttributeError):
        exe.native = None
    clone = pickle.loads(pickle.dumps(exe))
    assert clone(1.0, 2.0, 3.0) == 6.0
    assert clone.fingerprint == exe.fingerprint


def test_executable_runs_from_other_threads():
    import threading

    def work(x, n):
        s = 0.0
        for _ in range(n):
            for i in range(x.shape[0]):
                s += math.sqrt(x[i])
        return s

    exe = fl.jit(work).compile("float64[::1], int64")
    x = np.arange(1000.0)
    expected = exe(x, 10)
    results = []
    threads = [threading.Thread(target=lambda: results.append(exe(x, 10))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [expected] * 4


def test_dispatch_tells_array_subclasses_and_dtypes_apart(tmp_path):
    def first(x):
        return x[0]

    f = fl.jit(first)
    floats = np.memmap(tmp_path / "f.bin", dtype=np.float64, mode="w+", shape=(3,))
    ints = np.memmap(tmp_path / "i.bin", dtype=np.int32, mode="w+", shape=(3,))
    floats[0], ints[0] = 1.5, 7
    assert f(floats) == 1.5
    assert f(ints) == 7 and isinstance(f(ints), int)
    assert f(np.arange(6.0).reshape(2, 3)[:, 0]) == 0.0  # strided view: its own specialisation


def poly(x, k):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] ** k
    return s


def test_threads_compiling_and_calling_at_once_agree():
    import threading

    shared = fl.jit(poly)
    barrier = threading.Barrier(4)
    results: list[object] = []
    x = np.arange(5.0)

    def work(k):
        barrier.wait()
        own = fl.jit(poly, cache=False)
        results.append((shared(x, k), own(x, k), shared(x, float(k))))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(r[0] for r in results) == [poly(x, k) for k in range(4)]
    assert all(a == b == c for a, b, c in results)
    assert len(shared.signatures) == 2


def kind_of(x, a):
    return x + a[0]


def test_dispatch_fast_path_never_takes_the_wrong_executable():
    # The guard in front of the last executable must hand every other type combination
    # to the Python path; alternate types so each call follows a different one.
    f = fl.jit(kind_of)
    c = np.arange(4.0)
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))[0]  # strided 1-D view
    ints = np.arange(4)
    calls = [
        (1.0, c), (1, c), (True, c), (1.0, ints), (np.float32(1.5), c), (1, ints),
        (1.0, c[::2]), (2.5, fortran), (np.int64(3), c), (1.0, np.memmap), (1.0, c),
    ]
    for x, a in calls * 2:
        if a is np.memmap:
            continue
        expected = kind_of(x, a)
        got = f(x, a)
        assert got == expected and type(got) is type(expected.item() if hasattr(
            expected, "item") else expected), (x, a, got, expected)
    assert f(x=1.0, a=c) == 1.0
    with pytest.raises(TypeError):
        f(1.0)
    with pytest.raises(TypeError):
        f(1.0, c, c)


def test_dispatcher_is_still_a_jit_function():
    f = fl.jit(kind_of)
    assert isinstance(f, fl.Dispatcher)
    assert f.__name__ == "kind_of" and f.__wrapped__ is kind_of
    assert "kind_of" in repr(f)
    import gc
    import weakref

    ref = weakref.ref(f)
    f(1.0, np.arange(3.0))
    del f
    gc.collect()
    assert ref() is None  # no reference cycle keeps a dispatcher and its code alive


def test_executables_and_their_code_are_freed():
    import gc
    import weakref

    refs = []
    for k in range(20):
        f = fl.jit(add3, cache=False)
        exe = f.compile("float64, float64, float64")
        assert exe(1.0, 2.0, float(k)) == 3.0 + k
        assert f(1.0, 2.0, float(k)) == 3.0 + k
        refs += [weakref.ref(exe), weakref.ref(f)]
        del f, exe
    gc.collect()
    assert all(r() is None for r in refs)
