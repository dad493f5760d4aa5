"""Random-program differential testing of frostline against CPython, in the spirit of Csmith.

``program.generate(seed)`` writes a random kernel within the documented language
(the rules that keep CPython and frostline agreeing are in ``semantics.py``);
``differential.check_program`` runs it under CPython and frostline on several
random inputs and compares.  ``python -m tests.fuzz SEED`` replays one seed;
``python -m tests.fuzz --count N`` runs a long batch (see ``__main__.py``).
"""

import sys
from pathlib import Path

# The comparisons are the differential corpus's (tests/corpus/checks.py), which
# imports itself as ``corpus``, as tests/language/conftest.py arranges.
_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
