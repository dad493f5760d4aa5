"""Random-program differential tests: generated kernels under CPython and frostline.

The CI batch checks a fixed range of seeds, one test per program, so a failure
names its seed and prints the program; ``python -m tests.fuzz SEED`` replays it.
The long batch (``pytest --slow``) checks ``FROSTLINE_FUZZ_COUNT`` programs (3000)
from seed ``FROSTLINE_FUZZ_SEED`` (default: the time) and reports every failing
seed at the end.
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np
import pytest

from .__main__ import long_run, replay
from .differential import Outcome, check_program, compare
from .program import generate
from .semantics import Features

#: The CI batch: about 25 s on two cores (one compilation per program, two with AOT).
CI_SEEDS = range(120)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_generated_program(seed: int) -> None:
    check_program(generate(seed))


def test_generation_is_reproducible() -> None:
    for seed in (0, 7, 123456789):
        assert generate(seed).source == generate(seed).source
    assert generate(1).source != generate(2).source


def test_replay_prints_the_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(3)
    out = capsys.readouterr().out
    assert "def kernel(" in out and "seed 3: CPython and frostline agree" in out


def test_compare_sees_differences() -> None:
    """The comparison itself: values, kinds, exception types, promised messages, arrays."""
    a, b = np.zeros(2), np.ones(2)
    same = Outcome(1.5, None, (("arg0", a),))
    compare(same, Outcome(1.5, None, (("arg0", a.copy()),)))
    for got in (Outcome(2.5, None, (("arg0", a),)), Outcome(1, None, (("arg0", a),)),
                Outcome(1.5, None, (("arg0", b),)), Outcome(None, ValueError(), ())):
        with pytest.raises(AssertionError):
            compare(same, got)
    raised = Outcome(None, ValueError("fuzz-3"), ())
    compare(raised, Outcome(None, ValueError("fuzz-3"), ()))
    for exc in (ValueError("fuzz-4"), RuntimeError("fuzz-3"), ValueError("math domain error")):
        with pytest.raises(AssertionError):
            compare(raised, Outcome(None, exc, ()))
    compare(Outcome(None, ZeroDivisionError("division by zero"), ()),
            Outcome(None, ZeroDivisionError("integer division by zero"), ()))


@pytest.mark.parametrize(("construct", "feature", "only_with_it"), [
    ("math.ldexp(", "ldexp", False), ("math.lgamma(", "gamma", False),
    ("math.hypot(", "hypot", False), ("np.maximum(", "np_min_max_float", False),
    ("np.rad2deg(", "np_rad2deg_float32", False), ("np.arctan2(", "numpy_simd_ulp", True),
    ("np.maximum(np.bool_(", "np_func_of_bools", False),
    (" * 4398046511104)", "big_int_division", False), (" % 3)):", "range_zero_step", False),
])
def test_features_switch_constructs_on(construct: str, feature: str, only_with_it: bool) -> None:
    """The Features switches still generate what they name (and the ones off in the CI
    batch do not)."""
    assert any(construct in src for src in _sources(all_features=True)), \
        f"{feature}: no {construct} generated"
    if only_with_it:
        assert not any(construct in src for src in _sources(all_features=False)), \
            f"{construct} generated with {feature} off"


@functools.cache
def _sources(all_features: bool) -> tuple[str, ...]:
    features = Features.all_on() if all_features else None
    return tuple(generate(seed, features).source for seed in range(300))


@pytest.mark.slow
def test_long_batch() -> None:
    start = int(os.environ.get("FROSTLINE_FUZZ_SEED", time.time()))
    count = int(os.environ.get("FROSTLINE_FUZZ_COUNT", "3000"))
    failures = long_run(start, count, None, None)
    assert not any(failures.values()), f"failing seeds from {start}: {failures}"
