"""Parallel kernels: each runs as Python (where prange is range: the reference) and
compiled (where its iterations run on the pool), on the same inputs."""

import numpy as np

import frostline as fl
from frostline import prange


def axpy(a, x, y):
    for i in prange(x.shape[0]):
        y[i] += a * x[i]
    return y


def total(x):
    s = x[0] * 0
    for i in fl.prange(x.shape[0]):
        s += x[i]
    return s


def difference(x):
    s = x[0] * 0
    for i in prange(x.shape[0]):
        s -= x[i]
    return s


def product(x):
    s = x[0] * 0 + 1
    for i in prange(x.shape[0]):
        s *= x[i]
    return s


def bits_or(x):
    s = x[0] & 0
    for i in prange(x.shape[0]):
        s |= x[i]
    return s


def bits_and(x):
    s = ~(x[0] & 0)
    for i in prange(x.shape[0]):
        s &= x[i]
    return s


def bits_xor(x):
    s = x[0] & 0
    for i in prange(x.shape[0]):
        s ^= x[i]
    return s


def lowest(x):
    s = x[0]
    for i in prange(x.shape[0]):
        s = min(s, x[i])
    return s


def highest(x):
    s = x[0]
    for i in prange(x.shape[0]):
        s = max(x[i], s)
    return s


def any_negative(x):
    found = False
    for i in prange(x.shape[0]):
        found |= x[i] < 0
    return found


def several(x):
    """Several reductions of one loop, one of them under a condition."""
    lo = x[0]
    hi = x[0]
    total = 0.0
    count = 0
    for i in prange(x.shape[0]):
        v = x[i]
        lo = min(lo, v)
        hi = max(hi, v)
        total += v
        if v > 0:
            count += 1
    return lo, hi, total, count


def row_sums(m, out):
    """A private accumulator per row (assigned, then updated: not a reduction)."""
    for i in prange(m.shape[0]):
        acc = 0.0
        for j in range(m.shape[1]):
            acc += m[i, j]
        out[i] = acc
    return out


def sum_2d(m):
    """A reduction updated in an inner serial loop."""
    s = 0.0
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            s += m[i, j] * (i + 1)
    return s


def nested_prange(m):
    """A prange inside a prange: the inner one runs serially inside its task."""
    s = 0.0
    for i in prange(m.shape[0]):
        for j in prange(m.shape[1]):
            s += m[i, j]
    return s


def cube(a, out):
    for i in prange(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                out[i, j, k] = a[i, j, k] * 2.0 + i - j * k
    return out


def laplacian(u, out):
    n, m = u.shape
    for i in prange(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]
    return out


def stepped(out, start, stop, step):
    """Any range: empty, one iteration, negative and large steps."""
    count = 0
    for i in prange(start, stop, step):
        out[i % out.shape[0]] += i
        count += 1
    return count


def mandelbrot(rows, cols, limit, out):
    for y in prange(rows):
        ci = -1.2 + 2.4 * y / rows
        for x in range(cols):
            cr = -2.0 + 3.0 * x / cols
            zr = 0.0
            zi = 0.0
            k = 0
            while k < limit and zr * zr + zi * zi < 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                k += 1
            out[y, x] = k
    return out


def helper_sum(row):
    s = 0.0
    for j in prange(row.shape[0]):  # inside a task: runs serially
        s += row[j]
    return s


def through_callee(m, out):
    for i in prange(m.shape[0]):
        out[i] = helper_sum(m[i])
    return out


def array_body(m, out):
    """Array expressions and allocations inside the body (tasks share m's block)."""
    for i in prange(m.shape[0]):
        row = m[i] * 2.0
        out[i] = np.sum(row) + np.max(m[i])
    return out


def shared_views(m):
    """A view of a kernel-made array captured by every task."""
    t = m * 1.0
    s = 0.0
    for i in prange(t.shape[0]):
        v = t[i]
        s += v[0] + np.sum(v)
    return s


def with_else(x):
    s = 0
    for i in prange(x.shape[0]):
        s += x[i]
    else:
        s = s * 2
    return s


def maybe_captured(x, flag):
    if flag:
        scale = 2.0
    s = 0.0
    for i in prange(x.shape[0]):
        s += x[i] * scale
    return s


def serial_caller(m, out):
    """A serial loop calling a function whose prange runs on the pool."""
    for i in range(m.shape[0]):
        out[i] = helper_sum(m[i])
    return out
