"""Closure: the program AST bound to a compile-time signature.

This is where compile-time information meets the call: the argument types
(and layouts) travel on; runtime values never enter a stage.
"""

from __future__ import annotations

import functools

import attrs

from frostline.fingerprint import digest
from frostline.stages.ast import ProgramAST
from frostline.types import Signature


@attrs.frozen
class Closure:
    """ProgramAST + Signature."""

    program: ProgramAST
    signature: Signature

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("closure", self.program.fingerprint, str(self.signature))

    def as_text(self) -> str:
        entry = self.program.entry_function
        params = ", ".join(f"{p}: {t}" for p, t in zip(entry.params, self.signature.args,
                                                        strict=False))
        ret = f" -> {self.signature.return_type}" if self.signature.return_type else ""
        return f"# closure {entry.name}({params}){ret}\n\n{self.program.as_text()}"
