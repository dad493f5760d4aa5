"""Parallel tests run on more threads than this machine's cores (so chunks really run
on several threads, and interleave), and leave the thread count and native memory as
they found them."""

import gc

import pytest

import frostline as fl

#: More threads than CI's two cores: several workers take chunks of every launch.
THREADS = 4


@pytest.fixture(autouse=True)
def threads_and_memory():
    threads = fl.get_num_threads()
    fl.set_num_threads(THREADS)
    before = fl.stats()["arrays_live"]
    yield
    fl.set_num_threads(threads)
    if fl.stats()["arrays_live"] > before:
        gc.collect()
    assert fl.stats()["arrays_live"] <= before, "the test left native arrays alive"
