"""Every array test leaves native memory as it found it: no block a kernel allocated
outlives the test (``fl.stats()['arrays_live']``), whether its calls returned or raised."""

import gc

import pytest

import frostline as fl


@pytest.fixture(autouse=True)
def no_leaked_arrays():
    before = fl.stats()["arrays_live"]
    yield
    if fl.stats()["arrays_live"] > before:
        gc.collect()  # arrays in reference cycles go only with a collection (rare, slow)
    assert fl.stats()["arrays_live"] <= before, "the test left native arrays alive"
