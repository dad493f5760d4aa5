"""The ``RUN`` granularity: ``f.run(*batched_args)``, a batch of calls in one native loop.

Every array argument carries a leading batch axis: call ``k`` gets ``a[k]`` (a
number for a 1-D array, a row view otherwise).  A scalar argument is given once
and passed to every call.  The native loop is a *driver* kernel written in the
kernel language and compiled like any other jit function, with the kernel as
its callee (so both are typed, optimised and cached together)::

    def run_step(n, out0, a, dt):
        for i in range(n):
            out0[i] = step(a[i], dt)

Its source lives in ``linecache`` under a ``<frostline-run ...>`` file name, so
errors in it point at real lines.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from frostline import types as t
from frostline.modes import ExecutionMode, batch_steps

if TYPE_CHECKING:
    from frostline.dispatcher import Dispatcher
    from frostline.stages.executable import Executable


class Batch:
    """The arguments of one ``f.run`` call: which are batched, and the batch length.

    A plain class with slots, not attrs: ``f.run`` makes one per call, and its
    fixed cost is what a small batch pays.
    """

    __slots__ = ("function", "params", "args", "batched", "n")

    def __init__(self, function: str, params: tuple[str, ...], args: tuple[Any, ...],
                 batched: tuple[bool, ...], n: int):
        self.function = function
        self.params = params
        self.args = args
        self.batched = batched
        self.n = n

    @classmethod
    def of(cls, function: str, params: Sequence[str], args: Sequence[Any]) -> Batch:
        """Check the arguments: arrays share one batch length; lists become arrays."""
        converted, batched = [], []
        n: int | None = None
        first = ""
        for name, value in zip(params, args, strict=True):
            if isinstance(value, (list, tuple)):
                try:
                    value = np.asarray(value)
                except ValueError as exc:  # ragged
                    raise ValueError(f"{function}.run() argument '{name}': {exc}") from None
            array = isinstance(value, np.ndarray)
            if array:
                if value.ndim == 0:
                    raise TypeError(f"{function}.run() argument '{name}' is a 0-dimensional "
                                    "array: give a number, or an array with a batch axis")
                if n is None:
                    n, first = value.shape[0], name
                elif value.shape[0] != n:
                    raise ValueError(f"{function}.run() argument '{name}' has a batch of "
                                     f"{value.shape[0]}, but '{first}' has {n}")
            converted.append(value)
            batched.append(array)
        if n is None:
            raise TypeError(f"{function}.run() needs at least one batched argument: an "
                            "array whose first axis runs over the calls")
        return cls(function, tuple(params), tuple(converted), tuple(batched), n)

    def element(self, k: int) -> tuple[Any, ...]:
        """The arguments of call ``k``."""
        return tuple(a[k] if b else a for a, b in zip(self.args, self.batched, strict=True))

    def element_types(self) -> tuple[t.Type, ...]:
        """The frostline types of one call's arguments (without indexing an empty batch)."""
        types = []
        for name, value, batched in zip(self.params, self.args, self.batched, strict=True):
            try:
                if not batched:
                    types.append(t.typeof(value))
                elif self.n:
                    types.append(t.typeof(value[0]))
                else:
                    row = np.empty((2, *value.shape[1:]), value.dtype)[0]
                    types.append(t.typeof(row[()] if row.ndim == 0 else row))
            except TypeError as exc:
                raise TypeError(f"{self.function}.run() argument '{name}': {exc}") from None
        return tuple(types)


def _holds_arrays(ty: t.Type) -> bool:
    return isinstance(ty, t.ArrayType) or (isinstance(ty, t.TupleType) and any(
        _holds_arrays(i) for i in ty.items))


def result_types(result: t.Type, function: str) -> tuple[t.ScalarType, ...]:
    """The per-call results a driver stores: none, one number, or a tuple of numbers."""
    if isinstance(result, t.NoneType):
        return ()
    if isinstance(result, t.ScalarType):
        return (result,)
    if isinstance(result, t.TupleType) and all(isinstance(i, t.ScalarType)
                                               for i in result.items):
        return tuple(result.items)  # type: ignore[arg-type]
    raise TypeError(f"{function}.run() stores numbers or tuples of numbers per call; "
                    f"{function} returns {result}")


def _internal_names(params: Sequence[str], nresults: int) -> dict[str, str]:
    """The driver's own names (count, outputs, loop index, callee, results), chosen so
    that none is a parameter's name: the driver's parameters are the kernel's."""
    taken = set(params)

    def fresh(base: str) -> str:
        name = base
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    names = {"n": fresh("n"), "i": fresh("i"), "kernel": fresh("kernel")}
    for k in range(nresults):
        names[f"out{k}"] = fresh(f"out{k}")
        names[f"r{k}"] = fresh(f"r{k}")
    return names


def driver_source(name: str, params: Sequence[str], batched: Sequence[bool],
                  nresults: int) -> str:
    """The kernel-language source of the loop that runs ``name`` over a batch.

    Its parameters after the count and the outputs carry the kernel's own names, so
    an argument error names the user's parameter.
    """
    own = _internal_names(params, nresults)
    n, i, kernel = own["n"], own["i"], own["kernel"]
    outs = [own[f"out{k}"] for k in range(nresults)]
    arguments = [f"{a}[{i}]" if b else a for a, b in zip(params, batched, strict=True)]
    call = f"{kernel}({', '.join(arguments)})"
    lines = [f"def run_{name}({', '.join([n, *outs, *params])}):",
             f"    for {i} in range({n}):"]
    if nresults == 0:
        lines.append(f"        {call}")
    elif nresults == 1:
        lines.append(f"        {outs[0]}[{i}] = {call}")
    else:
        results = [own[f"r{k}"] for k in range(nresults)]
        lines.append(f"        {', '.join(results)} = {call}")
        lines += [f"        {o}[{i}] = {r}" for o, r in zip(outs, results, strict=True)]
    return "\n".join(lines) + "\n"


def make_driver(kernel: Callable[..., Any], name: str, module: str, params: Sequence[str],
                batched: Sequence[bool], nresults: int) -> Callable[..., Any]:
    """The driver as a Python function whose global (``kernel``) is the jit function.

    It is named ``name.run`` (not an identifier, but what errors and listings show)."""
    source = driver_source(name, params, batched, nresults)
    pattern = "".join("b" if b else "s" for b in batched)
    filename = f"<frostline-run {module}.{name} {pattern}{nresults}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {_internal_names(params, nresults)["kernel"]: kernel,
                                 "__name__": module}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated above
    driver: Callable[..., Any] = namespace[f"run_{name}"]
    driver.__name__ = f"{name}.run"
    return driver


def assemble(results: list[Any], dtypes: tuple[np.dtype[Any], ...] | None) -> Any:
    """Results of a Python loop of calls, shaped as the native loop returns them."""
    if dtypes is not None:
        if not dtypes:
            return None
        if len(dtypes) == 1:
            return np.asarray(results, dtype=dtypes[0]) if results else np.empty(0, dtypes[0])
        columns = list(zip(*results, strict=True)) if results else [()] * len(dtypes)
        return tuple(np.asarray(c, dtype=d) for c, d in zip(columns, dtypes, strict=True))
    if all(r is None for r in results):
        return None if results else np.empty(0)
    if isinstance(results[0], tuple):
        return tuple(np.asarray(c) for c in zip(*results, strict=True))
    return np.asarray(results)


class BatchRunning:
    """The methods of ``Dispatcher`` that plan and run ``f.run`` batches."""

    def _plan_run(self: Dispatcher, batch: Batch) -> Callable[[Batch], Any] | None:
        """How to run this kind of batch: the native loop, or a Python loop of calls."""
        steps = batch_steps(self.mode)
        for granularity, following in zip(steps, steps[1:] + (ExecutionMode.PYTHON,),
                                          strict=True):
            if granularity is ExecutionMode.PYTHON:
                return self._run_calls
            stage = "arguments"
            try:
                element = t.Signature(batch.element_types())
                handle = self._handle(element)
                if handle is None:
                    return None
                stage = f"element {handle.stage}"
                returned = handle.result().abi.return_type
                if _holds_arrays(returned):
                    # One native call per element; the arrays they return are stacked.
                    return self._run_calls
                results = result_types(returned, self.__name__)
                stage = "run driver"
                driver = self._driver(batch.batched, len(results))
                outs = tuple(t.ArrayType(r, 1, "C") for r in results)
                arg_types = tuple(t.typeof(a) for a in batch.args)
                signature = t.Signature((t.int64, *outs, *arg_types))
                handle = driver._handle(signature)
                if handle is None:
                    return None
                stage = f"run driver {handle.stage}"
                exe = handle.result()
            except Exception as exc:
                self._fall_back(f"{self.__qualname__}.run", granularity, stage, exc,
                                following)
                continue
            return functools.partial(_run_native, exe,
                                     tuple(r.numpy_dtype for r in results))
        raise AssertionError("a batch's last step is PYTHON or raises")  # pragma: no cover

    def _run_calls(self: Dispatcher, batch: Batch) -> Any:
        """A batch as single calls from Python, each following the mode's rules."""
        results = [self(*batch.element(k)) for k in range(batch.n)]
        return assemble(results, self._result_dtypes(batch))

    def _result_dtypes(self: Dispatcher, batch: Batch) -> tuple[np.dtype[Any], ...] | None:
        """The dtypes of the calls' results when they have an executable.  An empty batch
        under WHOLE compiles it, as its first call would: the same empty arrays (or None)
        as the native loop returns, not a guess."""
        with contextlib.suppress(TypeError):
            sig = t.Signature(batch.element_types())
            exe = self._by_signature.get(sig)
            if exe is None and not batch.n and self._single_steps[0] is ExecutionMode.WHOLE:
                handle = self._handle(sig)
                if handle is not None and handle.exception() is None:
                    exe = handle.result()
            if exe is not None:
                return tuple(r.numpy_dtype for r in result_types(exe.abi.return_type,
                                                                 self.__name__))
        return None

    def _driver(self: Dispatcher, batched: tuple[bool, ...], nresults: int) -> Any:
        """The jit function looping over a batch (see ``frostline.batch``)."""
        with self._lock:
            driver = self._drivers.get((batched, nresults))
            if driver is None:
                fn = make_driver(self, self.__name__, self.__module__, self._param_names,
                                 batched, nresults)
                from frostline.dispatcher import Dispatcher

                driver = Dispatcher(fn, self.options, self.cache, self.background,
                                    ExecutionMode.WHOLE)
                self._drivers[(batched, nresults)] = driver
        return driver


def _run_native(exe: Executable, dtypes: tuple[np.dtype[Any], ...], batch: Batch) -> Any:
    """Run a batch through its driver executable: ``exe(n, *outputs, *args)``."""
    outs = tuple(np.empty(batch.n, d) for d in dtypes)
    exe(batch.n, *outs, *batch.args)
    if not outs:
        return None
    return outs[0] if len(outs) == 1 else outs
