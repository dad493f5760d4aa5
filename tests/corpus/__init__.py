"""Differential-test corpus: plain-Python kernels run under CPython and frostline."""
