"""Running a generated program under CPython and frostline, and comparing.

The generated source is registered in ``linecache`` under a unique file name and
``exec``'d (as ``frostline/batch.py`` does), because frostline reads kernel source
with ``inspect``.  For each argument set the kernel runs as a plain function, then
through ``fl.jit`` (and, for some programs, an executable from ``.compile``), each
on fresh copies of the arguments.  Results, exception types, promised messages and
the final contents of every array argument (and of the array a view was taken
from) must agree.  A failure raises :class:`Discrepancy` or :class:`GeneratorBug`
with the seed, the replay command, the source and the inputs.
"""

from __future__ import annotations

import linecache
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from corpus.checks import arrays_of, assert_same_array, assert_same_value

import frostline as fl

from .inputs import ArgSet, make_inputs
from .program import Program

#: Messages the language reference promises to be CPython's.
PROMISED_MESSAGES = ("math domain error", "math range error")
#: Exceptions the generated programs may raise under CPython.
EXPECTED_ERRORS = (ZeroDivisionError, ValueError, OverflowError, AssertionError, IndexError,
                   UnboundLocalError, RuntimeError, ArithmeticError, KeyError)
_GENERATED_MESSAGE = re.compile(r"'?fuzz-\d+'?")


class Discrepancy(AssertionError):
    """CPython and frostline disagree on a generated program."""


class GeneratorBug(AssertionError):
    """A generated program left the language, or the region where both agree."""


@dataclass(frozen=True)
class Outcome:
    """What one run gave: a result or an exception, and the arrays afterwards."""

    result: Any
    exc: BaseException | None
    arrays: tuple[tuple[str, np.ndarray], ...]

    def describe(self) -> str:
        head = (f"raised {type(self.exc).__name__}: {self.exc}" if self.exc is not None
                else f"returned {self.result!r}")
        return head


def load(program: Program) -> Any:
    """The kernel of ``program`` as a plain Python function whose source inspect finds."""
    filename = f"<frostline-fuzz {program.seed}>"
    source = program.source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"fuzz_{program.seed}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated source
    return namespace[program.kernel]


def _arrays(args: tuple[Any, ...]) -> tuple[tuple[str, np.ndarray], ...]:
    return tuple(arrays_of(args))


def run(fn: Any, args: tuple[Any, ...]) -> Outcome:
    """Call ``fn`` (NumPy warnings silenced); any exception is an outcome."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = fn(*args)
        return Outcome(result, None, _arrays(args))
    except Exception as exc:  # noqa: BLE001 - every exception is an outcome
        return Outcome(None, exc, _arrays(args))


def signature(args: tuple[Any, ...]) -> str:
    """An AOT signature for these arguments (arrays with any strides)."""
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"{a.dtype.name}[{', '.join([':'] * a.ndim)}]")
        elif isinstance(a, bool | np.bool_):
            parts.append("bool")
        elif isinstance(a, int):
            parts.append("int64")
        elif isinstance(a, float):
            parts.append("float64")
        else:
            parts.append(np.asarray(a).dtype.name)
    return ", ".join(parts)


def _check_reference(program: Program, ref: Outcome) -> str | None:
    """Why CPython's outcome shows the generator left the agreed region, or None."""
    exc = ref.exc
    if exc is not None:
        name = type(exc).__name__
        if type(exc) is RecursionError or not isinstance(exc, EXPECTED_ERRORS) \
                and name != "FuzzError":
            return f"CPython raised {name}: {exc}"
        if isinstance(exc, OverflowError) and "out of bounds" in str(exc):
            return f"a NumPy conversion overflowed: {exc}"
        if type(exc) is IndexError and not program.boundscheck \
                and "tuple index" not in str(exc):
            return f"an index out of bounds without boundscheck: {exc}"
        return None
    values = ref.result if isinstance(ref.result, tuple) else (ref.result,)
    for v in values:
        if v is not None and not isinstance(v, bool | int | float | np.number | np.bool_):
            return f"CPython returned a {type(v).__name__}: {v!r}"
    return None


def compare(ref: Outcome, got: Outcome) -> None:
    """Raise AssertionError where ``got`` differs from CPython's ``ref``."""
    if ref.exc is not None:
        assert got.exc is not None, f"CPython raised {type(ref.exc).__name__}: {ref.exc}"
        assert type(got.exc) is type(ref.exc) or (
            type(ref.exc).__name__ == type(got.exc).__name__ == "FuzzError"), \
            f"exception type: CPython {type(ref.exc).__name__}: {ref.exc}"
        message = str(ref.exc)
        if message in PROMISED_MESSAGES or _GENERATED_MESSAGE.fullmatch(message) \
                or message == "" and not isinstance(ref.exc, UnboundLocalError):
            assert str(got.exc) == message, \
                f"message: CPython {message!r}, frostline {str(got.exc)!r}"
    else:
        assert got.exc is None, f"CPython returned {ref.result!r}"
        assert_same_value(ref.result, got.result)
    for (name, want), (_, have) in zip(ref.arrays, got.arrays, strict=True):
        assert_same_array(want, have, 0.0, f"{name} after the call")


def report(program: Program, title: str, detail: str, args: ArgSet | None = None,
           ref: Outcome | None = None, got: Outcome | None = None) -> str:
    """A failure report with everything needed to replay it."""
    lines = [f"{title} (fuzz seed {program.seed})", detail,
             f"replay: python -m tests.fuzz {program.seed}"
             + ("  (features: all)" if program.features != type(program.features)() else ""),
             f"options: boundscheck={program.boundscheck}", "--- source ---",
             program.source.rstrip(), "--- end of source ---"]
    if args is not None:
        lines.append(f"arguments: {args.describe()}")
    if ref is not None:
        lines.append(f"CPython:   {ref.describe()}")
    if got is not None:
        lines.append(f"frostline: {got.describe()}")
    return "\n".join(lines)


def check_program(program: Program, n_inputs: int = 6) -> None:
    """Compare CPython and frostline on ``n_inputs`` argument sets of ``program``."""
    fn = load(program)
    inputs = make_inputs(program.seed, program.params, n_inputs)
    refs = []
    for args in inputs:
        ref = run(fn, args.fresh())
        why = _check_reference(program, ref)
        if why is not None:
            raise GeneratorBug(report(program, "generator bug", why, args, ref))
        refs.append(ref)
    options = {"boundscheck": True} if program.boundscheck else {}
    targets: list[tuple[str, Any]] = [("jit", fl.jit(fn, cache=False, **options))]
    if program.aot:
        sig = signature(inputs[0].fresh())
        try:
            exe = fl.jit(fn, cache=False, **options).compile(sig)
        except fl.CompileError as exc:
            raise GeneratorBug(report(program, "frostline rejected a generated program",
                                      f"{type(exc).__name__}: {exc}")) from exc
        targets.append((f"aot {sig}", exe))
    for mode, target in targets:
        for args, ref in zip(inputs, refs, strict=True):
            got = run(target, args.fresh())
            if isinstance(got.exc, fl.CompileError):
                raise GeneratorBug(report(program, "frostline rejected a generated program",
                                          f"{type(got.exc).__name__}: {got.exc}"))
            try:
                compare(ref, got)
            except AssertionError as exc:
                raise Discrepancy(report(program, f"discrepancy ({mode})", str(exc), args,
                                         ref, got)) from None
