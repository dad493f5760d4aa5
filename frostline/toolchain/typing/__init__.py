"""The typing step: Closure -> TypedProgram.

Every (function, argument types) pair becomes one typed instance; local
variables take the unified type of everything assigned to them.  This package
is the only place where type rules live: code generation reads the types
recorded here.

- ``rules``: the rules themselves (operators, constants, casts, call binding);
- ``program``: the whole program to a fixed point (``infer_types``);
- ``function``: one function instance, statement by statement;
- ``calls``: calls of program functions, builtins and library functions.
"""

from frostline.toolchain.typing.program import ProgramTyper, infer_types

__all__ = ["ProgramTyper", "infer_types"]
