"""Test-session set-up shared by every test directory."""

from __future__ import annotations

import os
import tempfile

# The suite must neither read nor fill the user's disk cache: every session gets
# an empty one (subprocesses started by tests inherit it through the environment).
os.environ["FROSTLINE_CACHE_DIR"] = tempfile.mkdtemp(prefix="frostline-test-cache-")
os.environ.pop("FROSTLINE_CACHE", None)
os.environ.pop("FROSTLINE_CACHE_SIZE", None)


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption("--slow", action="store_true",
                     help="also run the long tests marked slow (fuzzing, leak soaks)")


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    if config.getoption("--slow"):
        return
    import pytest

    skip = pytest.mark.skip(reason="a long test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
