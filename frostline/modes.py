"""Execution modes: at which granularity a jit function runs, and what happens on failure.

The granularities, coarsest first:

``RUN``
    a whole batch of calls (``f.run``) in one native loop;
``WHOLE``
    the function and its callees compiled into one native function (the default);
``PER_FUNCTION``
    the function's own control flow runs as Python, each function it calls is
    compiled on its own;
``PYTHON``
    the function runs as Python.

Without ``FALLBACK`` a mode uses its coarsest granularity and a failure raises.
With it (``AUTO``) a failure emits one ``FallbackWarning`` and steps down to the
next granularity of the mode, and finally to Python.  The whole policy is
``single_call_steps`` and ``batch_steps``: the dispatcher walks the tuple they
return.
"""

from __future__ import annotations

import enum
import os
import re
import sys
import warnings


class ExecutionMode(enum.Flag):
    """How a jit function runs; combine granularities with ``|``.

    ``AUTO`` = ``FALLBACK | RUN | WHOLE | PER_FUNCTION``: try the coarsest
    granularity first, step down on failure, finally run Python.
    """

    PYTHON = enum.auto()
    PER_FUNCTION = enum.auto()
    WHOLE = enum.auto()
    RUN = enum.auto()
    FALLBACK = enum.auto()
    AUTO = FALLBACK | RUN | WHOLE | PER_FUNCTION

    @classmethod
    def parse(cls, mode: ExecutionMode | str) -> ExecutionMode:
        """A mode from a member or a string: ``"auto"``, ``"whole"``, ``"per-function"``,
        ``"whole|fallback"`` (names ignore case; ``|``, ``+`` or ``,`` combine them)."""
        if isinstance(mode, cls):
            parsed = mode
        elif isinstance(mode, str):
            parsed = cls(0)
            for word in filter(None, (w.strip() for w in re.split(r"[|+,]", mode))):
                name = word.upper().replace("-", "_").replace(" ", "_")
                if name not in cls.__members__:
                    valid = ", ".join(n.lower() for n in cls.__members__)
                    raise ValueError(f"unknown execution mode {word!r} (valid: {valid})")
                parsed |= cls[name]
        else:
            raise TypeError(f"mode must be an ExecutionMode or a string, not "
                            f"{type(mode).__name__}")
        if not parsed & ~cls.FALLBACK:
            raise ValueError(f"execution mode {mode!r} names no granularity (python, "
                             "per_function, whole or run)")
        return parsed

    @property
    def label(self) -> str:
        """The granularity's name as warnings and counters spell it: ``per_function``."""
        return (self.name or str(self)).lower()


_SINGLE_ORDER = (ExecutionMode.WHOLE, ExecutionMode.PER_FUNCTION, ExecutionMode.PYTHON)


def single_call_steps(mode: ExecutionMode) -> tuple[ExecutionMode, ...]:
    """The granularities a single call ``f(*args)`` tries, in order.

    ``RUN`` compiles the function whole, so for a single call it means ``WHOLE``.
    With ``FALLBACK`` every granularity of the mode is tried and Python comes last;
    without it only the coarsest is.
    """
    if mode & ExecutionMode.RUN:
        mode |= ExecutionMode.WHOLE
    steps = tuple(g for g in _SINGLE_ORDER if g & mode)
    if not mode & ExecutionMode.FALLBACK:
        return steps[:1]
    return steps if steps[-1:] == (ExecutionMode.PYTHON,) else (*steps, ExecutionMode.PYTHON)


def batch_steps(mode: ExecutionMode) -> tuple[ExecutionMode, ...]:
    """What ``f.run`` tries: one native loop (``RUN``), then, with ``FALLBACK`` or
    when the mode has no ``RUN``, a Python loop of single calls (``PYTHON`` here)."""
    if not mode & ExecutionMode.RUN:
        return (ExecutionMode.PYTHON,)
    if mode & ExecutionMode.FALLBACK:
        return (ExecutionMode.RUN, ExecutionMode.PYTHON)
    return (ExecutionMode.RUN,)


class FallbackWarning(RuntimeWarning):
    """A granularity failed and a jit function stepped down to the next one.

    The message names the function, the granularity that failed, the stage that
    failed and the reason; ``function``, ``granularity``, ``stage``, ``reason``
    and ``next`` hold the same as attributes.
    """

    def __init__(self, function: str, granularity: ExecutionMode, stage: str,
                 reason: BaseException, next: ExecutionMode):
        self.function = function
        self.granularity = granularity
        self.stage = stage
        self.reason = reason
        self.next = next
        text = str(reason) or type(reason).__name__
        if not isinstance(reason, Exception) or type(reason).__name__ != "CompileError":
            text = f"{type(reason).__name__}: {text}"
        super().__init__(f"frostline: {function} fell back from {granularity.label} to "
                         f"{next.label}: the {granularity.label} compilation failed at "
                         f"stage '{stage}': {text}")

    def __reduce__(self) -> tuple[type[FallbackWarning], tuple[object, ...]]:
        # BaseException's own reduce would call __init__ with the message alone
        return type(self), (self.function, self.granularity, self.stage, self.reason, self.next)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(warning: Warning) -> None:
    """Warn, attributed to the first frame outside frostline (the user's call)."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)
