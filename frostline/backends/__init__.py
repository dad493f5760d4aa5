"""Backends: ``llvm`` (native CPU code) and ``python`` (the reference)."""
