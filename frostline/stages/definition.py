"""Definition: a Python function and the options it is compiled with."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import attrs

from frostline.fingerprint import digest


@attrs.frozen
class JitOptions:
    """Options that change the generated code, and so belong in every cache key.

    ``boundscheck``: out-of-range indexing raises IndexError instead of being undefined.
    ``fastmath``: float operations may be reassociated (vectorised reductions).
    """

    boundscheck: bool = False
    fastmath: bool = False

    @property
    def fingerprint(self) -> str:
        return digest("options", str(self.boundscheck), str(self.fastmath))

    def as_text(self) -> str:
        return f"boundscheck={self.boundscheck}, fastmath={self.fastmath}"


@attrs.frozen(eq=False)
class Definition:
    """The first stage: a plain Python function plus its compile options."""

    function: Callable[..., object]
    options: JitOptions = JitOptions()

    @property
    def name(self) -> str:
        return self.function.__qualname__

    def source(self) -> str:
        try:
            return inspect.getsource(self.function)
        except (OSError, TypeError):
            return ""

    @property
    def fingerprint(self) -> str:
        """The definition's own text and options (callees are covered from the AST on)."""
        fn = self.function
        return digest("definition", fn.__module__, fn.__qualname__, self.source(),
                      self.options.fingerprint)

    def as_text(self) -> str:
        return f"# {self.function.__module__}.{self.name} ({self.options.as_text()})\n" \
               + self.source()

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Definition) and self.function is other.function
                and self.options == other.options)

    def __hash__(self) -> int:
        return hash((id(self.function), self.options))
