"""Make ``tests/corpus`` importable as ``corpus``, under the name the language tests use, so
both compile the same kernels (same content, same cache entries)."""

import sys
from pathlib import Path

_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
