"""The reference backend: runs a definition's function as plain Python.

It is the fallback of the execution modes and the oracle of the differential tests.
"""

from __future__ import annotations

from frostline.stages.definition import Definition


def run(definition: Definition, *args: object) -> object:
    """Call the original Python function."""
    return definition.function(*args)
