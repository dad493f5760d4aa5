"""Exceptions raised by frostline."""

from __future__ import annotations

import importlib
import sys
import threading
import weakref

from frostline import forksafe

_exceptions: weakref.WeakValueDictionary[tuple[str, str], type] = weakref.WeakValueDictionary()
_exceptions_lock = threading.Lock()
forksafe.renew_locks(sys.modules[__name__], "_exceptions_lock")


def register_exception(cls: type[BaseException]) -> None:
    """Remember an exception class a kernel raises, so classes that cannot be imported
    (defined inside a function) are still found when the kernel raises them."""
    with _exceptions_lock:
        _exceptions[(cls.__module__, cls.__qualname__)] = cls


def exception_class(module: str, qualname: str) -> type[BaseException]:
    """The exception class a kernel raises: remembered, else imported by name.

    A class that can be found neither way (a local class, in another process)
    becomes a RuntimeError naming it.
    """
    with _exceptions_lock:
        cls = _exceptions.get((module, qualname))
    if cls is not None:
        return cls
    try:
        found: object = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return type(qualname.rsplit(".", 1)[-1], (RuntimeError,), {"__module__": module})
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return RuntimeError


class CompileError(Exception):
    """A program outside the kernel language, reported at its source position.

    ``str()`` reads ``file:line:col: message`` followed by the source line and a
    caret under the column.
    """

    def __init__(self, message: str, filename: str = "<unknown>", lineno: int = 0,
                 col: int = 0, source_line: str = ""):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        super().__init__(message, filename, lineno, col, source_line)

    def __str__(self) -> str:
        text = f"{self.filename}:{self.lineno}:{self.col + 1}: {self.message}"
        if self.source_line:
            stripped = self.source_line.rstrip()
            indent = len(stripped) - len(stripped.lstrip())
            caret = " " * max(self.col - indent, 0)
            text += f"\n    {stripped.lstrip()}\n    {caret}^"
        return text


class IncompatibleTargetError(RuntimeError):
    """Object code built for another machine: another triple, or CPU features this one lacks.

    Raised instead of loading code that could crash the process with an illegal
    instruction.
    """
