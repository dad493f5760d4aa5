"""Test-session set-up shared by every test directory."""

from __future__ import annotations

import os
import tempfile

# The suite must neither read nor fill the user's disk cache: every session gets
# an empty one (subprocesses started by tests inherit it through the environment).
os.environ["FROSTLINE_CACHE_DIR"] = tempfile.mkdtemp(prefix="frostline-test-cache-")
os.environ.pop("FROSTLINE_CACHE", None)
os.environ.pop("FROSTLINE_CACHE_SIZE", None)
