"""What a ``prange`` loop may do, and what its body shares: checks on the AST alone.

Iterations of a ``prange`` loop are independent, so its body is outlined into a
task (``backends/llvm/prange``) that sees:

- *captured* variables: read in the body, never assigned there; each task
  gets their values as they were when the loop started;
- *private* variables: assigned in the body (the loop variable too); every
  iteration has its own, so reading one before this iteration assigned it
  would read an earlier iteration's value (a loop-carried dependency), and
  after the loop one has no single value: both are errors;
- *reductions*: a scalar defined before the loop and only updated in the body
  by ``s += e``, ``s -= e``, ``s *= e``, ``s |= e``, ``s &= e``, ``s ^= e``,
  ``s = min(s, e)`` or ``s = max(s, e)`` (either argument order), one kind of
  update per variable (``+=`` and ``-=`` mix); each task folds a partial
  result from the operation's identity, and the partials are combined in task
  order after the loop.

A ``prange`` body cannot ``return`` or ``break`` out of the loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

import attrs

from frostline.errors import CompileError
from frostline.stages.ast import BuiltinRef, FunctionAST, dotted_name

NAME = "frostline.prange"

#: Augmented operators of reductions, by the combining operation they belong to.
_AUGMENTED = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.BitOr: "or",
              ast.BitAnd: "and", ast.BitXor: "xor"}
_EXTREMES = {"builtins.min": "min", "builtins.max": "max"}


@attrs.frozen
class Reduction:
    """A reduction variable and how its partials combine: 'add' (``+=``/``-=``), 'mul',
    'or', 'and', 'xor', 'min' or 'max'."""

    name: str
    op: str


@attrs.frozen
class ParallelLoop:
    """What a task shares with the launching frame (see the module's docstring): the
    captured variables and the reductions; every other variable it has is private."""

    captured: tuple[str, ...]
    reductions: tuple[Reduction, ...]


def is_prange(fn: FunctionAST, loop: ast.For) -> bool:
    """Whether ``loop`` iterates over ``prange(...)`` (``fl.prange``, ``prange``...)."""
    call = loop.iter
    if not isinstance(call, ast.Call):
        return False
    name = dotted_name(call.func)
    if not name or name.split(".")[0] in fn.local_names:
        return False
    return fn.lookup(name) == BuiltinRef(NAME)


def _fail(fn: FunctionAST, node: ast.AST, message: str) -> CompileError:
    lineno, col, line = fn.position(node)
    return CompileError(message, fn.filename, lineno, col, line)


def _loads(node: ast.AST) -> Iterable[ast.Name]:
    return (n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _stores(stmts: list[ast.stmt]) -> set[str]:
    """The names ``stmts`` assign (``x += e`` too: its target is a Store)."""
    return {n.id for s in stmts for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _reduction_of(fn: FunctionAST, stmt: ast.stmt) -> tuple[str, str, ast.expr] | None:
    """(variable, combining op, the other operand) if ``stmt`` has a reduction's form."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) \
            and type(stmt.op) in _AUGMENTED:
        return stmt.target.id, _AUGMENTED[type(stmt.op)], stmt.value
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)):
        return None
    call, name = stmt.value, stmt.targets[0].id
    func = dotted_name(call.func)
    op = _EXTREMES.get(getattr(fn.lookup(func or ""), "name", ""))
    if op is None or (func or "").split(".")[0] in fn.local_names or call.keywords \
            or len(call.args) != 2:
        return None
    mine = [isinstance(a, ast.Name) and a.id == name for a in call.args]
    if mine.count(True) != 1:
        return None
    return name, op, call.args[mine.index(False)]


def analyse(fn: FunctionAST, loop: ast.For) -> ParallelLoop:
    """The body's variables; a CompileError where the loop is not independent."""
    body = loop.body
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, ast.Return):
            raise _fail(fn, node, "a prange loop's body cannot return: its iterations run "
                        "in parallel")
    _no_break(fn, body)
    target = loop.target.id if isinstance(loop.target, ast.Name) else ""
    reductions = _reductions(fn, body, target)
    assigned = _stores(body) | {target}
    private = assigned - set(reductions)
    updates = {k: v for _, found in reductions.values() for k, v in found.items()}
    _Carried(fn, private, updates).block(body, {target})
    after = _read_after(fn.tree.body, loop)
    for name in sorted(private & set(after)):
        raise _fail(fn, after[name],
                    f"'{name}' is assigned in the body of a prange loop, where every "
                    "iteration has its own, so it has no value after the loop; assign it "
                    "after the loop, or use another name in the loop")
    captured = sorted({n.id for s in body for n in _loads(s)} - assigned)
    return ParallelLoop(tuple(c for c in captured if c in fn.local_names),
                        tuple(Reduction(k, v[0]) for k, v in sorted(reductions.items())))


def _no_break(fn: FunctionAST, stmts: list[ast.stmt]) -> None:
    """``break`` that would leave the prange loop (not an inner loop)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Break):
            raise _fail(fn, stmt, "a prange loop cannot break: its iterations run in parallel")
        if isinstance(stmt, ast.If):
            _no_break(fn, stmt.body)
            _no_break(fn, stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.While)):
            _no_break(fn, stmt.orelse)


def _reductions(fn: FunctionAST, body: list[ast.stmt], target: str
                ) -> dict[str, tuple[str, dict[int, ast.expr]]]:
    """The reduction variables of a body: their combining operation, and their updates
    (statement id: the operand combined)."""
    forms: dict[str, set[str]] = {}
    updates: dict[str, dict[int, ast.expr]] = {}
    own: set[int] = set()  # the Name nodes an update reads and writes its variable with
    statements = [n for s in body for n in ast.walk(s) if isinstance(n, ast.stmt)]
    for stmt in statements:
        form = _reduction_of(fn, stmt)
        if form is None:
            continue
        name, op, other = form
        forms.setdefault(name, set()).add(op)
        updates.setdefault(name, {})[id(stmt)] = other
        value = stmt.value if isinstance(stmt, ast.Assign) else None
        names = [stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target]
        if isinstance(value, ast.Call):
            names += [a for a in value.args if isinstance(a, ast.Name) and a.id == name]
        own.update(id(n) for n in names)
    nodes = [n for s in body for n in ast.walk(s) if isinstance(n, ast.Name)]
    # Assigned otherwise in the body (``s = 0.0`` first): a private accumulator.
    private = {n.id for n in nodes if isinstance(n.ctx, ast.Store) and id(n) not in own}
    found = {name: ops for name, ops in forms.items() if name not in private | {target}}
    for node in nodes:
        if node.id in found and id(node) not in own:
            raise _fail(fn, node, f"'{node.id}' is a reduction variable of this prange loop "
                        "(updated as s += e, s = min(s, e)...), so its value inside the loop "
                        "is partial: the body cannot otherwise read it")
    result = {}
    for name, ops in found.items():
        if len(ops) > 1:
            raise _fail(fn, [n for n in nodes if n.id == name][-1],
                        f"reduction variable '{name}' is updated with different operations "
                        f"({', '.join(sorted(ops))}) in one prange loop")
        result[name] = (ops.pop(), updates[name])
    return result


class _Carried:
    """Walks a body in order with the private variables surely assigned so far in the
    iteration; a read of one that is not is a loop-carried dependency."""

    def __init__(self, fn: FunctionAST, private: set[str], updates: dict[int, ast.expr]):
        self.fn = fn
        self.private = private
        self.updates = updates  # reduction updates: only their operand is read

    def reads(self, node: ast.AST | None, defined: set[str]) -> None:
        if node is None:
            return
        for read in _loads(node):
            if read.id in self.private and read.id not in defined:
                raise _fail(self.fn, read,
                            f"'{read.id}' is read before this iteration of the prange loop "
                            "assigns it, so it would carry a value from an earlier "
                            "iteration: prange iterations are independent (reductions are "
                            "s += e, s *= e, s |= e, s = min(s, e) and the like)")

    def block(self, stmts: list[ast.stmt], defined: set[str]) -> set[str] | None:
        """What is surely assigned after ``stmts`` (None: they never fall through)."""
        defined = set(defined)
        for stmt in stmts:
            after = self.stmt(stmt, defined)
            if after is None:
                return None
            defined = after
        return defined

    def stmt(self, stmt: ast.stmt, defined: set[str]) -> set[str] | None:
        if id(stmt) in self.updates:
            self.reads(self.updates[id(stmt)], defined)
            return defined
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            self.reads(stmt.value, defined)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    self.reads(target, defined)  # a[i] = ..., a tuple of names has none
            return defined | _stores([stmt])
        if isinstance(stmt, ast.AugAssign):
            self.reads(stmt.value, defined)
            if isinstance(stmt.target, ast.Name):
                self.reads(ast.Name(stmt.target.id, ast.Load(), lineno=stmt.lineno,
                                    col_offset=stmt.col_offset), defined)
            else:
                self.reads(stmt.target, defined)
            return defined | _stores([stmt])
        if isinstance(stmt, ast.If):
            self.reads(stmt.test, defined)
            branches = [self.block(stmt.body, defined), self.block(stmt.orelse, defined)]
            live = [b for b in branches if b is not None]
            return set.intersection(*live) if live else None
        if isinstance(stmt, ast.For):
            self.reads(stmt.iter, defined)
            self.block(stmt.body, defined | _stores([ast.Assign([stmt.target], stmt.iter)]))
            self.block(stmt.orelse, defined)
            return defined
        if isinstance(stmt, ast.While):
            self.reads(stmt.test, defined)
            self.block(stmt.body, defined)
            self.block(stmt.orelse, defined)
            return defined
        self.reads(stmt, defined)
        return None if isinstance(stmt, (ast.Raise, ast.Continue)) else defined


def _read_after(stmts: list[ast.stmt], loop: ast.For) -> dict[str, ast.Name]:
    """The names (first read) that code after ``loop`` may read before assigning them."""
    found = _search(stmts, loop)
    return found if found is not None else {}


def _search(stmts: list[ast.stmt], loop: ast.For) -> dict[str, ast.Name] | None:
    for k, stmt in enumerate(stmts):
        if stmt is loop:
            return _exposed(stmts[k + 1:], set())
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if not isinstance(inner, list):
                continue
            found = _search(inner, loop)
            if found is None:
                continue
            later = _exposed(stmts[k + 1:], set())
            if isinstance(stmt, (ast.For, ast.While)) and field == "body":
                again = _exposed(stmt.body, set())  # the next time round
                if isinstance(stmt, ast.While):
                    again = {n.id: n for n in _loads(stmt.test)} | again
                later = again | later
            return later | found
    return None


def _exposed(stmts: list[ast.stmt], killed: set[str]) -> dict[str, ast.Name]:
    """Reads in ``stmts`` (run in order) of names not assigned before them there."""
    out: dict[str, ast.Name] = {}

    def note(node: ast.AST | None, dead: set[str]) -> None:
        for read in (_loads(node) if node is not None else ()):
            if read.id not in dead:
                out.setdefault(read.id, read)

    killed = set(killed)
    for stmt in stmts:
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            note(stmt.value, killed)
            killed |= _stores([stmt])
        elif isinstance(stmt, ast.For):
            note(stmt.iter, killed)
            inner = killed | _stores([ast.Assign([stmt.target], stmt.iter)])
            for key, node in {**_exposed(stmt.body, inner), **_exposed(stmt.orelse, killed)
                              }.items():
                out.setdefault(key, node)
        elif isinstance(stmt, (ast.While, ast.If)):
            note(stmt.test, killed)
            for key, node in {**_exposed(stmt.body, killed), **_exposed(stmt.orelse, killed)
                              }.items():
                out.setdefault(key, node)
        else:
            note(stmt, killed)
            if isinstance(stmt, ast.Return):
                break
    return out
