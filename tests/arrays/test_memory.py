"""Returned arrays and native memory: no copy at the boundary, shared memory for views of
arguments, every allocation counted and freed (after errors too), flat memory over many
calls, and arrays made and returned from several threads at once."""

import gc
import threading

import numpy as np
import pytest

import frostline as fl

from .helpers import jitted, same


def live() -> int:
    gc.collect()
    return fl.stats()["arrays_live"]


def add(a, b):
    c = a + b
    return c


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def rows_softmax(m):
    out = np.empty_like(m)
    for i in range(m.shape[0]):
        out[i] = softmax(m[i])
    return out


def pair(a):
    return a * 2, a[::-1]


def tail_view(a):
    return a[1:]


def transposed(m):
    return m.T


def view_of_new(n):
    a = np.arange(n) * 1.5
    return a[::2]


def reassign_in_loop(x, n):
    acc = np.zeros_like(x)
    for _ in range(n):
        acc = acc + x
    return acc


def test_returned_arrays_match_numpy():
    a, b = np.random.default_rng(0).random((2, 6))
    same(jitted(add)(a, b), a + b)
    same(jitted(softmax)(a), softmax(a))
    m = np.random.default_rng(1).random((4, 5))
    same(jitted(rows_softmax)(m), rows_softmax(m))
    got = jitted(pair)(a)
    same(got[0], a * 2)
    same(got[1], a[::-1])
    same(jitted(view_of_new)(7), view_of_new(7))
    same(jitted(reassign_in_loop)(a, 5), reassign_in_loop(a, 5))


def test_new_arrays_are_handed_over_without_a_copy():
    before = live()
    c = jitted(add)(np.ones(1000), np.ones(1000))
    assert isinstance(c, np.ndarray) and type(c) is np.ndarray
    assert c.flags.c_contiguous and c.flags.writeable and not c.flags.owndata
    assert live() == before + 1  # the kernel's block is the array's memory
    c[0] = 5.0  # writable, and still alive
    del c
    assert live() == before


def test_a_returned_view_of_an_argument_shares_its_memory():
    a = np.arange(6.0)
    v = jitted(tail_view)(a)
    assert np.shares_memory(v, a) and v.base is a and v.flags.writeable
    v[0] = 100.0
    assert a[1] == 100.0
    m = np.arange(6.0).reshape(2, 3)
    t = jitted(transposed)(m)
    assert np.shares_memory(t, m) and t.flags.f_contiguous
    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    assert not jitted(tail_view)(frozen).flags.writeable


def test_a_view_keeps_its_memory_alive():
    before = live()
    v = jitted(view_of_new)(10)
    assert live() == before + 1
    gc.collect()
    same(v, view_of_new(10))
    del v
    assert live() == before


def fails_half_way(x, k):
    a = np.zeros(3)
    b = a + x
    if k > 0:
        raise ValueError("half way")
    return b


def fails_in_callee(x):
    t = np.ones(4)
    return t + helper_raises(x)


def helper_raises(x):
    tmp = np.zeros(4)
    if x > 0:
        raise KeyError("deep")
    return tmp


def fails_in_loop(x):
    a = np.arange(3) ** x  # ValueError for negative x, inside the loop nest
    return a


def test_errors_half_way_free_everything():
    before = live()
    with pytest.raises(ValueError, match="half way"):
        jitted(fails_half_way)(1.0, 1)
    assert live() == before
    with pytest.raises(KeyError):
        jitted(fails_in_callee)(1.0)
    assert live() == before
    with pytest.raises(ValueError, match="negative integer powers"):
        jitted(fails_in_loop)(-1)
    assert live() == before
    with pytest.raises(ValueError, match="broadcast"):
        jitted(add)(np.zeros(3), np.zeros(4))
    assert live() == before
    same(jitted(fails_half_way)(1.0, 0), np.ones(3))
    assert live() == before


def test_many_calls_keep_memory_flat():
    f = jitted(softmax)
    x = np.random.default_rng(2).random(100)
    f(x)
    before_live = live()
    before_total = fl.stats()["arrays_allocated"]
    for _ in range(20_000):
        f(x)
    assert live() == before_live
    assert fl.stats()["arrays_allocated"] - before_total >= 20_000


def test_threads_allocate_at_once():
    f = jitted(reassign_in_loop)
    x = np.arange(1000.0)
    want = reassign_in_loop(x, 50)
    before = live()
    errors = []

    def work():
        try:
            for _ in range(30):
                same(f(x, 50), want)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert live() == before


def allocations(fn, *args):
    before = fl.stats()["arrays_allocated"]
    result = fn(*args)
    return result, fl.stats()["arrays_allocated"] - before


def fused_store(out, a, b, c):
    out[:] = a * b + c


def fused_sum(a, b):
    return np.sum(a * b)


def across_statements(out, a, b, c):
    t = a * b
    out[:] = t + c
    u = np.sqrt(np.abs(a))
    return np.sum(u * 2.0)


def used_twice(a):
    v = a + 1.0
    return np.sum(v * v)


def used_conditionally(a, flag):
    v = a + 1.0
    return np.sum(v) if flag else 0.0


def used_in_a_loop(a, n):
    v = a * 2.0
    s = 0.0
    for _ in range(n):
        s += np.sum(v)
    return s


def test_fused_expressions_allocate_nothing():
    a, b, c = np.random.default_rng(3).random((3, 100))
    out = np.empty(100)
    jitted(fused_store)(out, a, b, c)  # compiled before counting
    jitted(fused_sum)(a, b)
    jitted(across_statements)(out, a, b, c)
    assert allocations(jitted(fused_store), out, a, b, c)[1] == 0
    same(out, a * b + c)
    s, count = allocations(jitted(fused_sum), a, b)
    assert count == 0
    same(s, np.sum(a * b))
    s, count = allocations(jitted(across_statements), out, a, b, c)
    assert count == 0  # t and u are computed inside the next statement's loop
    same(out, a * b + c)
    same(s, np.sum(np.sqrt(np.abs(a)) * 2.0))


def test_intermediates_used_more_than_once_are_arrays():
    a = np.arange(5.0)
    for fn, args, want in ((used_twice, (a,), used_twice(a)),
                           (used_conditionally, (a, True), used_conditionally(a, True)),
                           (used_in_a_loop, (a, 3), used_in_a_loop(a, 3))):
        jitted(fn)(*args)
        got, count = allocations(jitted(fn), *args)
        assert count == 1
        same(got, want)


def test_a_fused_expression_raises_where_it_would_have():
    with pytest.raises(ValueError, match="broadcast"):
        jitted(across_statements)(np.empty(3), np.zeros(3), np.zeros(4), np.zeros(3))


def scratch_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        tmp = np.zeros(3)
        tmp[0] = x[i]
        tmp[1:] = x[i] * 2
        tmp += 1.0
        s += np.sum(tmp * tmp) + tmp.max() + len(tmp)
    return s


def escapes_by_return(x):
    t = np.ones((2, 2))
    return t


def escapes_by_view(x):
    t = np.full(4, x)
    w = t[1:]
    return np.sum(w)


def too_big(x):
    t = np.zeros(1000)
    t[0] = x
    return np.sum(t)


def escapes_into_callee(x):
    t = np.zeros(2)
    return first(t)


def first(a):
    return a[0]


def test_small_arrays_that_stay_in_place_live_on_the_stack():
    x = np.arange(5.0)
    f = jitted(scratch_in_loop)
    f(x)
    got, count = allocations(f, x)
    assert count == 0  # five np.zeros(3), none of them on the heap
    same(got, scratch_in_loop(x))
    for fn, arg in ((escapes_by_return, 1.0), (escapes_by_view, 2.0), (too_big, 3.0),
                    (escapes_into_callee, 0.0)):
        jitted(fn)(arg)
        got, count = allocations(jitted(fn), arg)
        assert count == 1, fn.__name__
        same(got, fn(arg))


def _resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.parametrize("calls", [pytest.param(200_000, id="200k"),
                                   pytest.param(1_000_000, id="1M", marks=pytest.mark.slow)])
def test_resident_memory_stays_flat_over_many_allocating_calls(calls):
    if not __import__("os").path.exists("/proc/self/status"):
        pytest.skip("needs /proc")
    f = jitted(softmax)
    x = np.random.default_rng(4).random(64)
    for _ in range(20_000):  # warm up: the allocator's pools reach their size
        f(x)
    before = _resident_kib()
    for _ in range(calls):
        f(x)
    assert _resident_kib() - before < 8 * 1024  # KiB: nothing grows with the calls
