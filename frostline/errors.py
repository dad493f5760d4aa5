"""Exceptions raised by frostline."""

from __future__ import annotations


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
