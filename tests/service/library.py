"""A helper library and two kernels that use it (the needinclude tests)."""

import frostline as fl


@fl.jit
def square(x):
    return x * x


@fl.jit
def cube(x):
    return square(x) * x


@fl.jit
def poly(x):
    return 1.0 + cube(x) - 2.0 * square(x)


@fl.jit
def clamp(x, lo, hi):
    return min(max(x, lo), hi)


def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += clamp(poly(a[i]), -10.0, 10.0)
    return s


def peak(a):
    m = -1e300
    for i in range(a.shape[0]):
        m = max(m, poly(a[i]))
    return m
