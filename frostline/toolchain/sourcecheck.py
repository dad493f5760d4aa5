"""Whether a function's source text is still the function that runs.

frostline compiles a kernel from its source, which ``inspect`` reads from the
file (through ``linecache``).  Edit the module after it was imported, as an
editor saving a file during a notebook session does, and the file no longer
holds the function the interpreter runs: compiling it would silently give
another function's results.  So the source is compiled again by CPython and
its code object compared with the function's own: bytecode, constants, names
and argument counts, nested code objects recursively; positions, the file
name and the qualified name are left out, so moving a function down a few
lines does not count as a change.

CPython 3.11 compiles ``mod.f(x)`` differently when ``mod`` is imported at module
level (an attribute load, not a method load), so the function is compiled after
``import`` statements naming what the file imports at its top level.
"""

from __future__ import annotations
import __future__

import functools
import linecache
import symtable
import textwrap
import types
from collections.abc import Callable

#: The compiler flags of ``from __future__ import ...``: a code object carries them.
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag
#: Flags that change what a code object does (generator, varargs ...), not where it sits.
_MEANINGFUL_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200


def source_matches(fn: Callable[..., object], source: str) -> bool:
    """Whether ``source`` (the function's dedented text, decorators included) compiles to
    the code ``fn`` runs.  True when it cannot be told (the text does not compile alone)."""
    code: types.CodeType = fn.__code__  # type: ignore[attr-defined]
    text = source
    imported = _imported_names("".join(linecache.getlines(code.co_filename)),
                               code.co_filename)
    if code.co_freevars:  # a closure: give its free variables an enclosing function
        cells = " = ".join(code.co_freevars)
        text = f"def __frostline_outer__():\n    {cells} = None\n" + textwrap.indent(source,
                                                                                    "    ")
    if imported:
        text = "".join(f"import {name}\n" for name in imported) + text
    flags = code.co_flags & _FUTURE_FLAGS
    try:
        compiled = compile(text, code.co_filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True  # (too deep for CPython's compiler here: the walks after tell)
    if any(_same(found, code) for found in _functions_named(compiled, code.co_name)):
        return True
    try:
        rewritten = _as_pytest_rewrites(fn, text, flags)
    except Exception:  # not the pytest we know: it cannot be told
        return True
    return rewritten is not None and any(_same(found, code) for found in
                                         _functions_named(rewritten, code.co_name))


def _as_pytest_rewrites(fn: Callable[..., object], text: str, flags: int
                        ) -> types.CodeType | None:
    """The text compiled as pytest compiles test modules (rewriting ``assert``), when
    ``fn`` comes from one; kernels defined in test files are common."""
    if "@pytest_ar" not in getattr(fn, "__globals__", {}):
        return None
    import ast

    from _pytest.assertion.rewrite import rewrite_asserts

    tree = ast.parse(text)
    rewrite_asserts(tree, text.encode(), fn.__code__.co_filename)  # type: ignore
    return compile(tree, fn.__code__.co_filename, "exec", flags=flags, dont_inherit=True)


@functools.lru_cache(maxsize=64)
def _imported_names(module_source: str, filename: str) -> tuple[str, ...]:
    """The names a module's top level binds by ``import`` (what CPython's compiler checks)."""
    try:
        table = symtable.symtable(module_source, filename, "exec")
    except (SyntaxError, ValueError):
        return ()
    return tuple(sorted(s.get_name() for s in table.get_symbols()
                        if s.is_imported() and s.get_name().isidentifier()))


def _functions_named(code: types.CodeType, name: str) -> list[types.CodeType]:
    found = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name:
                found.append(const)
            found.extend(_functions_named(const, name))
    return found


def _same(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars, a.co_argcount,
            a.co_posonlyargcount, a.co_kwonlyargcount, a.co_flags & _MEANINGFUL_FLAGS) != \
            (b.co_code, b.co_names, b.co_varnames, b.co_freevars, b.co_cellvars, b.co_argcount,
             b.co_posonlyargcount, b.co_kwonlyargcount, b.co_flags & _MEANINGFUL_FLAGS):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    return all(_same_constant(x, y) for x, y in zip(a.co_consts, b.co_consts, strict=True))


def _same_constant(x: object, y: object) -> bool:
    if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
        return _same(x, y)
    if type(x) is not type(y):
        return False  # 1, 1.0 and True are equal, but not the same constant
    if isinstance(x, tuple | frozenset):
        items_x, items_y = (list(x), list(y)) if isinstance(x, tuple) else (  # type: ignore
            sorted(map(repr, x)), sorted(map(repr, y)))  # type: ignore[arg-type]
        return len(items_x) == len(items_y) and all(
            _same_constant(p, q) for p, q in zip(items_x, items_y, strict=True))
    if isinstance(x, float | complex):
        return repr(x) == repr(y)  # -0.0 is not 0.0, and nan is nan
    return x == y
