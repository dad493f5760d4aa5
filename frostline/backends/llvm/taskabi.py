"""The words of a task array and of the pool block, and the IR helpers both use.

Shared by the task-array runtime (``tasks``) and the pool's workers
(``workers``); see ``tasks`` for what the pieces are.
"""

from __future__ import annotations

from llvmlite import ir

from frostline.backends.llvm import callcontext
from frostline.backends.llvm import irtypes as lt

# --- a task array: i64 words in the starting function's frame ------------------------
LINK, FN, ENV, NTASKS, RESULTS, RESULT_SIZE, PUBLISHED, LOCK = range(8)
CLAIM, ACTIVE, FAILED, STATUS, GUIDE = range(8, 13)  # contended: a line apart
PAYLOAD = 16
WORDS = PAYLOAD + callcontext.PAYLOAD_WORDS
TASK_ARRAY = ir.ArrayType(lt.i64, WORDS)
#: A claim takes 1/(GUIDE_PER_THREAD * threads) of the tasks left: large enough
#: early runs keep neighbouring chunks on one thread, small enough that an
#: expensive run cannot hold the others up (an unbalanced loop, Mandelbrot's rows).
GUIDE_PER_THREAD = 8
#: ``i32 task(i8* env, i64 k, i8* result, i8* ctx)``: 0 or an error number.
TASK = ir.FunctionType(lt.i32, [lt.i8p, lt.i64, lt.i8p, lt.i8p])

#: Pauses a worker spins for work before it sleeps (about a millisecond), and a
#: caller for the last tasks of its array before it sleeps.
SPIN = 1 << 14
SPIN_WAIT = 1 << 12
#: Linux futex: the syscall's number per architecture, and the private operations.
SYS_FUTEX = {"x86_64": 202, "aarch64": 98}
FUTEX_WAIT, FUTEX_WAKE = 128, 129
SIG_BLOCK = 0
SIGSET_BYTES = 128


#: Pointers to 32- and 64-bit words.
i32p = lt.i32.as_pointer()
i64p = lt.i64.as_pointer()


def const(value: int, ty: ir.Type = lt.i64) -> ir.Constant:
    """An integer constant (i64 unless said)."""
    return ir.Constant(ty, value)


def word(b: ir.IRBuilder, base: ir.Value, k: int | ir.Value) -> ir.Value:
    """The address of i64 word ``k`` of a block of words."""
    return b.gep(base, [const(k) if isinstance(k, int) else k])


def half(b: ir.IRBuilder, address: ir.Value) -> ir.Value:
    """The low 32 bits of a word, where a futex is (little-endian targets)."""
    return b.bitcast(address, i32p)


def load(b: ir.IRBuilder, address: ir.Value, ordering: str = "acquire") -> ir.Value:
    """An atomic load of an i64 or i32 word."""
    return b.load_atomic(address, ordering, 8 if address.type.pointee == lt.i64 else 4)


def store(b: ir.IRBuilder, value: ir.Value, address: ir.Value,
          ordering: str = "release") -> None:
    """An atomic store of an i64 or i32 word."""
    b.store_atomic(value, address, ordering, 8 if value.type == lt.i64 else 4)
