"""needinclude / continuecompile: a worker keeps the functions it was sent, by
fingerprint, and asks only for those it lacks."""

import base64
import pickle

import numpy as np
import pytest

import frostline as fl
from frostline.backends import llvm
from frostline.stages.closure import Closure
from frostline.toolchain.service import protocol as rpc
from frostline.toolchain.service.pool import CompilerPool
from frostline.toolchain.service.worker import handle
from tests.service import library


def closure(fn, sig):
    dispatcher = fn if isinstance(fn, fl.Dispatcher) else fl.jit(fn)
    return Closure(dispatcher.program, dispatcher.signature_from(sig))


def test_the_library_goes_to_a_worker_once():
    total = closure(library.total, "float64[::1]")
    assert len(total.program.functions) == 5  # total, clamp, poly, cube, square
    with CompilerPool(1) as pool:
        first = pool.submit_closure(total)
        exe = llvm.load(pool.read_result(first.result(120)))
        a = np.linspace(-3, 3, 7)
        assert exe(a) == pytest.approx(library.total(a))
        assert first.rounds == 1
        assert pool.counts["needinclude"] == 1 and pool.counts["included"] == 5

        # Another signature of the same program: every function is there already.
        again = pool.submit_closure(closure(library.total, "float64[:]"))
        pool.read_result(again.result(120))
        assert again.rounds == 0 and pool.counts["included"] == 5

        # Another entry over the same helpers: only the entry travels.
        peak = closure(library.peak, "float64[::1]")
        third = pool.submit_closure(peak)
        exe = llvm.load(pool.read_result(third.result(120)))
        assert third.rounds == 1 and pool.counts["included"] == 6
        assert exe(a) == library.peak(a)
        assert pool.counts["needinclude"] == 2


def test_each_worker_asks_once():
    with CompilerPool(2) as pool:
        handles = [pool.submit_closure(closure(library.total, sig))
                   for sig in ("float64[::1]", "float64[:]", "float32[::1]", "float32[:]",
                               "int64[::1]", "int64[:]")]
        for h in handles:
            pool.read_result(h.result(120))
        assert sum(h.rounds for h in handles) == pool.counts["needinclude"]
        assert pool.counts["needinclude"] <= 2  # once per worker at most
        assert pool.counts["included"] == 5 * pool.counts["needinclude"]


def test_a_handler_that_sends_nothing_ends_in_an_error():
    c = closure(library.total, "float64[::1]")
    with CompilerPool(1) as pool:
        params = compile_params(c, pool._dir, "stubborn")
        stubborn = pool.submit("compile", params, include=lambda names: {})
        with pytest.raises(fl.CompileError, match="16 rounds"):
            stubborn.result(120)
        assert stubborn.rounds == 16
        # a request that cannot answer needinclude at all
        lost = pool.submit("compile", dict(params, job="lost"))
        with pytest.raises(fl.CompileError, match="no include handler"):
            lost.result(120)


def b64(value):
    return base64.b64encode(pickle.dumps(value)).decode()


def compile_params(c, out_dir, job):
    return {"entry": c.program.entry, "functions": [fn.fingerprint for fn in
                                                    c.program.functions],
            "options": b64(c.program.options), "signature": b64(c.signature),
            "program": c.program.fingerprint, "out_dir": str(out_dir), "job": job}


def test_continuecompile_checks_what_it_is_sent():
    c = closure(library.cube, "float64")
    fns = {fn.fingerprint: fn for fn in c.program.functions}
    params = compile_params(c, "/nonexistent", "x")
    reply, _ = handle(rpc.request(7, "compile", params))
    assert reply["result"]["needinclude"] == [fp for fp in fns if fp not in
                                              _known_functions()]
    missing = reply["result"]["needinclude"]
    # a function under another function's fingerprint
    wrong = {fp: b64(c.program.functions[0]) for fp in missing
             if fns[fp] is not c.program.functions[0]}
    if wrong:
        reply, _ = handle(rpc.request(8, "continuecompile",
                                      {"request": 7, "functions": wrong}))
        assert reply["error"]["code"] == rpc.INVALID_PARAMS
        assert "another fingerprint" in reply["error"]["message"]
    # a request nobody made
    reply, _ = handle(rpc.request(9, "continuecompile", {"request": 12345, "functions": {}}))
    assert reply["error"]["code"] == rpc.INVALID_PARAMS
    assert "no compile request 12345" in reply["error"]["message"]
    # missing parameters
    reply, _ = handle(rpc.request(10, "compile", {"entry": "f"}))
    assert reply["error"]["code"] == rpc.INVALID_PARAMS


def _known_functions():
    from frostline.toolchain.service import worker

    return worker._functions


def test_functions_that_do_not_make_the_program_are_refused(tmp_path):
    c = closure(library.cube, "float64")
    fns = {fn.fingerprint: fn for fn in c.program.functions}
    params = dict(compile_params(c, tmp_path, "y"), program="0" * 32)
    reply, _ = handle(rpc.request(20, "compile", params))
    if "result" in reply:  # this process's worker state lacked them: send them
        reply, _ = handle(rpc.request(21, "continuecompile", {
            "request": 20, "functions": {fp: b64(fn) for fp, fn in fns.items()}}))
    assert reply["error"]["code"] == rpc.INVALID_PARAMS
    assert "do not make the program" in reply["error"]["message"]
