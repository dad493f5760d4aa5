"""ObjectCode and Executable: machine code with its calling ABI, and the loaded callable."""

from __future__ import annotations

import functools
from collections.abc import Callable

import attrs

from frostline.fingerprint import digest
from frostline.types import Type


@attrs.frozen
class RaisedError:
    """An exception a compiled function can raise: class (by module and name) and message."""

    module: str
    qualname: str
    message: str


@attrs.frozen
class EntryABI:
    """How Python calls the compiled program: the wrapper symbol and its parameters."""

    function_name: str
    symbol: str
    param_names: tuple[str, ...]
    arg_types: tuple[Type, ...]
    return_type: Type
    written_params: tuple[str, ...]
    errors: tuple[RaisedError, ...]

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("abi", self.function_name, self.symbol, repr(self.param_names),
                      repr(self.arg_types), repr(self.return_type), repr(self.written_params),
                      repr(self.errors))

    def as_text(self) -> str:
        params = ", ".join(f"{n}: {t}" for n, t in zip(self.param_names, self.arg_types,
                                                        strict=True))
        return f"{self.function_name}({params}) -> {self.return_type}  [{self.symbol}]"


@attrs.frozen
class ObjectCode:
    """Relocatable machine code (ELF bytes) for a target, plus the ABI to call it."""

    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")
    abi: EntryABI
    target_triple: str
    target_cpu: str
    target_features: str
    assembly: str = attrs.field(default="", repr=False)

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("object", self.data, self.abi.fingerprint)

    def as_text(self) -> str:
        return self.assembly or f"; {len(self.data)} bytes of object code for " \
                                f"{self.target_triple} ({self.target_cpu})"


@attrs.frozen(eq=False)
class Executable:
    """The last stage: a compiled program, called with runtime arguments only.

    It pickles as its object code; unpickling links that code again, with no
    code generation.
    """

    object_code: ObjectCode
    native: Callable[..., object] = attrs.field(repr=False)
    resources: object = attrs.field(repr=False)

    def __call__(self, *args: object) -> object:
        return self.native(*args)

    @property
    def signature(self) -> str:
        return self.object_code.abi.as_text()

    @property
    def fingerprint(self) -> str:
        return self.object_code.fingerprint

    def as_text(self) -> str:
        return f"# executable {self.signature}\n{self.object_code.as_text()}"

    def __reduce__(self) -> tuple[Callable[..., Executable], tuple[ObjectCode]]:
        from frostline.backends.llvm.loader import load

        return load, (self.object_code,)
