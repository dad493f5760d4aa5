"""The disk cache across processes, as a user meets it: reuse, invalidation, damage, racing
and killed writers, permissions, eviction, settings, and compiled code pickled to a process
that cannot import its source or whose machine it was not built for.

Every scenario runs short scripts in fresh interpreters, each test with its own cache
directory, and reads back the one JSON line a script reports: its results and
``fl.stats()``.  Kernel modules are written into the test's ``tmp_path`` and imported by
the scripts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import frostline as fl

#: Where ``import frostline`` resolves, put on the children's path in case it is not installed.
PACKAGE_ROOT = str(Path(fl.__file__).resolve().parents[1])
TIMEOUT = 120

#: Put in front of every script: ``report`` prints the line the test reads back.
PRELUDE = '''\
import json
import warnings

import numpy as np

import frostline as fl
from frostline.dispatcher import MEMORY_CACHE


def report(**values):
    """The script's one result line: values and this process's counters."""
    print(json.dumps({"stats": fl.stats(), **values}, default=lambda v: v.item()))


def fresh(fn, **options):
    """A new jit function of fn's source with the memory cache emptied, so that its first
    call is answered by the disk cache or by code generation."""
    MEMORY_CACHE.clear()
    return fl.jit(getattr(fn, "py_func", fn), **options)


def measured(run):
    """run() and the counters it moved."""
    before = fl.stats()
    value = run()
    after = fl.stats()
    return value, {name: after[name] - before[name] for name in after}


def counted(run):
    """run(), the counters it moved, and the CacheWarning messages it gave (all of them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, moved = measured(run)
    return value, moved, [str(w.message) for w in caught
                          if issubclass(w.category, fl.CacheWarning)]


def outcome(run):
    """run()'s value, or the type name and message of what it raised."""
    try:
        return {"value": run()}
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}

'''


@dataclass(frozen=True)
class Child:
    """What a finished script reported, and what it wrote to stderr (warnings)."""

    report: dict[str, Any]
    stderr: str

    @property
    def stats(self) -> dict[str, int]:
        return self.report["stats"]

    def __getitem__(self, name: str) -> Any:
        return self.report[name]


def write_files(directory: Path, files: Mapping[str, str]) -> None:
    """Write each named source, dedented, into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (directory / name).write_text(textwrap.dedent(source))


def child_env(cache_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The test's environment with its own cache directory and no other frostline setting.

    No bytecode files: a kernel module rewritten within the same second at the same size
    would otherwise be imported from its stale ``.pyc``, and the test would test nothing.
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith("FROSTLINE_")}
    full["FROSTLINE_CACHE_DIR"] = str(cache_dir)
    full["PYTHONDONTWRITEBYTECODE"] = "1"
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, full.get("PYTHONPATH")]))
    full.update(env)
    return full


def script_command(cwd: Path, source: str) -> list[str]:
    """Write the script into ``cwd`` (so modules there import) and return how to run it."""
    source = PRELUDE + textwrap.dedent(source)
    script = cwd / f"script_{hashlib.sha256(source.encode()).hexdigest()[:12]}.py"
    cwd.mkdir(parents=True, exist_ok=True)
    script.write_text(source)
    return [sys.executable, str(script)]


def finished(command: list[str], returncode: int, stdout: str, stderr: str) -> Child:
    """The report of a finished script: its last line of output, parsed."""
    if returncode != 0:
        pytest.fail(f"{command[-1]} exited with {returncode}:\n{stderr}\n{stdout}")
    lines = stdout.splitlines()
    if not lines:
        pytest.fail(f"{command[-1]} reported nothing; stderr:\n{stderr}")
    return Child(json.loads(lines[-1]), stderr)


def run_script(cwd: Path, source: str, cache_dir: Path,
               env: Mapping[str, str] | None = None, prefix: Sequence[str] = ()) -> Child:
    """Run ``source`` (after the prelude) in a fresh interpreter in ``cwd``, its command
    after ``prefix``; fail the test with the child's stderr if it fails."""
    command = [*prefix, *script_command(cwd, source)]
    done = subprocess.run(command, cwd=cwd, env=child_env(cache_dir, env or {}),
                          capture_output=True, text=True, timeout=TIMEOUT)
    return finished(command, done.returncode, done.stdout, done.stderr)


def entry_files(cache_dir: Path) -> list[Path]:
    """The entry files in ``cache_dir``, counted by hand (temporary files left out)."""
    return sorted(p for p in (cache_dir / "2").glob("*/*") if not p.name.startswith(".tmp-"))


def kernel_entries(cache_dir: Path) -> list[str]:
    """The functions of the entries for ``kern.py``'s kernels (the Python reference runs of
    a kernel may add entries for the jit functions it calls)."""
    return [e.function for e in fl.DiskCache(cache_dir).entries() if e.function.startswith("kern:")]


def only_entry(cache_dir: Path) -> Path:
    entries = entry_files(cache_dir)
    assert len(entries) == 1, f"expected one cache entry, found {entries}"
    return entries[0]


# -- one kernel module, in versions -------------------------------------------------------

#: ``kern.py``: the kernels; ``helpers.py``: callees in another module.  Each slot in braces
#: is one input of the cache key (``above`` and ``below``: things that must not be one).
KERNEL = """\
import math

import numpy as np

import frostline as fl
import helpers
from helpers import g

SCALE = {scale}
TABLE = np.array({table})
PAIR = {pair}
{above}

@fl.jit{options}
def kernel(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += {term}
    return s


def make_offset_kernel(offset):
    @fl.jit
    def offset_kernel(x):
        return x[0] + offset
    return offset_kernel


offset_kernel = make_offset_kernel({offset})
{below}
"""

HELPERS = """\
import frostline as fl

H_OFFSET = {h_offset}


def g(v):
    return v * {factor}


def h(v):
    return g(v) + H_OFFSET


def weighted(v, w={weight}):
    return v * w


@fl.jit{callee_options}
def jitted(v):
    return v * 3.0
"""

BASE = {"scale": "2.0", "table": "[1.0, 2.0, 3.0]", "pair": "(1.0, 2.0)", "above": "",
        "options": "", "term": "x[i]", "offset": "0.5", "factor": "2.0", "h_offset": "1.0",
        "weight": "2.0", "callee_options": "", "below": "", "entry": "kernel",
        "args": "np.arange(1.0, 5.0)"}

#: Every kind of key input at once: a key that depended on the order of a set or dict
#: (string hashing differs between processes) would miss in the second process.
EVERYTHING = {**BASE, "term": "SCALE * TABLE[i % 3] * PAIR[1] * helpers.h(g(x[i])) "
                              "+ helpers.weighted(math.sqrt(x[i])) + helpers.jitted(x[i])"}

CALL_KERNEL = """
import kern

args = ({args},)
result, moved = measured(lambda: outcome(lambda: kern.{entry}(*args)))
# The kernel's own counters: the Python reference may compile the jit functions it calls.
report(stats=moved, result=result, expected=outcome(lambda: kern.{entry}.py_func(*args)))
"""


def run_version(tmp_path: Path, version: Mapping[str, str], *, src: str = "src",
                env: Mapping[str, str] | None = None) -> Child:
    """Write ``kern.py`` and ``helpers.py`` of ``version`` into ``tmp_path / src`` and call
    its kernel in a new process."""
    write_files(tmp_path / src, {"kern.py": KERNEL.format(**version),
                                 "helpers.py": HELPERS.format(**version)})
    return run_script(tmp_path / src, CALL_KERNEL.format(**version), tmp_path / "cache", env)


@pytest.mark.parametrize("version", [BASE, EVERYTHING], ids=["simple", "everything"])
def test_a_second_process_loads_the_entry_the_first_wrote(tmp_path, version):
    runs = [run_version(tmp_path, version, env={"PYTHONHASHSEED": str(seed)})
            for seed in (1, 2, 3)]
    assert runs[0]["result"] == runs[0]["expected"] and "value" in runs[0]["result"]
    assert (runs[0].stats["compiled"], runs[0].stats["disk_writes"]) == (1, 1), runs[0].stats
    for later in runs[1:]:
        assert later["result"] == runs[0]["result"]
        counted = {k: later.stats[k] for k in ("compiled", "memory_hits", "disk_hits",
                                                "disk_writes")}
        assert counted == {"compiled": 0, "memory_hits": 0, "disk_hits": 1,
                           "disk_writes": 0}, later.stats
    assert kernel_entries(tmp_path / "cache") == ["kern:kernel"]


def test_a_checkout_moved_to_another_directory_reuses_the_entries(tmp_path):
    first = run_version(tmp_path, EVERYTHING, src="here")
    moved = run_version(tmp_path, EVERYTHING, src="elsewhere/deeper")
    assert moved["result"] == first["result"]
    assert (moved.stats["compiled"], moved.stats["disk_hits"]) == (0, 1), moved.stats


@dataclass(frozen=True)
class Edit:
    """Process 1 runs ``BASE | setup``; process 2 runs that with ``change`` applied."""

    change: Mapping[str, str]
    setup: Mapping[str, str] = field(default_factory=dict)
    changes_result: bool = True

    def versions(self) -> tuple[dict[str, str], dict[str, str]]:
        before = {**BASE, **self.setup}
        return before, {**before, **self.change}


INVALIDATING_EDITS = {
    "kernel body": Edit({"term": "x[i] * x[i]"}),
    "callee in another module, called as helpers.g": Edit(
        {"factor": "5.0"}, setup={"term": "helpers.g(x[i])"}),
    "callee in another module, imported with from-import": Edit(
        {"factor": "5.0"}, setup={"term": "g(x[i])"}),
    "callee of a callee in another module": Edit(
        {"factor": "5.0"}, setup={"term": "helpers.h(x[i])"}),
    "global of the callee's module": Edit(
        {"h_offset": "7.0"}, setup={"term": "helpers.h(x[i])"}),
    "default value of a callee's parameter": Edit(
        {"weight": "9.0"}, setup={"term": "helpers.weighted(x[i])"}),
    "options of a jit function called in another module": Edit(
        {"callee_options": "(fastmath=True)"}, setup={"term": "helpers.jitted(x[i])"},
        changes_result=False),
    "global number the kernel reads": Edit({"scale": "3.0"}, setup={"term": "SCALE * x[i]"}),
    "type of a global number (int to float)": Edit(
        {"scale": "2.0"}, setup={"term": "SCALE * x[i]", "scale": "2"}, changes_result=False),
    "global tuple the kernel reads": Edit(
        {"pair": "(1.0, 3.0)"}, setup={"term": "PAIR[1] * x[i]"}),
    "content of a global array the kernel reads": Edit(
        {"table": "[1.0, 2.0, 4.0]"}, setup={"term": "TABLE[i % 3] * x[i]"}),
    "closure value": Edit({"offset": "5.0"}, setup={"entry": "offset_kernel"}),
    "fastmath option": Edit({"options": "(fastmath=True)"}, changes_result=False),
    "boundscheck option": Edit({"options": "(boundscheck=True)"}, changes_result=False),
    "float32 argument instead of float64": Edit(
        {"args": "np.arange(1.0, 5.0, dtype=np.float32)"}, changes_result=False),
    "int64 argument instead of float64": Edit(
        {"args": "np.arange(1, 5)"}, changes_result=False),
}


@pytest.mark.parametrize("edit", INVALIDATING_EDITS.values(), ids=INVALIDATING_EDITS.keys())
def test_an_edit_to_a_key_input_compiles_again_with_the_new_meaning(tmp_path, edit):
    before, after = edit.versions()
    first = run_version(tmp_path, before)
    second = run_version(tmp_path, after)
    assert first["result"] == first["expected"]
    assert first.stats["compiled"] == 1
    if edit.changes_result:
        assert second["expected"] != first["expected"], "the edit should change the result"
    assert second["result"] == second["expected"], "stale code answered after the edit"
    assert second.stats["compiled"] >= 1 and second.stats["disk_hits"] == 0, second.stats
    assert len(kernel_entries(tmp_path / "cache")) == 2, "the edit should give a new entry"


NEUTRAL_EDITS = {
    "blank lines above the kernel": Edit({"above": "\n\n\n\n"}),
    "comment line above the kernel": Edit({"above": "# a comment that moves the kernel down"}),
    "comment inside the kernel body": Edit({"term": "x[i]  # a comment in the body"}),
    "unrelated function added": Edit({"above": "def unrelated(v):\n    return v + 1.0\n"}),
    "global the kernel does not read": Edit({"scale": "3.0", "table": "[0.0]"}),
    "helper the kernel does not call": Edit({"factor": "5.0", "callee_options": "(fastmath=True)"}),
    "another closure of the same function": Edit(
        {"below": "unused_kernel = make_offset_kernel(7.0)"}, setup={"entry": "offset_kernel"}),
}


@pytest.mark.parametrize("edit", NEUTRAL_EDITS.values(), ids=NEUTRAL_EDITS.keys())
def test_an_edit_outside_the_key_reuses_the_entry(tmp_path, edit):
    before, after = edit.versions()
    first = run_version(tmp_path, before)
    second = run_version(tmp_path, after)
    assert first.stats["compiled"] == 1
    assert second["result"] == second["expected"] == first["result"]
    assert (second.stats["compiled"], second.stats["disk_hits"]) == (0, 1), second.stats


# -- damaged entries ----------------------------------------------------------------------

def damaged_versions(entry: bytes) -> dict[str, bytes]:
    """The entry truncated at several lengths, with one byte flipped at many places, padded.

    Entry layout (see frostline/toolchain/entry_codec.py): magic (8) | header length (u32) |
    payload length (u64) | header | payload (length-prefixed sections) | SHA-256 (32).
    """
    header_len, payload_len = struct.unpack_from("<IQ", entry, 8)
    header_start, payload_start = 20, 20 + header_len
    checksum_start = payload_start + payload_len
    assert checksum_start + 32 == len(entry), "the entry layout changed: update this test"
    size = len(entry)
    versions = {f"truncated to {n}": entry[:n]
                for n in (0, 1, 19, header_start + header_len // 2,
                          payload_start + payload_len // 2, checksum_start, size - 1)}
    # Sixteen evenly spaced bytes from the magic to the checksum's last, both lengths, and
    # the middle of the header and of the checksum (the spacing may step over them).
    flipped = sorted({*((size - 1) * k // 15 for k in range(16)), 8, 12,
                      header_start + header_len // 2, checksum_start + 16})
    regions = {"header": range(header_start, payload_start),
               "payload": range(payload_start, checksum_start),
               "checksum": range(checksum_start, size)}
    for region, span in regions.items():
        assert any(p in span for p in flipped), f"no flipped byte in the {region}"
    for position in flipped:
        damaged = bytearray(entry)
        damaged[position] ^= 0x20
        versions[f"byte {position:05d} flipped"] = bytes(damaged)
    versions["one byte appended"] = entry + b"\0"
    versions["garbage appended"] = entry + b"garbage" * 100
    return versions


DAMAGE_LOOP = """
import os
import pathlib

import kern

entry = pathlib.Path(os.environ["ENTRY"])
x = np.arange(1.0, 5.0)
outcomes = {}
for damaged in sorted(pathlib.Path(os.environ["DAMAGED"]).iterdir()):
    entry.write_bytes(damaged.read_bytes())
    result, moved, messages = counted(lambda: fresh(kern.kernel)(x))
    again, moved_again, _ = counted(lambda: fresh(kern.kernel)(x))
    outcomes[damaged.name] = {"result": result, "compiled": moved["compiled"],
                              "warnings": messages, "again": again,
                              "reused": (moved_again["compiled"], moved_again["disk_hits"])}
report(outcomes=outcomes, expected=kern.kernel.py_func(x))
"""


def test_every_kind_of_damage_is_warned_about_and_repaired(tmp_path):
    cache_dir = tmp_path / "cache"
    run_version(tmp_path, {**BASE, "term": "x[i] * x[i]"})
    other_kernels_entry = only_entry(cache_dir).read_bytes()  # valid, but for another key
    cache_dir.rename(tmp_path / "other")
    run_version(tmp_path, BASE)
    entry = only_entry(cache_dir)
    versions = damaged_versions(entry.read_bytes())
    versions["another kernel's entry"] = other_kernels_entry
    write_files(tmp_path / "damaged", {})
    for what, data in versions.items():
        (tmp_path / "damaged" / what).write_bytes(data)
    child = run_script(tmp_path / "src", DAMAGE_LOOP, cache_dir,
                       {"ENTRY": str(entry), "DAMAGED": str(tmp_path / "damaged")})
    assert set(child["outcomes"]) == set(versions)
    for what, got in child["outcomes"].items():
        assert got["result"] == child["expected"], what
        assert got["compiled"] == 1, what
        assert len(got["warnings"]) == 1 and "is damaged" in got["warnings"][0], \
            f"{what}: {got['warnings']}"
        assert got["again"] == child["expected"], what
        assert got["reused"] == [0, 1], f"{what}: the rewritten entry was not reused"
    assert [e.function for e in fl.DiskCache(cache_dir).entries()] == ["kern:kernel"], \
        "the last damaged entry was not replaced"


def flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2  # in the payload: the header is a few hundred bytes
    return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]


DAMAGE = {
    "emptied": lambda data: b"",
    "payload byte flipped": flip_middle_byte,
    "garbage appended": lambda data: data + b"garbage",
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_entry_is_replaced_by_the_next_process(tmp_path, damage):
    cache_dir = tmp_path / "cache"
    first = run_version(tmp_path, BASE)
    entry = only_entry(cache_dir)
    entry.write_bytes(damage(entry.read_bytes()))
    second = run_version(tmp_path, BASE)
    third = run_version(tmp_path, BASE)
    assert second["result"] == third["result"] == first["result"]
    assert "CacheWarning" in second.stderr and "is damaged" in second.stderr, second.stderr
    assert (second.stats["compiled"], second.stats["disk_writes"]) == (1, 1), second.stats
    assert (third.stats["compiled"], third.stats["disk_hits"]) == (0, 1), third.stats
    assert third.stderr == ""


# -- processes writing at once ------------------------------------------------------------

SHARED_KERNELS = """
import frostline as fl


@fl.jit
def total(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s


@fl.jit
def sum_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


@fl.jit
def largest(x):
    m = x[0]
    for i in range(x.shape[0]):
        m = max(m, x[i])
    return m


@fl.jit
def alternating(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] if i % 2 == 0 else -x[i]
    return s
"""

RACE = """
import os
import pathlib
import time

import shared

OFFSET = float(os.environ["CHILD_INDEX"])


def own(x):
    return x[0] + OFFSET


go = pathlib.Path(os.environ["GO"])
deadline = time.monotonic() + 60
while not go.exists():
    assert time.monotonic() < deadline, "never released"
    time.sleep(0.001)

x = np.arange(1.0, 8.0)
kernels = [shared.total, shared.sum_squares, shared.largest, shared.alternating, own]


def compile_all_three_times():
    return [fresh(fn)(x) == getattr(fn, "py_func", fn)(x) for _ in range(3) for fn in kernels]


correct, moved, messages = counted(compile_all_three_times)
report(correct=correct, moved=moved, warnings=messages)
"""


@pytest.mark.parametrize("cap", [None, "12k"], ids=["no eviction", "evicting"])
def test_processes_writing_the_same_entries_at_once_leave_a_valid_cache(tmp_path, cap):
    cache_dir, go = tmp_path / "cache", tmp_path / "go"
    write_files(tmp_path / "src", {"shared.py": SHARED_KERNELS})
    command = script_command(tmp_path / "src", RACE)
    size_setting = {"FROSTLINE_CACHE_SIZE": cap} if cap else {}
    children = [subprocess.Popen(command, cwd=tmp_path / "src", text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=child_env(cache_dir, {"CHILD_INDEX": str(n), "GO": str(go),
                                                           **size_setting}))
                for n in range(6)]
    go.touch()  # released together, they compile, write and read the same keys at once
    reports = [finished(command, child.returncode, *outputs)
               for child, outputs in [(c, c.communicate(timeout=TIMEOUT)) for c in children]]
    for n, child in enumerate(reports):
        assert all(child["correct"]), f"child {n} got a wrong result: {child['correct']}"
        assert child["warnings"] == [] and "damaged" not in child.stderr, child.stderr
        assert child["moved"]["compiled"] + child["moved"]["disk_hits"] == 15, child["moved"]
    cache = fl.DiskCache(cache_dir)
    entries = cache.entries()
    assert [e.function for e in entries if e.function.startswith("<damaged")] == []
    assert list(cache_dir.rglob(".tmp-*")) == []
    if cap is None:
        assert len(entries) == 4 + 6, [e.function for e in entries]
    else:
        assert cache.size() <= 12 * 1024, [(e.function, e.size) for e in entries]


#: Ways for a writer to die with SIGKILL inside ``DiskCache.put``, after it compiled.
SABOTAGE = {
    "killed before the rename": """
real_replace = os.replace


def replace(src, dst, **kwargs):  # an entry's rename only: its name is its 64-digit key
    if len(dst) == 64:
        killed()
    return real_replace(src, dst, **kwargs)


os.replace = replace
""",
    "killed in the middle of the write": """
real_fdopen = os.fdopen


class HalfWritten:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.f.close()
        return False

    def write(self, data):
        if not data.startswith(b"FLCACHE"):  # bookkeeping files: written whole
            return self.f.write(data)
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        killed()


os.fdopen = lambda fd, *args, **kwargs: HalfWritten(real_fdopen(fd, *args, **kwargs))
""",
}

KILLED_WRITER = """
import os
import signal

import kern


def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


{sabotage}
kern.kernel(np.arange(1.0, 5.0))
"""


@pytest.mark.parametrize("sabotage", SABOTAGE.values(), ids=SABOTAGE.keys())
def test_a_writer_killed_mid_entry_leaves_no_damaged_entry(tmp_path, sabotage):
    cache_dir = tmp_path / "cache"
    write_files(tmp_path / "src", {"kern.py": KERNEL.format(**BASE),
                                   "helpers.py": HELPERS.format(**BASE)})
    command = script_command(tmp_path / "src", KILLED_WRITER.format(sabotage=sabotage))
    killed = subprocess.run(command, cwd=tmp_path / "src", env=child_env(cache_dir, {}),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [leftover] = cache_dir.rglob(".tmp-*")
    assert leftover.parent.parent == cache_dir / "2", "the entry's own write was killed"
    assert entry_files(cache_dir) == []
    after = run_version(tmp_path, BASE)
    assert after["result"] == after["expected"] and after.stderr == ""
    assert (after.stats["compiled"], after.stats["disk_writes"]) == (1, 1), after.stats
    cache = fl.DiskCache(cache_dir)
    assert len(cache) == 1 and leftover.exists(), "a young temporary file may be in use"
    an_hour_ago = leftover.stat().st_mtime - 3700
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    cache.prune()
    assert not leftover.exists() and len(cache) == 1


# -- directories that cannot be written ---------------------------------------------------

UNWRITABLE = """
import shared

x = np.arange(1.0, 8.0)
kernels = [shared.total, shared.sum_squares, shared.largest]
results, moved, messages = counted(lambda: [fresh(fn)(x) for _ in range(2) for fn in kernels])
report(correct=results == [fn.py_func(x) for _ in range(2) for fn in kernels],
       moved=moved, warnings=messages)
"""


def test_a_cache_directory_that_cannot_be_created_warns_once(tmp_path):
    (tmp_path / "afile").write_text("a file where the cache directory's parent should be")
    write_files(tmp_path / "src", {"shared.py": SHARED_KERNELS})
    child = run_script(tmp_path / "src", UNWRITABLE, tmp_path / "afile" / "cache")
    assert child["correct"]
    assert child["moved"]["compiled"] == 6 and child["moved"]["disk_writes"] == 0
    assert len(child["warnings"]) == 1, child["warnings"]
    assert "cannot write the disk cache" in child["warnings"][0]


READ_ONLY = """
import os
import pathlib

import shared

try:
    (pathlib.Path(os.environ["ENTRY_DIR"]) / "probe").touch()
except PermissionError:
    x = np.arange(1.0, 8.0)
    hit, hit_moved, hit_warnings = counted(lambda: shared.total(x))
    new, new_moved, new_warnings = counted(lambda: [shared.sum_squares(x), shared.largest(x)])
    report(writable=False, hit=hit, hit_moved=hit_moved, hit_warnings=hit_warnings,
           new=new, new_moved=new_moved, new_warnings=new_warnings)
else:
    report(writable=True)
"""


def obeying_permissions() -> list[str]:
    """A command prefix under which a child's writes obey directory permissions: none for
    a user; for root, setpriv without the capabilities that override them, if it can."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    caps = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    return prefix if subprocess.run([*prefix, "true"]).returncode == 0 else []


def test_a_read_only_cache_directory_is_still_read(tmp_path):
    cache_dir = tmp_path / "cache"
    write_files(tmp_path / "src", {"shared.py": SHARED_KERNELS})
    run_script(tmp_path / "src", "import shared\nshared.total(np.ones(3))\nreport()", cache_dir)
    directories = [cache_dir, *(p for p in cache_dir.rglob("*") if p.is_dir())]
    for directory in directories:
        directory.chmod(0o500)
    try:
        child = run_script(tmp_path / "src", READ_ONLY, cache_dir,
                           {"ENTRY_DIR": str(entry_files(cache_dir)[0].parent)},
                           prefix=obeying_permissions())
    finally:
        for directory in directories:
            directory.chmod(0o700)
    if child["writable"]:
        pytest.skip("permissions do not stop writes here (root, and no setpriv to drop that)")
    assert child["hit"] == 28.0 and child["hit_warnings"] == []
    assert (child["hit_moved"]["compiled"], child["hit_moved"]["disk_hits"]) == (0, 1)
    assert child["new"] == [140.0, 7.0]
    assert child["new_moved"]["compiled"] == 2 and child["new_moved"]["disk_writes"] == 0
    assert len(child["new_warnings"]) == 1
    assert "cannot write the disk cache" in child["new_warnings"][0]
    assert len(entry_files(cache_dir)) == 1


# -- size cap -----------------------------------------------------------------------------

SIX_KERNELS = "import frostline as fl\n" + "".join(
    f"\n\n@fl.jit\ndef k{n}(x):\n    return x[0] * {n + 2}.0 + x[1]\n" for n in range(6))

EVICTION = """
import os

import kern

cache = fl.DiskCache(os.environ["FROSTLINE_CACHE_DIR"])
x = np.arange(1.0, 5.0)
steps = []
for name in os.environ["STEPS"].split():
    fn = getattr(kern, name)
    correct = fresh(fn)(x) == fn.py_func(x)
    present = sorted(e.function.rpartition(":")[2] for e in cache.entries())
    steps.append({"correct": correct, "present": present, "size": cache.size(),
                  "sizes": [e.size for e in cache.entries()]})
report(steps=steps)
"""

#: Used in this order, with room for three entries: the least recently used one goes.
USES = ["k0", "k1", "k2", "k0", "k3", "k4", "k5"]
PRESENT = [["k0"], ["k0", "k1"], ["k0", "k1", "k2"], ["k0", "k1", "k2"],
           ["k0", "k2", "k3"],  # k1 goes: k0 was used after it
           ["k0", "k3", "k4"], ["k3", "k4", "k5"]]


def test_the_size_cap_evicts_the_least_recently_used_entries(tmp_path):
    write_files(tmp_path / "src", {"kern.py": SIX_KERNELS})
    measuring = run_script(tmp_path / "src", EVICTION, tmp_path / "measure",
                           {"STEPS": " ".join(USES[:3] + USES[4:])})
    sizes = measuring["steps"][-1]["sizes"]
    assert len(sizes) == 6
    # Writing a fourth entry passes the cap; eviction goes down to 80% of it: three stay.
    low, high = 3 * max(sizes) / 0.8, 4 * min(sizes)
    assert low < high, f"entries differ too much in size for this test: {sizes}"
    cap = int((low + high) / 2)
    child = run_script(tmp_path / "src", EVICTION, tmp_path / "cache",
                       {"STEPS": " ".join(USES), "FROSTLINE_CACHE_SIZE": str(cap)})
    for use, step, present in zip(USES, child["steps"], PRESENT, strict=True):
        assert step["correct"], use
        assert step["size"] <= cap, f"after {use}: {step['size']} bytes, cap {cap}"
        assert step["present"] == present, f"after using {use}"
    assert child.stats["disk_hits"] == 1 and child.stats["compiled"] == 6


# -- settings -----------------------------------------------------------------------------

def test_an_unreadable_size_setting_warns_and_keeps_the_default(tmp_path):
    write_files(tmp_path / "src", {"shared.py": SHARED_KERNELS})
    child = run_script(tmp_path / "src", UNWRITABLE, tmp_path / "cache",
                       {"FROSTLINE_CACHE_SIZE": "lots"})
    assert child["correct"]
    assert child["moved"]["disk_writes"] == 3 and child["moved"]["disk_hits"] == 3
    assert len(child["warnings"]) == 1 and "FROSTLINE_CACHE_SIZE" in child["warnings"][0]


def test_frostline_cache_0_writes_nothing(tmp_path):
    cache_dir = tmp_path / "cache"
    write_files(tmp_path / "src", {"kern.py": KERNEL.format(**BASE),
                                   "helpers.py": HELPERS.format(**BASE)})
    for _ in range(2):
        child = run_script(tmp_path / "src", CALL_KERNEL.format(**BASE), cache_dir,
                           {"FROSTLINE_CACHE": "0"})
        assert child["result"] == child["expected"]
        counted = {k: child.stats[k] for k in ("compiled", "memory_hits", "disk_hits",
                                                "disk_writes")}
        assert counted == {"compiled": 1, "memory_hits": 0, "disk_hits": 0,
                           "disk_writes": 0}, child.stats
    assert not cache_dir.exists() or list(cache_dir.rglob("*")) == []


# -- pickles that travel to a process that cannot import their source ---------------------

KERNELS_MOD = """
import math

import numpy as np

import frostline as fl

WEIGHTS = np.array([0.5, 1.5, 2.5, 3.5])
SCALE = 3.0


class KernelError(Exception):
    '''Raised by checked_div; the unpickling process cannot import this class.'''


def square(v):
    return v * v


@fl.jit
def sum_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += square(x[i])
    return s


@fl.jit
def checked_div(a, n):
    if n < 0:
        raise KernelError("n must not be negative")
    return a // n


@fl.jit
def rms(x):
    return math.sqrt(sum_squares(x) / x.shape[0])


@fl.jit
def weighted_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += SCALE * WEIGHTS[i % 4] * x[i]
    return s


@fl.jit(boundscheck=True)
def get(a, i):
    return a[i]


@fl.jit
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
"""

KERNEL_NAMES = ("sum_squares", "checked_div", "rms", "weighted_sum", "get", "fib")

#: The calls checked on each side of the pickle, by kernel; and a call of a new signature.
CALLS = """
CALLS = {
    "sum_squares": {"array": (np.arange(4.0),)},
    "checked_div": {"quotient": (7, 2), "zero": (1, 0), "negative": (1, -1)},
    "rms": {"array": (np.arange(4.0),)},
    "weighted_sum": {"array": (np.arange(6.0),)},
    "get": {"inside": (np.arange(3.0), 1), "outside": (np.arange(3.0), 3)},
    "fib": {"ten": (10,)},
}
NEW_SIGNATURE = {"sum_squares": (np.arange(4.0, dtype=np.float32),), "checked_div": (7.0, 2.0),
                 "rms": (np.arange(4, dtype=np.int32),),
                 "weighted_sum": (np.arange(6, dtype=np.int16),),
                 "get": (np.arange(3, dtype=np.int32), 3), "fib": (np.int32(10),)}
"""

PICKLE_SIDE = CALLS + """
import os
import pathlib
import pickle

import cloudpickle

import kernels_mod

out = pathlib.Path(os.environ["TRANSFER"])
results = {}
for name, calls in CALLS.items():
    jitted = getattr(kernels_mod, name)
    results[name] = {call: outcome(lambda: jitted(*args)) for call, args in calls.items()}
    exe = jitted.compile(*map(fl.typeof, next(iter(calls.values()))))
    (out / f"{name}.executable.pickle").write_bytes(pickle.dumps(exe))
    (out / f"{name}.jit.pickle").write_bytes(pickle.dumps(jitted))
    (out / f"{name}.jit.cloudpickle").write_bytes(cloudpickle.dumps(jitted))
# Compiled here from source, after pickling: what the unpickled copies must match.
results["new"] = {name: outcome(lambda: getattr(kernels_mod, name)(*args))
                  for name, args in NEW_SIGNATURE.items()}
report(results=results)
"""

UNPICKLE_SIDE = CALLS + """
import os
import pathlib
import pickle

try:
    import kernels_mod
except ImportError:
    importable = False
else:
    importable = True

results, new_signature, loaded_moved = {}, {}, {}
for path in sorted(pathlib.Path(os.environ["TRANSFER"]).iterdir()):
    name = path.name.split(".")[0]
    loaded, loaded_moved[path.name], _ = counted(lambda: pickle.loads(path.read_bytes()))
    results[path.name], moved, _ = counted(
        lambda: {call: outcome(lambda: loaded(*args)) for call, args in CALLS[name].items()})
    assert moved["compiled"] == 0, f"{path.name} compiled: {moved}"
    if ".jit." in path.name:
        new_signature[path.name] = measured(lambda: outcome(lambda: loaded(*NEW_SIGNATURE[name])))
report(importable=importable, results=results, loaded_moved=loaded_moved,
       new_signature=new_signature)
"""

NEW_SIGNATURE_FROM_SOURCE = CALLS + """
import kernels_mod

report(results={name: outcome(lambda: getattr(kernels_mod, name)(*args))
                 for name, args in NEW_SIGNATURE.items()})
"""


def test_pickled_kernels_run_where_their_module_cannot_be_imported(tmp_path):
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    write_files(tmp_path / "a", {"kernels_mod.py": KERNELS_MOD})
    here = run_script(tmp_path / "a", PICKLE_SIDE, tmp_path / "cache-a",
                      {"TRANSFER": str(transfer)})
    assert here["results"]["sum_squares"]["array"] == {"value": 14.0}
    assert here["results"]["checked_div"]["zero"]["raised"] == "ZeroDivisionError"
    assert here["results"]["checked_div"]["negative"] == {
        "raised": "KernelError", "message": "n must not be negative"}
    assert here["results"]["fib"]["ten"] == {"value": 55}
    assert here["results"]["get"]["outside"]["raised"] == "IndexError"
    assert here["results"]["new"]["sum_squares"] == {"value": 14.0}
    assert here["results"]["new"]["get"]["raised"] == "IndexError", "boundscheck applies"
    there = run_script(tmp_path / "b", UNPICKLE_SIDE, tmp_path / "cache-b",
                       {"TRANSFER": str(transfer)})
    assert there["importable"] is False, "the unpickling side must not see kernels_mod"
    assert len(there["results"]) == 3 * len(KERNEL_NAMES)
    for pickled, results in there["results"].items():
        name = pickled.split(".")[0]
        assert results == here["results"][name], pickled
        assert there["loaded_moved"][pickled]["compiled"] == 0, pickled
    assert set(there["new_signature"]) == {f"{name}.jit.{how}" for name in KERNEL_NAMES
                                           for how in ("pickle", "cloudpickle")}
    for pickled, (value, moved) in there["new_signature"].items():
        assert value == here["results"]["new"][pickled.split(".")[0]], pickled
        # The second copy of a kernel finds what the first compiled, in memory.
        assert moved["compiled"] + moved["memory_hits"] == 1, f"{pickled}: {moved}"
    assert there.stats["compiled"] == len(KERNEL_NAMES), "one new signature per kernel"
    assert there.stats["disk_hits"] == 0
    # The program that travelled has the key of the one parsed from source: a process with
    # the source finds what the unpickled functions compiled.
    source_side = run_script(tmp_path / "a", NEW_SIGNATURE_FROM_SOURCE, tmp_path / "cache-b")
    assert source_side["results"] == here["results"]["new"]
    assert source_side.stats["compiled"] == 0, source_side.stats
    assert source_side.stats["disk_hits"] == len(KERNEL_NAMES), source_side.stats


RAISE_KERNEL_ERROR = """
import kernels_mod

try:
    kernels_mod.checked_div(1, -1)
except kernels_mod.KernelError as exc:  # the module's own class, not a stand-in
    report(caught=str(exc))
"""


def test_a_kernel_loaded_from_disk_raises_its_modules_exception_class(tmp_path):
    write_files(tmp_path / "a", {"kernels_mod.py": KERNELS_MOD})
    first, second = (run_script(tmp_path / "a", RAISE_KERNEL_ERROR, tmp_path / "cache")
                     for _ in range(2))
    assert first["caught"] == second["caught"] == "n must not be negative"
    assert (second.stats["compiled"], second.stats["disk_hits"]) == (0, 1), second.stats


# -- object code for a CPU this machine is not --------------------------------------------

FOREIGN_SIDE = """
import os
import pathlib
import pickle

import attrs

import kernels_mod
from frostline.backends.llvm.loader import load
from frostline.backends.llvm.sharedlib import with_library


class PickledExecutable:
    '''Pickles exactly as an Executable of the given object code does.'''

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return load, (self.code,)


class BuiltElsewhere:
    '''What a jit function pickles of an executable: its object code.'''

    def __init__(self, code):
        self.object_code = code


out = pathlib.Path(os.environ["TRANSFER"])
kernels_mod.sum_squares(np.arange(4))  # for int64 arrays, built here: it runs as it is
exe = kernels_mod.sum_squares.compile("float64[::1]")
code = with_library(exe.object_code)  # what pickling an executable carries
assert pickle.dumps(PickledExecutable(code)) == pickle.dumps(exe)
features = f"{code.target_features},+frostline-test-feature"
elsewhere = {"feature": attrs.evolve(code, target_features=features),
             "triple": attrs.evolve(code, target_triple="frostline-test-triple")}
for machine, foreign in elsewhere.items():
    (out / f"{machine}.object_code.pickle").write_bytes(pickle.dumps(foreign))
    (out / f"{machine}.executable.pickle").write_bytes(pickle.dumps(PickledExecutable(foreign)))
signature = kernels_mod.sum_squares.signature_from("float64[::1]")
kernels_mod.sum_squares._by_signature[signature] = BuiltElsewhere(elsewhere["feature"])
(out / "jit.pickle").write_bytes(pickle.dumps(kernels_mod.sum_squares))
report()
"""

LOAD_FOREIGN = """
import os
import pathlib
import pickle

from frostline.backends import llvm

transfer = pathlib.Path(os.environ["TRANSFER"])
refused = {}
for machine in ("feature", "triple"):
    code = pickle.loads((transfer / f"{machine}.object_code.pickle").read_bytes())
    refused[f"{machine}: loaded"] = outcome(lambda: llvm.load(code))
    refused[f"{machine}: unpickled"] = outcome(
        lambda: pickle.loads((transfer / f"{machine}.executable.pickle").read_bytes()))
jitted, _, restore_warnings = counted(lambda: pickle.loads((transfer / "jit.pickle").read_bytes()))
report(refused=refused, restore_warnings=restore_warnings,
       signatures=[str(s) for s in jitted.signatures],
       built_here=measured(lambda: jitted(np.arange(4))),
       built_elsewhere=measured(lambda: jitted(np.arange(4.0))))
"""

#: What a refusal names, by how the code's machine differs from this one.
MISSING = {"feature": "frostline-test-feature", "triple": "frostline-test-triple"}


def test_object_code_for_another_machine_is_refused_and_compiled_again(tmp_path):
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    write_files(tmp_path / "a", {"kernels_mod.py": KERNELS_MOD})
    run_script(tmp_path / "a", FOREIGN_SIDE, tmp_path / "cache-a", {"TRANSFER": str(transfer)})
    there = run_script(tmp_path / "b", LOAD_FOREIGN, tmp_path / "cache-b",
                       {"TRANSFER": str(transfer)})
    assert len(there["refused"]) == 4
    for how, refused in there["refused"].items():
        assert refused.get("raised") == "IncompatibleTargetError", f"{how}: {refused}"
        assert MISSING[how.split(":")[0]] in refused["message"], f"{how}: {refused}"
    [warning] = there["restore_warnings"]
    assert "compiled again" in warning and "frostline-test-feature" in warning, warning
    assert len(there["signatures"]) == 1, "only the signature built for this machine is kept"
    value, moved = there["built_here"]
    assert value == 14 and moved["compiled"] == 0, moved
    value, moved = there["built_elsewhere"]
    assert value == 14.0 and moved["compiled"] == 1, moved
