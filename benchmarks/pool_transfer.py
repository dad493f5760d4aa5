"""How a compiler worker hands back a large binary result: a file whose path is in the
JSON response (what ``frostline.toolchain.service`` does), the bytes on the pipe right
after the JSON (a side frame; on Linux's default 64 KiB pipe and on a 1 MiB one), or
base64 inside the JSON.

A small child process (standard library only) answers one request per transfer; the
parent times each request from writing it to holding the bytes (the file read and
removed, the base64 decoded).  The messages use the pool's own framing
(``Content-Length`` headers, ``protocol.read_message``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .harness import Outcome, describe_error, log

SIZES = (4 << 10, 64 << 10, 1 << 20, 16 << 20)
METHODS = ("file", "side", "side, big pipe", "base64")
LABELS = {"file": "file, path in the JSON (the pool's choice)",
          "side": "side frame: bytes on the pipe after the JSON",
          "side, big pipe": "side frame, 1 MiB pipe buffer",
          "base64": "base64 inside the JSON"}
BIG_PIPE = 1 << 20
"""The pipe buffer (``F_SETPIPE_SZ``) of the side frame's second variant; Linux's default
is 64 KiB, and ``/proc/sys/fs/pipe-max-size`` (1 MiB by default) caps it."""

CHILD = r"""
import base64, json, os, sys
out, inp, folder = sys.stdout.buffer, sys.stdin.buffer, sys.argv[1]
payloads, count = {}, 0

def send(obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

for line in inp:
    method, size = line.split()
    size = int(size)
    data = payloads.get(size)
    if data is None:
        data = payloads[size] = os.urandom(size)
    count += 1
    if method == b"file":
        path = os.path.join(folder, "%d-%d.bin" % (os.getpid(), count))
        with open(path, "wb") as f:
            f.write(data)
        send({"path": path})
    elif method == b"side":
        send({"length": size})
        out.write(data)
    else:
        send({"data": base64.b64encode(data).decode("ascii")})
    out.flush()
"""


@dataclass
class TransferRow:
    size: int
    cells: dict[str, Outcome] = field(default_factory=dict)
    """Median seconds per transfer, per method."""


def size_label(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"


class _Child:
    def __init__(self, folder: str, pipe_size: int | None = None):
        self.process = subprocess.Popen([sys.executable, "-I", "-c", CHILD, folder],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if pipe_size is not None:  # the pipe the child writes its answers to
            try:
                import fcntl

                assert self.process.stdout is not None
                fcntl.fcntl(self.process.stdout.fileno(), fcntl.F_SETPIPE_SZ, pipe_size)
            except BaseException:
                self.close()
                raise

    def transfer(self, method: str, size: int) -> bytes:
        import base64

        from frostline.toolchain.service import protocol as rpc

        p = self.process
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write(b"%s %d\n" % (method.encode(), size))
        p.stdin.flush()
        reply = rpc.read_message(p.stdout)
        if reply is None:
            raise RuntimeError(f"the transfer child exited (status {p.wait()})")
        if method == "file":
            path = reply["path"]
            try:
                with open(path, "rb") as f:
                    data = f.read()
            finally:
                os.unlink(path)
        elif method == "side":
            data = p.stdout.read(reply["length"])
        else:
            data = base64.b64decode(reply["data"])
        if len(data) != size:
            raise RuntimeError(f"{method}: got {len(data)} bytes, expected {size}")
        return data

    def close(self) -> None:
        p = self.process
        if p.stdin is not None:
            p.stdin.close()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout is not None:
            p.stdout.close()


def transfer_suite(rounds: int) -> tuple[list[TransferRow], list[str]]:
    """Median time per transfer of each method and size, ``rounds`` interleaved samples
    after one untimed transfer each (the child makes its payload then)."""
    rows = [TransferRow(size) for size in SIZES]
    notes: list[str] = []
    folder = tempfile.mkdtemp(prefix="frostline-pool-bench-")  # where the pool's files go
    children: dict[str, _Child] = {}
    try:
        children["default"] = _Child(folder)
        try:
            children["big"] = _Child(folder, BIG_PIPE)
        except Exception as exc:  # not Linux, or a lower pipe-max-size
            notes.append(f"transfer: no {BIG_PIPE >> 10} KiB pipe ({describe_error(exc)})")
        for row in rows:
            log(f"pool: transfer {size_label(row.size)}")
            samples: dict[str, list[float]] = {m: [] for m in METHODS}
            if "big" not in children:
                row.cells["side, big pipe"] = Outcome(note="n/a")
            for round_ in range(rounds + 1):
                order = METHODS if round_ % 2 == 0 else METHODS[::-1]
                for method in order:
                    if method in row.cells:  # failed
                        continue
                    child = children["big" if method == "side, big pipe" else "default"]
                    try:
                        t0 = time.perf_counter()
                        child.transfer(method.partition(",")[0], row.size)
                        seconds = time.perf_counter() - t0
                    except Exception as exc:
                        log(f"  !! transfer {method} {row.size}: {describe_error(exc)}")
                        row.cells[method] = Outcome(error=describe_error(exc))
                        continue
                    if round_:
                        samples[method].append(seconds)
            for method in METHODS:
                if method not in row.cells:
                    row.cells[method] = Outcome(seconds=statistics.median(samples[method]))
    except Exception as exc:
        log(f"  !! transfer child: {describe_error(exc)}")
        notes.append(f"transfer child failed: {describe_error(exc)}")
    finally:
        for child in children.values():
            child.close()
        left = os.listdir(folder)
        if left:
            notes.append(f"transfer: {len(left)} file(s) left behind in the temp dir")
        shutil.rmtree(folder, ignore_errors=True)
    return rows, notes
