"""Room to compile deeply nested programs: a recursion limit sized to the thread's stack.

The compiler walks the AST recursively, as its steps are written as visitors:
a sum of 500 terms is a chain of 500 ``BinOp`` nodes, an ``elif`` ladder of
500 branches 500 nested ``If`` nodes, 100 helpers calling each other 100
nested instances to type.  CPython compiles all of these, but Python's
default recursion limit (1000 frames) stops the walk.  So each step that
walks a program runs with the limit raised to what the program needs (about
``_FRAMES_PER_LEVEL`` frames per level of nesting plus ``_FRAMES_PER_FUNCTION``
per function), and only when it needs more than the limit already is.

A raised limit must never let the C stack overflow (a segfault), so the
limit is capped by what the running thread's stack can hold, counted at a
generous ``_STACK_PER_FRAME`` bytes a frame; a program that needs more is a
located CompileError that says so.  The limit is the interpreter's, shared by
every thread: it is raised while any compilation needs it and restored when
the last one ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

from frostline import forksafe
from frostline.errors import CompileError
from frostline.stages.ast import FunctionAST

#: Measured: 3 frames a level of expressions, 4 of statements, 11 a call between functions.
_FRAMES_PER_LEVEL = 5
_FRAMES_PER_FUNCTION = 12
_FRAMES_SPARE = 200
#: Measured: 130 to 170 bytes of C stack a Python frame of these walks; about 1.5 times that.
_STACK_PER_FRAME = 256
_DEFAULT_STACK = 8 << 20

_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_lock")
_raised: list[int] = []  # the limits asked for by the compilations running now
_restore_to = 0
_stacks = threading.local()


def frames_needed(functions: Iterable[FunctionAST]) -> int:
    """The Python frames walking these functions (a program) may take at once."""
    return frames_for([fn.nesting for fn in functions])


def frames_for(depths: list[int]) -> int:
    """The Python frames walking functions nested this deep may take at once."""
    return _FRAMES_PER_LEVEL * max(depths, default=0) + _FRAMES_PER_FUNCTION * len(depths)


def too_deep_message(name: str, depth: int, capacity: int, functions: int = 1) -> str:
    calls = f" (in a program of {functions} functions)" if functions > 1 else ""
    return (f"{name}() is nested {depth} levels deep{calls}, more than the compiler can "
            f"walk in this thread (its stack holds about {capacity} frames); nest less, or "
            "compile in a thread with a larger stack (threading.stack_size)")


def thread_stack_size() -> int:
    """The size of the running thread's stack (glibc's ``pthread_getattr_np``), or 8 MiB
    where it cannot be asked."""
    size = getattr(_stacks, "size", None)
    if size is None:
        size = _stacks.size = _ask_stack_size()
    return size  # type: ignore[no-any-return]


def _ask_stack_size() -> int:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.pthread_self.restype = ctypes.c_ulong
        libc.pthread_getattr_np.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
        attr = ctypes.create_string_buffer(256)  # pthread_attr_t is 56 bytes on x86-64
        if libc.pthread_getattr_np(libc.pthread_self(), attr) != 0:
            return _DEFAULT_STACK
        try:
            size = ctypes.c_size_t()
            if libc.pthread_attr_getstacksize(attr, ctypes.byref(size)) != 0:
                return _DEFAULT_STACK
            return size.value or _DEFAULT_STACK
        finally:
            libc.pthread_attr_destroy(attr)
    except (OSError, AttributeError):
        return _DEFAULT_STACK


def _frames_in_use() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


@contextlib.contextmanager
def room(frames: int, too_deep: Callable[[int], Exception]) -> Iterator[None]:
    """Run the body with room for ``frames`` more Python frames than are in use now.

    ``too_deep(capacity)`` is the error raised when this thread's stack cannot hold
    them (``capacity`` is how many frames it can), and when Python still runs out of
    room (a ``RecursionError``).
    """
    global _restore_to
    wanted = _frames_in_use() + frames + _FRAMES_SPARE
    if wanted <= sys.getrecursionlimit():
        try:
            yield
        except RecursionError:
            raise too_deep(sys.getrecursionlimit()) from None
        return
    capacity = thread_stack_size() // _STACK_PER_FRAME
    if wanted > capacity:
        raise too_deep(capacity)
    with _lock:
        if not _raised:
            _restore_to = sys.getrecursionlimit()
        _raised.append(wanted)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), wanted))
    try:
        yield
    except RecursionError:
        raise too_deep(capacity) from None
    finally:
        with _lock:
            _raised.remove(wanted)
            sys.setrecursionlimit(max([_restore_to, *_raised]))


def too_deep(functions: Iterable[FunctionAST]) -> Callable[[int], Exception]:
    """The CompileError for a program nested beyond what this thread can compile, at its
    most deeply nested function."""
    functions = list(functions)
    deepest = max(functions, key=lambda fn: fn.nesting)

    def error(capacity: int) -> Exception:
        lineno, col, line = deepest.position(deepest.tree)
        return CompileError(too_deep_message(deepest.name, deepest.nesting, capacity,
                                             len(functions)),
                            deepest.filename, lineno, col, line)
    return error


@contextlib.contextmanager
def room_for(functions: Iterable[FunctionAST]) -> Iterator[None]:
    """``room`` for walking these functions, with ``too_deep`` as the error."""
    functions = list(functions)
    with room(frames_needed(functions), too_deep(functions)):
        yield
