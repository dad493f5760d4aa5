"""CompilableProgram and OptimizedProgram: LLVM IR for a target, before and after O3."""

from __future__ import annotations

import functools

import attrs

from frostline.fingerprint import digest
from frostline.stages.executable import EntryABI


@attrs.frozen
class TargetSpec:
    """The machine code is built for: triple, CPU name and CPU features."""

    triple: str
    cpu: str
    features: str

    @property
    def fingerprint(self) -> str:
        return digest("target", self.triple, self.cpu, self.features)

    def as_text(self) -> str:
        return f"{self.triple} cpu={self.cpu}"


@attrs.frozen
class CompilableProgram:
    """Typed, lowered program: LLVM IR text, its calling ABI and the target."""

    llvm_ir: str
    abi: EntryABI
    target: TargetSpec
    fastmath: bool

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("compilable", self.llvm_ir, self.abi.fingerprint,
                      self.target.fingerprint, str(self.fastmath))

    def as_text(self) -> str:
        return self.llvm_ir


@attrs.frozen
class OptimizedProgram:
    """The program's LLVM IR after the O3 pipeline for its target."""

    llvm_ir: str
    abi: EntryABI
    target: TargetSpec

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("optimized", self.llvm_ir, self.abi.fingerprint, self.target.fingerprint)

    def as_text(self) -> str:
        return self.llvm_ir
