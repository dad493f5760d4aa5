"""Write tracking: any write through any alias of a parameter marks that parameter written.

The analysis (``frostline/toolchain/writes.py``) decides which array arguments
must be writable; a miss writes into read-only memory (a ``bytes`` object, a
broadcast view, a frozen global). Each kind of alias has a test, and a
hypothesis property builds random chains of aliases ending in a write.
"""

from __future__ import annotations

import itertools
import linecache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frostline as fl


def _greeting() -> bytes:
    return b"hello"


def read_only() -> np.ndarray:
    """A read-only array over a bytes object, as ``np.frombuffer`` makes one."""
    return np.frombuffer(_greeting(), np.uint8)


def write_first(q, v):
    q[0] = v


def write_nested(q, v):
    q[0][0] = v


def write_through(q, v):
    write_first(q, v)


def reads(q):
    return q[0]


_sources = itertools.count()


def kernel(source: str, name: str) -> fl.Dispatcher:
    """``fl.jit`` of a function defined by ``source`` (registered for ``inspect``)."""
    filename = f"<test_writes {next(_sources)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, "write_first": write_first, "write_nested": write_nested,
                 "write_through": write_through, "reads": reads, "TABLE": np.arange(4.0),
                 "__name__": "test_writes_generated"}
    exec(compile(source, filename, "exec"), namespace)
    return fl.jit(namespace[name], cache=False)


ALIASES = {
    "tuple then subscript": "p = (a, 1)\n    b = p[0]\n    b[0] = v",
    "unpacking": "p = (a, 1)\n    x, y = p\n    x[0] = v",
    "nested unpacking": "p = ((1, a), 2)\n    (s, x), y = p\n    x[0] = v",
    "subscript of a tuple": "p = (a, 1)\n    p[0][0] = v",
    "callee writes a tuple item": "write_nested((a, 1), v)",
    "callee through a variable": "p = (a, 1)\n    write_nested(p, v)",
    "callee of a callee": "b = a\n    write_through(b, v)",
    "conditional expression": "b = a if v > 0 else a\n    b[0] = v",
    "loop carried": "b = a\n    for i in range(2):\n        c = b\n        b = c\n    b[0] = v",
    "augmented element": "p = (a,)\n    p[0][0] += v",
    "tuple of tuples": "p = (1, (2, a))\n    q = p[1]\n    q[1][0] = v",
    "swap through tuple": "x, y = (a, a)\n    y, x = x, y\n    y[0] = v",
}


@pytest.mark.parametrize("body", ALIASES.values(), ids=ALIASES.keys())
def test_a_write_through_an_alias_needs_a_writable_array(body: str) -> None:
    f = kernel(f"def poke(a, v):\n    {body}\n", "poke")
    assert f.stages("uint8[:], int64").typed.entry.written_params == ("a",)
    with pytest.raises(TypeError, match="poke\\(\\) argument 'a' must be a writable array"):
        f(read_only(), 74)
    assert _greeting() == b"hello"
    writable = np.zeros(3, np.uint8)
    f(writable, 74)
    assert writable[0] == 74


@pytest.mark.parametrize("body", [
    "p = (TABLE, 1)\n    b = p[0]\n    b[0] = v",
    "x, y = (TABLE, 1)\n    x[0] = v",
    "write_first(TABLE, v)",
    "p = (1, TABLE)\n    write_nested((p[1], 2), v)",
], ids=["tuple", "unpacking", "callee", "callee of a tuple"])
def test_a_write_through_an_alias_of_a_global_array_is_a_compile_error(body: str) -> None:
    f = kernel(f"def poke(v):\n    {body}\n", "poke")
    with pytest.raises(fl.CompileError, match="'TABLE' is a global array frozen into the "
                                               "compiled code and cannot be written"):
        f(1.0)


def test_reading_through_aliases_does_not_need_a_writable_array() -> None:
    f = kernel("def peek(a, b, v):\n    p = (a, b)\n    x, y = p\n    z = reads(y)\n"
               "    w = a if v > 0 else b\n    return x[0] + z + w[1] + reads(p[0])\n", "peek")
    assert f.stages("uint8[:], uint8[:], int64").typed.entry.written_params == ()
    small = np.frombuffer(bytes(range(1, 6)), np.uint8)
    assert f(small, small, 1) == f.py_func(small, small, 1) == 1 + 1 + 2 + 1


def test_only_the_written_alias_is_marked() -> None:
    f = kernel("def poke(a, b, c, v):\n    p = (a, b)\n    x, y = p\n    x[0] = v\n"
               "    return c[0]\n", "poke")
    # Tuple items are not told apart: b shares the tuple with a written item.
    assert f.stages("float64[:], float64[:], float64[:], float64").typed.entry.written_params \
        == ("a", "b")


def test_a_run_batch_that_is_read_only_is_refused() -> None:
    f = kernel("def poke(a, v):\n    p = (a, 1)\n    b = p[0]\n    b[0] = v\n", "poke")
    batch = np.broadcast_to(np.zeros(3), (4, 3))
    with pytest.raises(TypeError, match="writable"):
        f.run(batch, 1.0)
    assert not batch.any()


# --- the property ------------------------------------------------------------------------

PARAMS = ("a", "b", "c")


@st.composite
def alias_programs(draw: st.DrawFn) -> tuple[str, str]:
    """A kernel body: a random chain of aliases over the parameters, then one write
    through one of them; returns the source and the parameter the written name views."""
    lines: list[str] = []
    views: dict[str, str] = {p: p for p in PARAMS}  # name -> the parameter it views
    tuples: dict[str, tuple[str, ...]] = {}  # tuple name -> what its items view
    for k in range(draw(st.integers(1, 8))):
        name = f"n{k}"
        kind = draw(st.sampled_from(["copy", "tuple", "unpack", "index", "ifexp", "loop"]))
        source = draw(st.sampled_from(sorted(views)))
        if kind == "copy":
            lines.append(f"{name} = {source}")
            views[name] = views[source]
        elif kind == "tuple":
            other = draw(st.sampled_from(sorted(views)))
            lines.append(f"{name} = ({source}, 1.0, {other})")
            tuples[name] = (views[source], "", views[other])
        elif kind == "unpack" and tuples:
            tup = draw(st.sampled_from(sorted(tuples)))
            lines.append(f"{name}, _s{k}, {name}b = {tup}")
            views[name], views[f"{name}b"] = tuples[tup][0], tuples[tup][2]
        elif kind == "index" and tuples:
            tup = draw(st.sampled_from(sorted(tuples)))
            item = draw(st.sampled_from([0, 2, -1]))
            lines.append(f"{name} = {tup}[{item}]")
            views[name] = tuples[tup][item]
        elif kind == "ifexp":
            # Both branches view the same parameter, so the chain stays exact.
            lines.append(f"{name} = {source} if v > 0 else {source}")
            views[name] = views[source]
        else:
            lines.append(f"{name} = {source}")
            lines.append("for i in range(2):")
            lines.append(f"    {name} = {name}")
            views[name] = views[source]
    how = draw(st.sampled_from(["element", "augmented", "callee", "nested callee",
                                "tuple element"]))
    target = draw(st.sampled_from(sorted(views)))
    if how == "element":
        lines.append(f"{target}[0] = v")
    elif how == "augmented":
        lines.append(f"{target}[1] += v")
    elif how == "callee":
        lines.append(f"write_first({target}, v)")
    elif how == "nested callee":
        lines.append(f"write_nested(({target}, 2.0), v)")
    else:
        lines.append(f"w = (1.0, {target})")
        lines.append("w[1][0] = v")
    return "def poke(a, b, c, v):\n" + "".join(f"    {line}\n" for line in lines), \
        views[target]


@settings(max_examples=40, deadline=None)
@given(alias_programs())
def test_any_write_through_any_alias_marks_its_parameter(program: tuple[str, str]) -> None:
    source, written = program
    f = kernel(source, "poke")
    marked = f.stages("float64[:], float64[:], float64[:], float64").typed.entry.written_params
    assert written in marked, f"{written!r} is written but not marked ({marked}):\n{source}"
    args = {p: np.zeros(3) for p in PARAMS}
    args[written] = np.broadcast_to(np.zeros(3), (3,))  # read-only
    with pytest.raises(TypeError, match=f"argument '{written}' must be a writable array"):
        f(*args.values(), 2.0)
    # The compiled writes are Python's.
    expected = {p: np.zeros(3) for p in PARAMS}
    got = {p: np.zeros(3) for p in PARAMS}
    f.py_func(*expected.values(), 2.0)
    f(*got.values(), 2.0)
    for p in PARAMS:
        np.testing.assert_array_equal(got[p], expected[p], err_msg=source)
