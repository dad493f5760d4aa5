"""Running compilations: handles and their callbacks, the background scheduler, and
``compile_async`` / tiered execution of jit functions.

Scheduler tests use their own ``BackgroundRunner`` and jobs made of plain
generators; the jit tests use the process's runner, holding its workers inside
a step when they need a compilation to stay pending.  Ordering comes from
events, never from sleeping.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import subprocess
import sys
import textwrap
import threading

import pytest

import frostline as fl
from frostline.toolchain.runner import (
    BackgroundRunner,
    CallbackWarning,
    InPlaceRunner,
    background_runner,
    run_in_place,
)

#: Seconds any wait may take before the test gives up: far above what a step needs.
TIMEOUT = 10


def counter(name):
    """The ``fl.stats()`` counter ``name`` (0 until first bumped)."""
    return fl.stats().get(name, 0)


def steps(log, name, n, result=None):
    """A job of ``n`` steps ``name0``, ``name1``…; each logs its name when it runs."""
    for i in range(n):
        yield f"{name}{i}"
        log.append(f"{name}{i}")
    return name if result is None else result


def failing(log, at):
    """A job whose step ``at`` raises ValueError."""
    yield "setup"
    log.append("setup")
    yield at
    raise ValueError(f"{at} went wrong")


def blocked(entered, release, log=None, then=1):
    """A job whose step ``wait`` blocks until ``release``; ``then`` steps follow it."""
    yield "wait"
    entered.set()
    assert release.wait(TIMEOUT), "a blocked job was never released"
    for i in range(then):
        yield f"after{i}"
        if log is not None:
            log.append(f"after{i}")
    return "released"


@contextlib.contextmanager
def holding(runner):
    """Keep every worker of ``runner`` inside a step while the block runs."""
    release = threading.Event()
    entered = [threading.Event() for _ in range(runner.workers)]
    handles = [runner.submit(blocked(event, release), "hold") for event in entered]
    try:
        for event in entered:
            assert event.wait(TIMEOUT), "a worker never took the holding job"
        yield
    finally:
        release.set()
    for handle in handles:
        assert handle.result(TIMEOUT) == "released"


@pytest.fixture
def release():
    """An event that blocked jobs wait on; set at the end so no worker stays blocked."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def make_runner(release):
    """Make BackgroundRunners that are shut down when the test ends."""
    runners = []

    def make(workers=1):
        runner = BackgroundRunner(workers=workers)
        runners.append(runner)
        return runner

    yield make
    release.set()
    for runner in runners:
        runner.shutdown()


def finish_line(runner):
    """Submit a trivial job and wait for it: every job queued before it has been handled."""
    handle = runner.submit(steps([], "sentinel", 1), "sentinel")
    assert handle.result(TIMEOUT) == "sentinel", "the runner stopped handling jobs"


# Running in the calling thread


def test_run_in_place_returns_the_result_and_raises_the_error():
    log = []
    assert run_in_place(steps(log, "s", 3, result=42)) == 42
    assert log == ["s0", "s1", "s2"]
    with pytest.raises(ValueError, match="lower went wrong"):
        run_in_place(failing([], "lower"))


def test_in_place_runner_returns_a_finished_handle():
    log = []
    handle = InPlaceRunner().submit(steps(log, "s", 2, result=7), "ok")
    assert handle.done() and handle.result() == 7 and log == ["s0", "s1"]
    failed = InPlaceRunner().submit(failing([], "optimize"), "bad")
    assert isinstance(failed.exception(), ValueError)
    assert failed.stage == "optimize", "stage should name the step that failed"


# Callbacks


def test_success_callbacks_run_before_finalisers_each_once(make_runner):
    runner = make_runner(1)
    events = []
    ended = threading.Event()
    with holding(runner):  # the callbacks are all in place before the job runs
        handle = runner.submit(steps([], "s", 3, result=42), "ok")
        handle.add_finalize(lambda: events.append("finalize 1"))
        handle.add_callback_on_success(lambda r: events.append(("success 1", r)))
        handle.add_callback_on_fail(lambda e: events.append(("fail", e)))
        handle.add_finalize(lambda: events.append("finalize 2"))
        handle.add_callback_on_success(lambda r: events.append(("success 2", r)))
        handle.add_finalize(ended.set)
    assert handle.result(TIMEOUT) == 42
    assert ended.wait(TIMEOUT), "the finalisers did not run"
    finish_line(runner)
    assert handle.cancel() is False, "a finished compilation cannot be cancelled"
    assert events == [("success 1", 42), ("success 2", 42), "finalize 1", "finalize 2"]


def test_fail_callbacks_get_the_exception_and_success_callbacks_never_run(make_runner):
    runner = make_runner(1)
    events = []
    ended = threading.Event()
    with holding(runner):
        handle = runner.submit(failing([], "emit_object"), "bad")
        handle.add_finalize(lambda: events.append("finalize"))
        handle.add_callback_on_success(lambda r: events.append(("success", r)))
        handle.add_callback_on_fail(lambda e: events.append(("fail", e)))
        handle.add_finalize(ended.set)
    assert ended.wait(TIMEOUT), "the finalisers did not run"
    error = handle.exception(TIMEOUT)
    assert isinstance(error, ValueError) and handle.stage == "emit_object"
    assert events == [("fail", error), "finalize"]
    with pytest.raises(ValueError, match="emit_object went wrong"):
        handle.result()


def test_callbacks_added_after_completion_run_at_once_in_the_adding_thread(make_runner):
    runner = make_runner(1)
    succeeded = runner.submit(steps([], "s", 1, result="ok"), "ok")
    failed = runner.submit(failing([], "lower"), "bad")
    concurrent.futures.wait([succeeded, failed], TIMEOUT)
    finish_line(runner)  # the callbacks registered while running have all run
    me = threading.get_ident()
    events = []
    for handle in (succeeded, failed):
        handle.add_callback_on_success(
            lambda r: events.append(("success", r, threading.get_ident())))
        handle.add_callback_on_fail(
            lambda e: events.append(("fail", type(e), threading.get_ident())))
        handle.add_finalize(lambda: events.append(("finalize", threading.get_ident())))
    assert events == [("success", "ok", me), ("finalize", me),
                      ("fail", ValueError, me), ("finalize", me)]


def test_cancelled_handle_runs_finalisers_only(make_runner):
    runner = make_runner(1)
    log, events = [], []
    with holding(runner):
        handle = runner.submit(steps(log, "s", 2), "doomed")
        handle.add_callback_on_success(lambda r: events.append("success"))
        handle.add_callback_on_fail(lambda e: events.append("fail"))
        handle.add_finalize(lambda: events.append("finalize"))
        assert handle.cancel() is True
        assert events == ["finalize"], "cancel() should run the finalisers, and only them"
        handle.add_finalize(lambda: events.append("finalize after"))
        handle.add_callback_on_success(lambda r: events.append("success after"))
        handle.add_callback_on_fail(lambda e: events.append("fail after"))
    finish_line(runner)
    assert events == ["finalize", "finalize after"]
    assert log == [], "a job cancelled before it started must not run"


def test_raising_callback_warns_with_its_traceback_and_others_still_run(make_runner):
    runner = make_runner(1)
    events = []
    ended = threading.Event()

    def broken_success(result):
        raise KeyError("success-callback-broke")

    def broken_finalize():
        raise RuntimeError("finaliser-broke")

    with pytest.warns(CallbackWarning) as warned:
        with holding(runner):
            handle = runner.submit(steps([], "s", 2, result=1), "noisy")
            handle.add_callback_on_success(broken_success)
            handle.add_callback_on_success(lambda r: events.append("success"))
            handle.add_finalize(broken_finalize)
            handle.add_finalize(lambda: events.append("finalize"))
            handle.add_finalize(ended.set)
        assert ended.wait(TIMEOUT), "a raising callback stopped the later ones"
    assert events == ["success", "finalize"]
    messages = [str(w.message) for w in warned if issubclass(w.category, CallbackWarning)]
    assert len(messages) == 2
    assert "Traceback" in messages[0] and "KeyError: 'success-callback-broke'" in messages[0]
    assert "Traceback" in messages[1] and "RuntimeError: finaliser-broke" in messages[1]
    assert handle.result() == 1
    finish_line(runner)  # the worker survived the raising callbacks


def test_raising_callback_added_after_completion_warns_at_once():
    handle = InPlaceRunner().submit(failing([], "lower"), "bad")

    def broken(error):
        raise TypeError(f"cannot handle {error}")

    with pytest.warns(CallbackWarning, match="TypeError: cannot handle lower went wrong"):
        handle.add_callback_on_fail(broken)


# Cancellation


def test_cancel_before_start_skips_the_job(make_runner):
    runner = make_runner(1)
    log = []
    before = counter("background_cancelled")
    with holding(runner):
        handle = runner.submit(steps(log, "s", 3), "queued")
        assert not handle.running() and handle.stage == "pending"
        assert handle.cancel() is True
        assert handle.cancelled() and handle.done()
    finish_line(runner)
    assert log == [], "a job cancelled before it started ran steps"
    with pytest.raises(concurrent.futures.CancelledError):
        handle.result()
    assert counter("background_cancelled") == before + 1


def test_cancel_during_a_step_stops_before_the_next_step(make_runner, release):
    runner = make_runner(1)
    entered, log = threading.Event(), []
    before = counter("background_cancelled")
    handle = runner.submit(blocked(entered, release, log, then=3), "busy")
    assert entered.wait(TIMEOUT)
    assert handle.running() and not handle.done() and handle.stage == "wait"
    assert handle.cancel() is True
    with pytest.raises(concurrent.futures.CancelledError):
        handle.result(0)
    release.set()
    finish_line(runner)
    assert log == [], "the job went on after it was cancelled"
    assert handle.cancelled() and not handle.running()
    assert counter("background_cancelled") == before + 1


def test_cancel_during_the_last_step_leaves_the_runner_working(make_runner, release):
    runner = make_runner(1)
    entered = threading.Event()
    handle = runner.submit(blocked(entered, release, then=0), "last step")
    assert entered.wait(TIMEOUT)
    assert handle.cancel() is True
    later = runner.submit(steps([], "later", 1), "later")
    release.set()
    assert later.result(TIMEOUT) == "later", "the runner stopped after a cancellation"
    assert handle.cancelled(), "the result of a cancelled job replaced the cancellation"


def test_cancelling_twice_counts_one_cancellation(make_runner):
    runner = make_runner(1)
    before = counter("background_cancelled")
    with holding(runner):
        handle = runner.submit(steps([], "s", 1), "queued")
        handle.cancel()
        handle.cancel()
    assert counter("background_cancelled") == before + 1


# Scheduling


def test_short_job_submitted_after_long_one_finishes_first(make_runner):
    runner = make_runner(1)
    log, finished = [], []
    with holding(runner):
        long = runner.submit(steps(log, "long", 20), "long")
        short = runner.submit(steps(log, "short", 2), "short")
        assert runner.pending() == 2
        for handle in (long, short):
            handle.add_callback_on_success(finished.append)
    assert long.result(TIMEOUT) == "long" and short.result(TIMEOUT) == "short"
    finish_line(runner)
    assert finished == ["short", "long"]
    assert log.index("long0") < log.index("short0") < log.index("long1") \
        < log.index("short1") < log.index("long2"), f"steps did not alternate: {log}"
    assert len(log) == 22


def test_counters_follow_background_jobs(make_runner):
    runner = make_runner(1)
    started, finished, failed = (counter("background_started"),
                                 counter("background_finished"), counter("background_failed"))
    runner.submit(steps([], "ok", 2), "ok")
    runner.submit(failing([], "lower"), "bad")
    assert counter("background_started") == started + 2
    finish_line(runner)
    assert counter("background_started") == started + 3
    assert counter("background_finished") == finished + 2  # with the sentinel
    assert counter("background_failed") == failed + 1


def test_stage_names_the_step_and_running_follows_the_job(make_runner, release):
    runner = make_runner(1)
    entered = threading.Event()
    handle = runner.submit(blocked(entered, release, then=1), "busy")
    assert entered.wait(TIMEOUT)
    assert handle.stage == "wait" and handle.running()
    release.set()
    assert handle.result(TIMEOUT) == "released"
    assert handle.stage == "after0" and not handle.running()


def test_futures_wait_and_as_completed_accept_handles(make_runner, release):
    runner = make_runner(2)
    entered = threading.Event()
    blocker = runner.submit(blocked(entered, release), "blocked")
    assert entered.wait(TIMEOUT)
    ok = runner.submit(steps([], "ok", 3), "ok")
    bad = runner.submit(failing([], "optimize"), "bad")
    compiled = fl.jit(scale, cache=False).compile_async("float64", "float64")
    handles = {blocker, ok, bad, compiled}

    done, not_done = concurrent.futures.wait(
        handles, TIMEOUT, return_when=concurrent.futures.FIRST_EXCEPTION)
    assert bad in done and blocker in not_done
    done, not_done = concurrent.futures.wait([ok, compiled], TIMEOUT)
    assert not not_done
    release.set()
    assert set(concurrent.futures.as_completed(handles, TIMEOUT)) == handles
    assert compiled.result()(2.0, 3.0) == 7.0 and blocker.result() == "released"


def test_shutdown_cancels_pending_jobs_and_stops_workers(make_runner, release):
    runner = make_runner(1)
    entered, log, workers = threading.Event(), [], []

    def running_job():
        yield "first"
        workers.append(threading.current_thread())
        entered.set()
        assert release.wait(TIMEOUT)
        yield "second"
        log.append("second")

    runner.submit(running_job(), "running")
    assert entered.wait(TIMEOUT)
    queued = [runner.submit(steps(log, f"q{i}", 2), f"q{i}") for i in range(3)]
    cancelled = threading.Event()
    queued[-1].add_finalize(cancelled.set)
    stopper = threading.Thread(target=runner.shutdown)
    stopper.start()
    assert cancelled.wait(TIMEOUT), "shutdown() did not cancel the queued jobs"
    assert all(handle.cancelled() for handle in queued)
    release.set()
    stopper.join(TIMEOUT)
    assert not stopper.is_alive(), "shutdown() did not return after the running step"
    assert not workers[0].is_alive(), "the worker still runs after shutdown()"
    assert log == [], "jobs went on after shutdown()"
    late_log = []
    late = runner.submit(steps(late_log, "late", 1), "late")
    assert late.cancelled() and late_log == []
    with pytest.raises(concurrent.futures.CancelledError):
        late.result(0)


def test_shutdown_resolves_the_job_whose_step_was_running(make_runner, release):
    runner = make_runner(1)
    entered = threading.Event()
    handle = runner.submit(blocked(entered, release, then=2), "running")
    assert entered.wait(TIMEOUT)
    queued = runner.submit(steps([], "queued", 1), "queued")
    cancelled = threading.Event()
    queued.add_finalize(cancelled.set)
    stopper = threading.Thread(target=runner.shutdown)
    stopper.start()
    assert cancelled.wait(TIMEOUT)
    release.set()
    stopper.join(TIMEOUT)
    assert not stopper.is_alive()
    assert handle.cancelled(), f"{handle!r} is left pending after shutdown()"


EXIT_SCRIPT = textwrap.dedent("""
    import atexit
    import frostline as fl
    from frostline.toolchain.runner import background_runner

    def dot(a, b):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * b[i]
        return s

    def norm(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * a[i]
        return s ** 0.5

    def poly(x, n):
        s = 0.0
        for i in range(n):
            s = s * x + i
        return s

    def busy(n):
        total = 0
        for i in range(n):
            yield "step"
            total += i
        return total

    handles = [fl.jit(f, cache=False).compile_async(*sig) for f, sig in [
        (dot, ("float64[:]", "float64[:]")), (norm, ("float64[:]",)),
        (poly, ("float64", "int64")), (dot, ("float32[:]", "float32[:]"))]]
    handles += [background_runner().submit(busy(100_000), "busy") for _ in range(4)]
    # atexit runs after threading's exit hooks, where the runner is shut down.
    atexit.register(lambda: print("cancelled", sum(h.cancelled() for h in handles)))
    print("submitted", len(handles))
""")


def test_interpreter_exits_cleanly_with_pending_compilations(tmp_path):
    script = tmp_path / "exit_with_pending.py"
    script.write_text(EXIT_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "submitted 8"
    cancelled = int(lines[1].split()[1])
    assert cancelled >= 1, "pending work should be cancelled at exit, not run to its end"


# jit functions


def scale(a, b):
    return a * b + 1.0


def no_len(x):
    return len(x)


def sometimes_text(x):
    y = 0.0
    if x > 0:
        y = 1.5
    else:
        y = "negative"
    return y


def test_compile_async_result_is_an_executable_installed_in_the_function():
    f = fl.jit(scale, cache=False)
    handle = f.compile_async("float64", "float64")
    exe = handle.result(TIMEOUT)
    assert isinstance(exe, fl.Executable) and exe(2.0, 3.0) == 7.0
    compiled = counter("compiled")
    assert f(2.0, 3.0) == 7.0
    assert f.compile("float64", "float64") is exe
    assert counter("compiled") == compiled, "the function compiled again instead of using " \
        "the executable compile_async made"


def test_compile_async_while_pending_returns_the_same_handle():
    f = fl.jit(scale, cache=False)
    runner = background_runner()
    with holding(runner):
        first = f.compile_async("float64", "float64")
        assert f.compile_async("float64", "float64") is first
        assert not first.done() and first.stage == "pending"
    exe = first.result(TIMEOUT)
    assert f.compile("float64", "float64") is exe
    assert f.compile_async("float64", "float64").result(0) is exe


def test_compiled_signature_is_installed_once_the_result_is_ready():
    f = fl.jit(scale, cache=False)
    checked = threading.Event()
    with holding(background_runner()):
        handle = f.compile_async("float64", "float64")
        # Keeps the worker between setting the result and running the callbacks, so
        # the test sees deterministically what a thread woken by result() may see.
        handle.add_done_callback(lambda h: checked.wait(TIMEOUT))
    try:
        handle.result(TIMEOUT)
        assert len(f.signatures) == 1, "result() returned before the function had the " \
            "executable"
    finally:
        checked.set()


def test_compile_async_of_a_compiled_signature_is_finished_at_once():
    f = fl.jit(scale, cache=False)
    exe = f.compile("float64", "float64")
    started = counter("background_started")
    handle = f.compile_async("float64", "float64")
    assert handle.done() and handle.result() is exe
    assert counter("background_started") == started


def test_failed_compile_async_reports_compile_error_and_step():
    f = fl.jit(no_len, cache=False)
    errors = []
    ended = threading.Event()
    handle = f.compile_async("float64")
    handle.add_callback_on_success(lambda exe: errors.append("succeeded"))
    handle.add_callback_on_fail(errors.append)
    handle.add_finalize(ended.set)
    assert ended.wait(TIMEOUT)
    error = handle.exception(TIMEOUT)
    assert isinstance(error, fl.CompileError) and "has no len()" in str(error)
    assert errors == [error]
    assert handle.stage == "infer_types"
    with pytest.raises(fl.CompileError, match="has no len"):
        f.compile("float64")


def test_tiered_call_runs_python_until_native_code_is_ready():
    f = fl.jit(scale, cache=False, background=True)
    python_calls = counter("python_calls")
    with holding(background_runner()):
        started = counter("background_started")
        assert f(2.0, 3.0) == 7.0
        assert f(1.0, 1.0) == 2.0
        assert counter("python_calls") == python_calls + 2
        assert counter("background_started") == started + 1, "one compilation per signature"
    exe = f.compile_async("float64", "float64").result(TIMEOUT)
    assert f(4.0, 0.5) == 3.0
    assert counter("python_calls") == python_calls + 2, "the call ran Python, not native code"
    assert exe(4.0, 0.5) == 3.0


def test_tiered_kernel_that_cannot_compile_runs_in_python_meanwhile():
    f = fl.jit(sometimes_text, cache=False, background=True)
    python_calls = counter("python_calls")
    with holding(background_runner()):
        assert f(1.0) == 1.5
        handle = f.compile_async("float64")
    assert counter("python_calls") == python_calls + 1
    concurrent.futures.wait([handle], TIMEOUT)
    assert isinstance(handle.exception(), fl.CompileError) and handle.stage == "infer_types"


def test_tiered_call_after_failed_compilation_raises():
    f = fl.jit(sometimes_text, cache=False, background=True)
    with holding(background_runner()):
        assert f(1.0) == 1.5
        handle = f.compile_async("float64")
    ended = threading.Event()
    handle.add_finalize(ended.set)  # after the function's own finaliser
    concurrent.futures.wait([handle], TIMEOUT)
    assert ended.wait(TIMEOUT) and isinstance(handle.exception(), fl.CompileError)
    python_calls = counter("python_calls")
    with holding(background_runner()):  # a new compilation could not finish before the call
        with pytest.raises(fl.CompileError, match="strings are not supported"):
            f(1.0)
    assert counter("python_calls") == python_calls
