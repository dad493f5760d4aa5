"""ObjectCode and Executable: machine code with its calling ABI, and the loaded callable;
BoundCall: an Executable with its arguments converted once."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable

import attrs

from frostline._vectorcall import callable_class, set_entry
from frostline.fingerprint import digest
from frostline.types import ArrayType, Type


@attrs.frozen
class RaisedError:
    """An exception a compiled function can raise: class (by module and name) and message."""

    module: str
    qualname: str
    message: str
    #: What the kernel writes into its call's context for the message: '' (nothing) or
    #: 'shapes' (the message is a template for array shapes; ``backends.llvm.stack``).
    detail: str = ""


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
    def bound_symbol(self) -> str:
        """The vectorcall function of a BoundCall: the kernel on packed arguments
        (``backends/llvm/bound.py``)."""
        return f"{self.symbol}.bound"

    @property
    def runtime_symbol(self) -> str:
        """The runtime record the loader fills (``backends/llvm/memory.py``)."""
        return f"{self.symbol}.runtime"

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


#: ``binder(executable, args, kwargs)``: the BoundCall of ``executable`` for ``args``
#: (``backends/llvm/bound.py``), raising what ``executable(*args, **kwargs)`` would raise.
Binder = Callable[["Executable", tuple[object, ...], dict[str, object]], "BoundCall"]


class _ExecutableMethods:
    """The last stage: a compiled program, called with runtime arguments only.

    ``exe(*args)`` costs about as much as calling a builtin function.  An
    Executable pickles as its object code; unpickling loads that code with no
    code generation, or, where the same code is loaded in this process already,
    calls the library loaded (which is freed with its last Executable).  It is
    immutable (the bound calls held for ``bind(..., context=...)`` are process
    state, not part of its value).
    """

    def __init__(self, object_code: ObjectCode, native: Callable[..., object],
                 resources: object, vectorcall: int, owner: object, guard: int,
                 binder: Binder):
        for name, value in (("object_code", object_code), ("native", native),
                            ("resources", resources), ("_owner", owner), ("guard", guard),
                            ("_binder", binder), ("_contexts", {})):
            object.__setattr__(self, name, value)
        set_entry(self, vectorcall, owner)

    def bind(self, *args: object, context: Hashable = None, **kwargs: object) -> BoundCall:
        """A callable taking no arguments that returns ``self(*args)``, the arguments
        converted to their native form once: calling it costs less than calling
        ``self(*args)``, which matters in loops that call a kernel on the same arrays.

        The arguments are checked as a call checks them and raise the same errors.
        The bound call keeps them alive, and holds a buffer export of each array,
        for as long as it lives; writes to the arrays are seen through them. An
        array's data pointer, shape and strides are read here: an array resized
        or reshaped in place afterwards must be bound again.

        With ``context=key`` the bound call is kept under ``key``: binding the same
        arguments again (arrays the same objects, scalars the same type and value)
        returns the same BoundCall without converting anything; other arguments
        make a new one that replaces it. A context holds its bound call, and so
        its arguments, until it is replaced or ``unbind(key)`` drops it. Contexts
        belong to the executable, which every function compiled to the same code
        shares within a process: pick keys that say whose they are. A context saves
        the conversion, not the call: looking one up costs more than a plain call,
        so a loop should call a bound call it keeps.
        """
        if context is None:
            return self._binder(self, args, kwargs)  # type: ignore[attr-defined,no-any-return]
        contexts: dict[Hashable, BoundCall] = self._contexts  # type: ignore[attr-defined]
        held = contexts.get(context)
        if held is not None and not kwargs and _same_arguments(
                self.object_code.abi.arg_types, held.args, args):  # type: ignore[attr-defined]
            return held
        bound = self._binder(self, args, kwargs)  # type: ignore[attr-defined]
        contexts[context] = bound
        return bound  # type: ignore[no-any-return]

    def unbind(self, context: Hashable) -> None:
        """Drop the bound call kept under ``context`` (nothing if there is none)."""
        self._contexts.pop(context, None)  # type: ignore[attr-defined]

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


def _same_arguments(arg_types: tuple[Type, ...], held: tuple[object, ...],
                    args: tuple[object, ...]) -> bool:
    """Whether ``args`` bind to what ``held`` bound: the same arrays, equal scalars of the
    same type (``-0.0`` is not ``0.0``; a NaN matches only itself)."""
    if len(held) != len(args):
        return False
    for old, new in zip(held, args, strict=True):  # the common case: the same objects
        if old is not new:
            break
    else:
        return True
    for ty, old, new in zip(arg_types, held, args, strict=True):
        if old is new:
            continue
        if isinstance(ty, ArrayType) or type(old) is not type(new) or not old == new:
            return False
        if old == 0 and math.copysign(1.0, old) != math.copysign(1.0, new):  # type: ignore
            return False
    return True


class _BoundCallMethods:
    """An Executable with its arguments converted once: ``bound()`` returns ``exe(*args)``.

    Made by ``Executable.bind``. It keeps the arguments alive, is called with no
    arguments, and does not pickle (it points into this process's memory): pickle
    the executable and bind again on the other side.
    """

    def __init__(self, executable: Executable, args: tuple[object, ...], vectorcall: int,
                 owner: object):
        for name, value in (("executable", executable), ("args", args), ("_owner", owner)):
            object.__setattr__(self, name, value)
        set_entry(self, vectorcall, owner)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("BoundCall is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("BoundCall is immutable")

    def __repr__(self) -> str:
        abi: EntryABI = self.executable.abi  # type: ignore[attr-defined]
        shown = ", ".join(f"{name}={_describe(ty, value)}" for name, ty, value in zip(
            abi.param_names, abi.arg_types, self.args, strict=True))  # type: ignore
        return f"<frostline.BoundCall {abi.function_name}({shown})>"

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        raise TypeError("a BoundCall cannot be pickled: it points into this process's "
                        "arrays; pickle the Executable and bind again where it is loaded")


def _describe(ty: Type, value: object) -> str:
    if not isinstance(ty, ArrayType):
        return repr(value)
    shape = getattr(value, "shape", None)
    return f"<{ty} {type(value).__name__}" + (f" of shape {shape}>" if shape else ">")


BoundCall = callable_class("frostline.BoundCall", _BoundCallMethods)
