"""ObjectCode and Executable: machine code with its calling ABI, and the loaded callable."""

from __future__ import annotations

import functools
from collections.abc import Callable

import attrs

from frostline._vectorcall import callable_class, set_entry
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
    guarded: bool = False
    #: ``module:qualname`` of the entry function, for listings (``frostline cache list``).
    qualified_name: str = ""

    @property
    def vectorcall_symbol(self) -> str:
        """The vectorcall trampoline in front of the FASTCALL entry ``symbol``."""
        return f"{self.symbol}.vectorcall"

    @property
    def guard_symbol(self) -> str:
        """The dispatch guard (see ``wrapper.emit_guard``), present when ``guarded``."""
        return f"{self.symbol}.guard"

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("abi", str(self.guarded), self.function_name, self.qualified_name,
                      self.symbol,
                      repr(self.param_names),
                      repr(self.arg_types), repr(self.return_type), repr(self.written_params),
                      repr(self.errors))

    @property
    def signature(self) -> str:
        """``name(param: type, ...) -> type``."""
        params = ", ".join(f"{n}: {t}" for n, t in zip(self.param_names, self.arg_types,
                                                        strict=True))
        return f"{self.function_name}({params}) -> {self.return_type}"

    def as_text(self) -> str:
        return f"{self.signature}  [{self.symbol}]"


@attrs.frozen
class ObjectCode:
    """Relocatable machine code (ELF bytes) for a target, plus the ABI to call it.

    ``data`` is what the target emitted; ``shared_library`` the same code linked
    for ``dlopen`` (see ``backends/llvm/sharedlib.py``).
    """

    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")
    abi: EntryABI
    target_triple: str
    target_cpu: str
    target_features: str
    assembly: str = attrs.field(default="", repr=False)
    #: ``data`` linked as a shared library, loadable without LLVM; empty where no
    #: linker was found. Derived from ``data``, so not part of the fingerprint.
    shared_library: bytes = attrs.field(default=b"", repr=lambda d: f"<{len(d)} bytes>")

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("object", self.data, self.abi.fingerprint)

    def as_text(self) -> str:
        return self.assembly or f"; {len(self.data)} bytes of object code for " \
                                f"{self.target_triple} ({self.target_cpu})"


class _ExecutableMethods:
    """The last stage: a compiled program, called with runtime arguments only.

    ``exe(*args)`` costs about as much as calling a builtin function.  An
    Executable pickles as its object code; unpickling links that code again,
    with no code generation.  It is immutable.
    """

    def __init__(self, object_code: ObjectCode, native: Callable[..., object],
                 resources: object, vectorcall: int, owner: object, guard: int = 0):
        for name, value in (("object_code", object_code), ("native", native),
                            ("resources", resources), ("_owner", owner), ("guard", guard)):
            object.__setattr__(self, name, value)
        set_entry(self, vectorcall, owner)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Executable is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Executable is immutable")

    @property
    def abi(self) -> EntryABI:
        return self.object_code.abi  # type: ignore[attr-defined,no-any-return]

    @property
    def signature(self) -> str:
        return self.abi.as_text()  # type: ignore[attr-defined,no-any-return]

    @property
    def fingerprint(self) -> str:
        return self.object_code.fingerprint  # type: ignore[attr-defined,no-any-return]

    def as_text(self) -> str:
        return f"# executable {self.signature}\n{self.object_code.as_text()}"  # type: ignore

    def __repr__(self) -> str:
        return f"<frostline.Executable {self.signature}>"  # type: ignore[attr-defined]

    def __reduce__(self) -> tuple[Callable[..., object], tuple[ObjectCode]]:
        from frostline.backends.llvm.loader import load
        from frostline.backends.llvm.sharedlib import with_library

        return load, (with_library(self.object_code),)  # type: ignore[attr-defined]


Executable = callable_class("frostline.Executable", _ExecutableMethods)
