"""Benchmarks: each bench_*.py measures one area against a reference timed in the same run.

Absolute times depend on the machine and on what else it is doing; a ratio to
a reference measured seconds earlier on the same files does not, so every
target in docs/benchmarks.md is a ratio. Run one with
``python bench/bench_<area>.py`` (``--quick`` for a smoke run) or all of them
with ``python -m bench`` (``make bench``).
"""
