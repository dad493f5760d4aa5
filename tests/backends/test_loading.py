"""Loading object code: once per process, shared by fingerprint, unloaded with its last user.

Everything that calls code after its other holders are gone, or loads and drops
it many times, runs in a child process with a timeout: a use after unloading
is a segfault, not a failed assertion.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
import textwrap
import weakref
from typing import Any

import attrs
import numpy as np
import pytest

import frostline as fl
from frostline.backends.llvm import loader, sharedlib

needs_linker = pytest.mark.skipif(sharedlib._linker() is None, reason="no system linker (ld)")
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="no /proc")
#: How code is loaded: its shared library opened with dlopen, or its object linked by ORC.
PATHS = [pytest.param("library", marks=needs_linker), "orc"]


def mul_add(x, y):
    return x * y + 1.0


def total(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


def spin(n):
    s = 0.0
    for _ in range(n):
        s += 1.0
    return s


SIGNATURES = {"mul_add": (mul_add, "float64, float64"), "total": (total, "float64[::1]"),
              "spin": (spin, "int64")}


@pytest.fixture(scope="module")
def codes() -> dict[str, Any]:
    """Each kernel's object code, carrying its shared library where there is a linker."""
    return {name: sharedlib.with_library(fl.jit(fn, cache=False).compile(sig).object_code)
            for name, (fn, sig) in SIGNATURES.items()}


def loaded(codes: dict[str, Any], name: str, path: str) -> fl.Executable:
    """The kernel ``name`` loaded through ``path``."""
    code = codes[name]
    exe = loader.load(code if path == "library" else attrs.evolve(code, shared_library=b""))
    kind = sharedlib.CDLL if path == "library" else loader.OrcLibrary
    assert type(exe.resources) is kind, "code loaded the other way is still alive"
    return exe


def mapped_libraries() -> int:
    """Lines of /proc/self/maps that map a library opened from memory (``sharedlib``)."""
    with open("/proc/self/maps") as f:
        return sum("memfd:frostline-code" in line for line in f)


@pytest.mark.parametrize("path", PATHS)
def test_code_loaded_again_while_loaded_shares_the_library(codes, path):
    first = loaded(codes, "mul_add", path)
    maps = mapped_libraries() if os.path.exists("/proc/self/maps") else 0
    again = [pickle.loads(pickle.dumps(first)), loaded(codes, "mul_add", path),
             loader.load(attrs.evolve(codes["mul_add"], shared_library=b""))]
    for exe in again:
        assert exe.resources is first.resources, "the same code was loaded a second time"
        assert exe(2.0, 3.0) == 7.0
    if maps:
        assert mapped_libraries() == maps
    other = loaded(codes, "total", path)
    assert other.resources is not first.resources
    assert other(np.arange(4.0)) == 6.0


@pytest.mark.parametrize("path", PATHS)
def test_code_is_unloaded_as_soon_as_its_last_user_goes(codes, path):
    exe = loaded(codes, "total", path)
    bound = exe.bind(np.arange(5.0))
    library = weakref.ref(exe.resources)
    mapped = mapped_libraries() if path == "library" else 0
    tracker = exe.resources.tracker if path == "orc" else None
    assert bound() == 10.0
    del exe, bound  # no reference cycle: no garbage collection needed
    assert library() is None, "the library outlived every Executable and BoundCall"
    if path == "library":
        assert mapped_libraries() < mapped, "the library is still mapped"
    else:
        assert tracker.closed, "ORC's ResourceTracker was not released"


@pytest.mark.parametrize("path", PATHS)
def test_a_library_still_held_by_a_builtin_is_used_again(codes, path):
    native = loaded(codes, "mul_add", path).native
    gc.collect()
    exe = loaded(codes, "mul_add", path)
    assert exe.resources is native.__self__[2][3]
    assert native(2.0, 3.0) == exe(2.0, 3.0) == 7.0


PRELUDE = """
import faulthandler, gc, json, os, pickle, sys, threading, time, weakref
faulthandler.enable()
import attrs
import numpy as np
import frostline as fl
from frostline.backends.llvm import loader, sharedlib

with open(sys.argv[1], "rb") as f:
    CODES = pickle.load(f)
PATH = sys.argv[2]
if PATH == "orc":  # every load goes to ORC, unpickled dispatchers' too
    def _refuse(data):
        raise OSError("this child links with ORC")
    sharedlib.open_library = _refuse

def load(name):
    return loader.load(CODES[name])

def maps():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)

def mapped_libraries():
    with open("/proc/self/maps") as f:
        return sum("memfd:frostline-code" in line for line in f)

def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

def report(**values):
    print(json.dumps(values), flush=True)
"""


@pytest.fixture(scope="module")
def codes_file(codes, tmp_path_factory) -> str:
    """The codes, and a dispatcher of ``total`` compiled for float64[::1], in a file."""
    f = fl.jit(total, cache=False)
    f.compile("float64[::1]")
    path = tmp_path_factory.mktemp("codes") / "codes.pickle"
    path.write_bytes(pickle.dumps({**codes, "dispatcher": pickle.dumps(f)}))
    return str(path)


def run_child(codes_file: str, body: str, path: str, *argv: str, timeout: float = 60) -> Any:
    """Run ``body`` after PRELUDE in a fresh interpreter, loading through ``path``; what
    its last line reports."""
    script = os.path.join(os.path.dirname(codes_file), "child.py")
    with open(script, "w") as f:
        f.write(PRELUDE + textwrap.dedent(body))
    done = subprocess.run([sys.executable, script, codes_file, path, *argv],
                          capture_output=True, text=True, timeout=timeout)
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"status {done.returncode}"
    assert done.returncode == 0, f"the child process died ({how}):\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.splitlines()[-1])


HOLDERS = """
results = {}

def check(what, make, call, expected):
    holder, library = make()
    library = weakref.ref(library)
    gc.collect()
    held = library() is not None
    value = call(holder)
    del holder
    gc.collect()
    results[what] = [held, value == expected, library() is None]

def executable():
    exe = load("total")
    return exe, exe.resources

def native():
    exe = load("total")
    return exe.native, exe.resources

def bound():
    exe = load("total")
    return exe.bind(np.arange(5.0)), exe.resources

def context():  # the executable holds its bound call, which holds it: a cycle
    exe = load("total")
    exe.bind(np.arange(5.0), context="k")
    return exe, exe.resources

def dispatcher():
    f = pickle.loads(CODES["dispatcher"])
    f(np.arange(5.0))
    return f, f._by_signature[next(iter(f._by_signature))].resources

def guard():  # nothing but the dispatcher's guard (its owner tuple) refers to the code
    f, library = dispatcher()
    f._by_signature.clear()
    f._by_key.clear()
    return f, library

before = mapped_libraries()
a = np.arange(5.0)
check("executable", executable, lambda h: h(a), 10.0)
check("native builtin", native, lambda h: h(a), 10.0)
check("bound call", bound, lambda h: h(), 10.0)
check("bound call in a context", context, lambda h: h.bind(a, context="k")(), 10.0)
check("dispatcher", dispatcher, lambda h: h(a), 10.0)
check("dispatcher guard", guard, lambda h: h(a), 10.0)
report(results=results, mapped=[before, mapped_libraries()])
"""


@needs_proc
@pytest.mark.parametrize("path", PATHS)
def test_code_stays_loaded_while_anything_can_call_it(codes_file, path):
    out = run_child(codes_file, HOLDERS, path)
    for what, (held, right, freed) in out["results"].items():
        assert held, f"the library was unloaded while a {what} held it"
        assert right, f"a {what} called after everything else was dropped gave a wrong result"
        assert freed, f"the library was not unloaded after the {what} went"
    assert out["mapped"][1] == out["mapped"][0], "libraries are still mapped at the end"


RUNNING = """
SPINS = 400_000_000
library = None

def start():
    global library
    exe = load("spin")
    library = weakref.ref(exe.resources)
    box.append(exe)

box = []
start()
results = []
thread = threading.Thread(target=lambda: results.append(box.pop()(SPINS)))
thread.start()
while box:  # popped: the call has begun, and holds the only reference
    time.sleep(0.0005)
time.sleep(0.01)
gc.collect()
during = [thread.is_alive(), library() is not None]
thread.join()
gc.collect()
report(during=during, result=results[0], expected=float(SPINS), freed=library() is None)
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_thread_running_the_code_keeps_it_loaded(codes_file, path):
    out = run_child(codes_file, RUNNING, path)
    running, held = out["during"]
    assert running, "the kernel finished before the test could drop it: make it longer"
    assert held, "the library was unloaded while a thread was running its code"
    assert out["result"] == out["expected"]
    assert out["freed"], "the library was not unloaded after the call returned"


CONCURRENT = """
THREADS, ROUNDS = 8, 300
barrier = threading.Barrier(THREADS)
first, failures = [], []

def work(k):
    try:
        barrier.wait()
        exe = load("mul_add")  # all at once: one library
        first.append(exe.resources)
        barrier.wait()
        del exe
        for i in range(ROUNDS):  # loading, calling and dropping, each thread its own pace
            name = ("mul_add", "total")[(i + k) % 2]
            exe = load(name)
            value = exe(2.0, 3.0) if name == "mul_add" else exe(np.arange(4.0))
            if value != (7.0 if name == "mul_add" else 6.0):
                failures.append(value)
            del exe
    except BaseException as exc:
        failures.append(repr(exc))

threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libraries = len({id(lib) for lib in first})
del first
gc.collect()
report(libraries=libraries, failures=failures[:5], left=mapped_libraries())
"""


@needs_proc
@pytest.mark.parametrize("path", PATHS)
def test_threads_loading_the_same_code_at_once_load_it_once(codes_file, path):
    out = run_child(codes_file, CONCURRENT, path)
    assert out["libraries"] == 1, f"8 threads loading one code got {out['libraries']} copies"
    assert out["failures"] == []
    assert out["left"] == 0, "libraries are still mapped after every thread dropped them"


FORK = """
exe = load("mul_add")
library = weakref.ref(exe.resources)
stop = False

def churn():  # loads and unloads while the process forks: the registry's lock is busy
    while not stop:
        load("total")(np.arange(3.0))

thread = threading.Thread(target=churn)
thread.start()
children = []
for _ in range(4):
    time.sleep(0.01)
    pid = os.fork()
    if pid == 0:
        import signal
        signal.alarm(20)  # a lock the parent's thread held would hang the child
        ok = load("mul_add").resources is library()  # the registry came along
        ok &= exe(2.0, 3.0) == 7.0 and load("total")(np.arange(4.0)) == 6.0
        before = mapped_libraries()
        del exe
        gc.collect()
        ok &= library() is None  # unloaded in the child...
        ok &= load("mul_add")(2.0, 3.0) == 7.0  # ...and loaded again
        os._exit(0 if ok and (PATH == "orc" or mapped_libraries() < before) else 3)
    children.append(pid)
stop = True
thread.join()
statuses = [os.waitpid(pid, 0)[1] for pid in children]
report(statuses=statuses, parent=[exe(2.0, 3.0), library() is exe.resources])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
@pytest.mark.parametrize("path", PATHS)
def test_a_forked_child_shares_unloads_and_loads_again(codes_file, path):
    out = run_child(codes_file, FORK, path)
    assert out["statuses"] == [0] * 4, f"forked children failed: {out['statuses']}"
    assert out["parent"] == [7.0, True], "the parent lost its code when its children unloaded"


EXIT = """
import atexit
keep = [load(name) for name in ("total", "spin")]
exe = keep[0]
keep.append(exe.bind(np.arange(3.0), context="cycle"))
keep.append(exe.native)
dispatcher = pickle.loads(CODES["dispatcher"])
dispatcher(np.arange(3.0))
atexit.register(lambda: load("mul_add")(1.0, 1.0))  # loads and unloads while exiting
daemon = threading.Thread(target=load("spin"), args=(10**10,), daemon=True)
daemon.start()  # still in the kernel when the interpreter finalizes
report(started=True)
"""


@pytest.mark.parametrize("path", PATHS)
def test_the_interpreter_exits_cleanly_with_code_loaded_and_running(codes_file, path):
    assert run_child(codes_file, EXIT, path) == {"started": True}


LEAK = """
rounds = int(sys.argv[3])
data = {name: pickle.dumps(load(name)) for name in ("mul_add", "total")}
gc.collect()
kept, marks = [], []
start = time.perf_counter()
for i in range(rounds):
    exe = pickle.loads(data["mul_add"])
    assert exe(2.0, 3.0) == 7.0
    if i % 100 == 0:  # some are kept (the last ten): later loads share their library
        kept = kept[-9:] + [pickle.loads(data["total"])]
    del exe
    if i + 1 in (rounds // 5, rounds):
        gc.collect()
        marks.append([maps(), rss_kb(), mapped_libraries()])
report(marks=marks, seconds=time.perf_counter() - start,
       libraries=len({id(exe.resources) for exe in kept}))
"""


def check_flat(codes_file: str, rounds: int, path: str, rss_kb: int) -> dict[str, Any]:
    """Unpickle ``rounds`` times, dropping each, keeping the last ten of every hundredth
    of another code; the maps and RSS after a fifth of the rounds and at the end."""
    out = run_child(codes_file, LEAK, path, str(rounds), timeout=600)
    (maps1, rss1, libs1), (maps2, rss2, libs2) = out["marks"]
    assert out["libraries"] == 1, "kept executables of one code hold different libraries"
    assert libs2 == libs1 <= 4 * 2, f"{libs2} library mappings after {rounds} loads"
    assert maps2 - maps1 <= 2, f"memory maps grew from {maps1} to {maps2}"
    assert rss2 - rss1 <= rss_kb, f"RSS grew from {rss1} KB to {rss2} KB"
    return out  # type: ignore[no-any-return]


@needs_proc
@needs_linker
def test_unpickling_many_times_leaves_maps_and_memory_flat(codes_file):
    out = check_flat(codes_file, 5_000, "library", rss_kb=1024)
    assert out["seconds"] < 10, f"5,000 loads took {out['seconds']:.1f} s"


@needs_proc
def test_loading_many_times_with_orc_leaves_maps_and_memory_flat(codes_file):
    # ORC keeps ~9 KB of each released library until its LLJIT goes (loader._JitSession)
    check_flat(codes_file, 2_000, "orc", rss_kb=4096)


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("path", PATHS)
def test_a_hundred_thousand_loads_leave_maps_and_memory_flat(codes_file, path):
    check_flat(codes_file, 100_000, path, rss_kb=2048)
