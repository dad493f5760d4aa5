"""The parse step: Definition -> ProgramAST.

Reads each function's source, finds its free names (plain and dotted, such
as ``np.sqrt`` or ``helpers.kernel``), and freezes what they refer to.  Python
functions and ``fl.jit`` functions that are called are parsed too, transitively,
so the program holds every function it can reach.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import os
import sysconfig
import textwrap
import types
from collections.abc import Callable

import numpy as np

from frostline import parallel
from frostline import types as fltypes
from frostline.errors import CompileError, register_exception
from frostline.stages.ast import (
    ArrayConstant,
    BuiltinRef,
    Constant,
    ExceptionRef,
    FunctionAST,
    FunctionRef,
    GlobalValue,
    ModuleRef,
    ProgramAST,
    TypeRef,
    Unsupported,
    assigned_names,
    dotted_name,
    nesting,
    parse_source,
)
from frostline.stages.definition import Definition, JitOptions
from frostline.toolchain.depth import frames_for, room, too_deep_message
from frostline.toolchain.library import KNOWN_NAMES
from frostline.toolchain.sourcecheck import source_matches

_MODULES = {"builtins": builtins, "math": math, "numpy": np}
#: The supported function objects (kept alive here, so their ids are stable) and their names.
_KNOWN_OBJECTS = [(getattr(_MODULES[m], n), f"{m}.{n}")
                  for m, n in (name.split(".") for name in KNOWN_NAMES)
                  if hasattr(_MODULES[m], n)]
_KNOWN: dict[int, str] = {}
for _obj, _name in _KNOWN_OBJECTS:
    _KNOWN.setdefault(id(_obj), _name)
_KNOWN[id(parallel.prange)] = "frostline.prange"


def _builtin_name(obj: object) -> str | None:
    return _KNOWN.get(id(obj))


def _python_function(obj: object) -> Callable[..., object] | None:
    """The Python function behind a callee: a plain function or an ``fl.jit`` dispatcher."""
    inner = getattr(obj, "__frostline_function__", None)
    if inner is not None:
        return inner  # type: ignore[no-any-return]
    if isinstance(obj, types.FunctionType):
        return obj
    return None


def callee_function(obj: object) -> tuple[Callable[..., object], JitOptions | None] | None:
    """The Python function and jit options of a value a kernel would call as a kernel
    (a plain function or an ``fl.jit`` dispatcher), or None (supported builtins too)."""
    if _builtin_name(obj) is not None:
        return None
    fn = _python_function(obj)
    return None if fn is None else (fn, getattr(obj, "options", None))


class _FunctionReader:
    """Reads one function and resolves its free names."""

    def __init__(self, fn: Callable[..., object], fid: str, options: JitOptions | None):
        self.fn = fn
        self.fid = fid
        self.options = options
        self.callees: list[_Callee] = []
        code = fn.__code__  # type: ignore[attr-defined]
        self.filename = code.co_filename
        if fn.__name__ == "<lambda>":
            raise CompileError("lambda functions are not supported; define the kernel with def",
                               self.filename, code.co_firstlineno)
        try:
            lines, first = inspect.getsourcelines(fn)
        except (OSError, TypeError) as exc:
            raise CompileError(f"cannot read the source of {fn.__qualname__}: {exc}",
                               self.filename, code.co_firstlineno) from None
        raw = "".join(lines)
        self.source = textwrap.dedent(raw)
        self.col_offset = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        self.line_offset = first - 1
        try:
            module = parse_source(self.source)
        except (RecursionError, MemoryError):
            raise CompileError(f"{fn.__qualname__} is nested too deeply for Python's parser "
                               "in this thread", self.filename, first) from None
        except SyntaxError as exc:
            raise CompileError(f"syntax error: {exc.msg}", self.filename,
                               (exc.lineno or 1) + self.line_offset, (exc.offset or 1) - 1,
                               exc.text or "") from None
        node = module.body[0] if module.body else None
        if isinstance(node, ast.AsyncFunctionDef):
            raise self.error("async functions are not supported in kernels", node)
        if not isinstance(node, ast.FunctionDef):
            raise CompileError(f"{fn.__qualname__} is not a plain function definition",
                               self.filename, first)
        if not source_matches(fn, self.source):
            raise self.error(f"the source of {fn.__qualname__} in {self.filename} has changed "
                             f"since {fn.__name__} was defined: the file no longer holds the "
                             "function that runs, so compiling it would give other results; "
                             "reload the module (or restart) to compile the new code", node)
        self.tree = node

    def error(self, message: str, node: ast.AST) -> CompileError:
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        lines = self.source.splitlines()
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        return CompileError(message, self.filename, lineno + self.line_offset,
                            col + self.col_offset, " " * self.col_offset + line)

    def read(self, fid_of: Callable[[Callable[..., object]], str]) -> FunctionAST:
        args = self.tree.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.error("only plain positional parameters are supported", self.tree)
        params = tuple(a.arg for a in args.args)
        defaults: list[tuple[str, Constant]] = []
        for name, value in zip(params[len(params) - len(args.defaults):],
                               self.fn.__defaults__ or (), strict=True):  # type: ignore
            frozen = self.freeze(value)
            if not isinstance(frozen, Constant):
                raise self.error(f"the default value of '{name}' must be a number or tuple",
                                 self.tree)
            defaults.append((name, frozen))
        local = set(params) | assigned_names(self.tree)
        resolved: dict[str, GlobalValue] = {}
        for dotted, node in _free_references(self.tree, local):
            if dotted in resolved:
                continue
            value = self.resolve(dotted, node)
            if value is None:
                continue
            if isinstance(value, _Callee):
                resolved[dotted] = FunctionRef(fid_of(value.fn))
                self.callees.append(value)
            else:
                resolved[dotted] = value
        return FunctionAST(
            fid=self.fid, name=self.fn.__name__, filename=self.filename,
            line_offset=self.line_offset, col_offset=self.col_offset, source=self.source,
            params=params, defaults=tuple(defaults), names=tuple(sorted(resolved.items())),
            options=self.options)

    def lookup(self, name: str) -> tuple[bool, object]:
        code = self.fn.__code__  # type: ignore[attr-defined]
        if name in code.co_freevars:
            cell = self.fn.__closure__[code.co_freevars.index(name)]  # type: ignore
            try:
                return True, cell.cell_contents
            except ValueError:
                return False, None
        glb = self.fn.__globals__  # type: ignore[attr-defined]
        if name in glb:
            return True, glb[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None

    def resolve(self, dotted: str, node: ast.AST) -> GlobalValue | _Callee | None:
        """What a free (possibly dotted) name means; None when a shorter prefix covers it."""
        head, *rest = dotted.split(".")
        found, value = self.lookup(head)
        if not found:
            raise self.error(f"name '{head}' is not defined", node)
        for attr in rest:
            if not isinstance(value, types.ModuleType):
                return None  # an attribute of a value (a.shape): typing resolves it
            if not hasattr(value, attr):
                raise self.error(f"module '{value.__name__}' has no attribute '{attr}'", node)
            value = getattr(value, attr)
        frozen = self.freeze(value)
        return Unsupported(type(value).__name__) if frozen is None else frozen

    def freeze(self, value: object) -> GlobalValue | _Callee | None:
        builtin = _builtin_name(value)
        if builtin is not None:
            return BuiltinRef(builtin)
        library = _library_function(value, self.fn.__module__)
        if library is not None:
            return Unsupported(type(value).__name__, library)
        if isinstance(value, types.ModuleType):
            return ModuleRef(value.__name__)
        if isinstance(value, (fltypes.ScalarType, fltypes.ArrayType)):
            return TypeRef(str(value))
        callee = callee_function(value)
        if callee is not None:
            return _Callee(*callee)
        if isinstance(value, type) and issubclass(value, BaseException):
            register_exception(value)
            return ExceptionRef(value.__module__, value.__qualname__)
        if _is_constant(value):
            return Constant(value)
        if isinstance(value, np.ndarray):
            if fltypes.scalar_from_dtype(value.dtype) is None or value.ndim == 0:
                return None
            return ArrayConstant.from_array(value)
        return None


#: Where the standard library and installed packages live.
_LIBRARY_DIRS = tuple(sorted({os.path.realpath(p) + os.sep for key in ("stdlib", "platstdlib",
                                                                      "purelib", "platlib")
                              if (p := sysconfig.get_paths().get(key))}))


def _library_function(value: object, caller_module: str) -> str | None:
    """``module.qualname`` of a function of NumPy, the standard library or an installed
    package other than the caller's own, which kernels never compile; else None."""
    if getattr(value, "__frostline_function__", None) is not None:
        return None  # an fl.jit function: compiled wherever it lives
    module = getattr(value, "__module__", None)
    if not callable(value) or not isinstance(module, str) or isinstance(value, type):
        return None
    name = f"{module}.{getattr(value, '__qualname__', type(value).__name__)}"
    top = module.split(".")[0]
    if top == caller_module.split(".")[0]:
        return None
    if top in ("numpy", "scipy"):
        return name
    code = getattr(value, "__code__", None)
    if code is None:
        return None
    path = os.path.realpath(code.co_filename)
    return name if path.startswith(_LIBRARY_DIRS) else None


class _Callee:
    """A called function, with its own options when it is an ``fl.jit`` function."""

    def __init__(self, fn: Callable[..., object], options: JitOptions | None):
        self.fn = fn
        self.options = options


def _is_constant(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float, np.bool_)):
        return True
    if isinstance(value, np.generic):
        return fltypes.scalar_from_dtype(value.dtype) is not None
    if isinstance(value, tuple):
        return all(_is_constant(v) and v is not None for v in value)
    return False


_OWN_SCOPES = (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ListComp,
               ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _free_references(fn: ast.FunctionDef, local: set[str]) -> list[tuple[str, ast.AST]]:
    """Every free name and the longest dotted chain on it, in source order."""
    found: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            dotted = dotted_name(node)
            if dotted is not None and dotted.split(".")[0] not in local:
                parts = dotted.split(".")
                for i in range(1, len(parts) + 1):
                    found.append((".".join(parts[:i]), node))
                return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and node.id not in local:
            found.append((node.id, node))
            return
        if isinstance(node, _OWN_SCOPES):
            return  # typing rejects these; their names are not the kernel's
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in fn.body:
        visit(stmt)
    for ann in (a.annotation for a in fn.args.args):
        if ann is not None:
            visit(ann)
    return found


def parse(definition: Definition) -> ProgramAST:
    """Parse a definition and every function it calls into a ProgramAST."""
    fids: dict[int, str] = {}
    used: set[str] = set()
    keep: list[Callable[..., object]] = []

    def fid_of(fn: Callable[..., object]) -> str:
        if id(fn) not in fids:
            base = f"{fn.__module__}:{fn.__qualname__}"
            fid, n = base, 1
            while fid in used:
                n += 1
                fid = f"{base}#{n}"
            used.add(fid)
            fids[id(fn)] = fid
            keep.append(fn)
        return fids[id(fn)]

    entry = fid_of(definition.function)
    queue = [_Callee(definition.function, None)]
    functions: dict[str, FunctionAST] = {}
    while queue:
        callee = queue.pop()
        fid = fid_of(callee.fn)
        if fid in functions:
            continue
        reader = _FunctionReader(callee.fn, fid, callee.options)
        depth = nesting(reader.tree)
        with room(frames_for([depth]), lambda capacity, r=reader, d=depth: r.error(
                too_deep_message(r.fn.__name__, d, capacity), r.tree)):
            functions[fid] = reader.read(fid_of)
            functions[fid].fingerprint  # noqa: B018 - dumping the AST walks it too
        queue.extend(reader.callees)
    return ProgramAST(entry, tuple(functions[k] for k in sorted(functions)),
                      definition.options)
