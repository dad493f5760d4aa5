"""ProgramAST: the parsed functions of a program with every outside name resolved.

The frontend IR is Python's own ``ast`` for the function bodies (kept as source
text, so the stage stays immutable and picklable), plus a table per function
that freezes what each free name referred to at parse time: a constant, an
array, a module, a builtin, another function of the program, an exception
class or a frostline type.
"""

from __future__ import annotations

import ast
import functools
import os
import threading

import attrs
import numpy as np

from frostline.fingerprint import digest, digest_all
from frostline.stages.definition import JitOptions


@attrs.frozen
class Constant:
    """A number, bool, None or (nested) tuple of them, frozen into the code."""

    value: object

    @property
    def fingerprint(self) -> str:
        return digest("const", _value_key(self.value))

    def describe(self) -> str:
        return f"constant {self.value!r}"


def _value_key(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_value_key(v) for v in value) + ")"
    if isinstance(value, float):
        return f"float:{value.hex()}"
    return f"{type(value).__name__}:{value!r}"


@attrs.frozen(eq=False)
class ArrayConstant:
    """A NumPy array frozen by content (dtype, shape and bytes, C order)."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    @classmethod
    def from_array(cls, array: np.ndarray) -> ArrayConstant:
        c = np.ascontiguousarray(array)
        return cls(c.dtype.str, tuple(c.shape), c.tobytes())

    def to_array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape)

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest("array", self.dtype, repr(self.shape), self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayConstant) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def describe(self) -> str:
        return f"array {np.dtype(self.dtype).name}{list(self.shape)}"


@attrs.frozen
class ModuleRef:
    """A module the kernel reaches through attributes: ``math``, ``numpy``, ``frostline``."""

    name: str

    @property
    def fingerprint(self) -> str:
        return digest("module", self.name)

    def describe(self) -> str:
        return f"module {self.name}"


@attrs.frozen
class BuiltinRef:
    """A function the language knows by name: ``builtins.abs``, ``math.sqrt``, ``numpy.float32``."""

    name: str

    @property
    def fingerprint(self) -> str:
        return digest("builtin", self.name)

    def describe(self) -> str:
        return f"builtin {self.name}"


@attrs.frozen
class FunctionRef:
    """Another function of the program, by its id in ``ProgramAST.functions``."""

    fid: str

    @property
    def fingerprint(self) -> str:
        return digest("function", self.fid)

    def describe(self) -> str:
        return f"function {self.fid}"


@attrs.frozen
class ExceptionRef:
    """An exception class a ``raise`` names, by module and qualified name."""

    module: str
    qualname: str

    @property
    def fingerprint(self) -> str:
        return digest("exception", self.module, self.qualname)

    def describe(self) -> str:
        return f"exception {self.module}.{self.qualname}"


@attrs.frozen
class TypeRef:
    """A frostline type used as a cast or annotation, e.g. ``fl.float32``."""

    type_name: str

    @property
    def fingerprint(self) -> str:
        return digest("type", self.type_name)

    def describe(self) -> str:
        return f"type {self.type_name}"


@attrs.frozen
class Unsupported:
    """A name whose value kernels cannot use; typing reports it where it is used."""

    type_name: str
    #: The qualified name of a function of NumPy, the standard library or another
    #: installed library (``numpy.eye``): kernels never compile those.
    library: str = ""

    @property
    def fingerprint(self) -> str:
        return digest("unsupported", self.type_name, self.library)

    def describe(self) -> str:
        return f"unsupported {self.type_name}"


GlobalValue = (Constant | ArrayConstant | ModuleRef | BuiltinRef | FunctionRef | ExceptionRef
               | TypeRef | Unsupported)


#: CPython 3.11 before 3.11.8 keeps the AST validator's recursion depth per interpreter,
#: so two threads parsing at once can fail with "SystemError: AST constructor recursion
#: depth mismatch": frostline parses one source at a time.
_parse_lock = threading.Lock()


def _new_parse_lock() -> None:  # a forked child: the lock may be held by a thread gone
    global _parse_lock
    _parse_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_parse_lock)


def parse_source(source: str) -> ast.Module:
    """``ast.parse``, one thread at a time (see ``_parse_lock``)."""
    with _parse_lock:
        return ast.parse(source)


@functools.lru_cache(maxsize=512)
def _parse_function(source: str) -> ast.FunctionDef:
    tree = parse_source(source)
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def nesting(tree: ast.AST) -> int:
    """How deeply the AST under ``tree`` nests (computed without recursion)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def assigned_names(fn: ast.FunctionDef) -> frozenset[str]:
    """Names a function body binds (its locals, besides the parameters), as Python's
    scoping counts them: stores, and the names of nested definitions, imports and
    exception handlers (kernels refuse those, at the statement that makes them)."""
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node is not fn:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return frozenset(names)


@attrs.frozen
class FunctionAST:
    """One parsed function: its source, where it came from and what its free names mean.

    ``source`` is the dedented function text (decorators included); ``line_offset``
    and ``col_offset`` map positions in it back to the original file.  ``options``
    are the function's own when it is an ``fl.jit`` function called by another;
    None means it follows the program's options.
    """

    fid: str
    name: str
    filename: str
    line_offset: int
    col_offset: int
    source: str
    params: tuple[str, ...]
    defaults: tuple[tuple[str, Constant], ...]
    names: tuple[tuple[str, GlobalValue], ...]
    options: JitOptions | None = None

    @property
    def tree(self) -> ast.FunctionDef:
        """The Python AST of the function (shared; never mutate it)."""
        return _parse_function(self.source)

    @functools.cached_property
    def nesting(self) -> int:
        """How deeply the function's AST nests: what its recursive walks need
        (``toolchain/depth.py``)."""
        return nesting(self.tree)

    @functools.cached_property
    def local_names(self) -> frozenset[str]:
        """Parameters and every name the function assigns: Python's local scope."""
        return frozenset(self.params) | assigned_names(self.tree)

    def lookup(self, name: str) -> GlobalValue | None:
        return dict(self.names).get(name)

    def default(self, name: str) -> Constant | None:
        return dict(self.defaults).get(name)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Normalised AST (no positions) plus every resolved name's value."""
        body = ast.dump(self.tree, include_attributes=False)
        parts = [self.fid, body]
        parts += [f"{k}={v.fingerprint}" for k, v in self.defaults]
        parts += [f"{k}={v.fingerprint}" for k, v in self.names]
        parts.append(self.options.fingerprint if self.options else "program options")
        return digest("function-ast", *parts)

    def position(self, node: ast.AST) -> tuple[int, int, str]:
        """File line, column and source line of a node of ``tree``."""
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        lines = self.source.splitlines()
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        return (lineno + self.line_offset, col + self.col_offset,
                " " * self.col_offset + line)

    def as_text(self) -> str:
        lines = [f"# {self.fid}  ({self.filename}:{self.line_offset + 1})"]
        for name, value in self.names:
            lines.append(f"#   {name}: {value.describe()}")
        lines.append(ast.unparse(self.tree))
        return "\n".join(lines)


@attrs.frozen
class ProgramAST:
    """The AST stage: the entry function and every function it reaches, with options."""

    entry: str
    functions: tuple[FunctionAST, ...]
    options: JitOptions

    def function(self, fid: str) -> FunctionAST:
        for fn in self.functions:
            if fn.fid == fid:
                return fn
        raise KeyError(fid)

    @property
    def entry_function(self) -> FunctionAST:
        return self.function(self.entry)

    @functools.cached_property
    def fingerprint(self) -> str:
        return digest_all(["program-ast", self.entry, self.options.fingerprint]
                          + [fn.fingerprint for fn in self.functions])

    def as_text(self) -> str:
        return f"# entry {self.entry}; {self.options.as_text()}\n\n" + "\n\n".join(
            fn.as_text() for fn in self.functions)


def constant_index(node: ast.expr) -> int | None:
    """The value of an integer literal index (``0``, ``-1``), else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    return None


def dotted_name(node: ast.expr) -> str | None:
    """``np.sqrt`` for ``Attribute(Name('np'), 'sqrt')``, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None
