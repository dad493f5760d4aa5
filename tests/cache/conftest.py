"""Fixtures of the cache tests: a victim to run frostline as, and a place to lay out
directories that other users (or ``nobody``) can reach."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .victims import Victim, probe_nobody


@pytest.fixture(scope="session")
def reachable_base() -> Iterator[Path]:
    """A directory every user can traverse (pytest's own temporary directories are not)."""
    base = Path(tempfile.mkdtemp(prefix="frostline-trust-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def nobody_prefix(reachable_base: Path) -> tuple[list[str] | None, str]:
    """How to run Python as ``nobody`` (or None), and why not."""
    return probe_nobody(reachable_base)


@pytest.fixture
def case_dir(reachable_base: Path, request: pytest.FixtureRequest) -> Path:
    """This test's own directory under ``reachable_base`` (traversable by everyone)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:60]
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=reachable_base))
    directory.chmod(0o755)
    return directory


@pytest.fixture
def victim(case_dir: Path, nobody_prefix: tuple[list[str] | None, str]) -> Victim:
    """frostline's user: ``nobody`` where the tests can become it, else this user."""
    return Victim.make(case_dir, nobody_prefix[0])


@pytest.fixture
def nobody(victim: Victim, nobody_prefix: tuple[list[str] | None, str]) -> Victim:
    """The victim, where it must be a second user (``nobody``); skips where it cannot be."""
    if nobody_prefix[0] is None:
        pytest.skip(f"needs a second user: {nobody_prefix[1]}")
    return victim
