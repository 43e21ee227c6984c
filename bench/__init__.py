"""Benchmark suite (image path speed, quality, memory, cold start, end to end).

Run ``python -m bench`` (or ``make bench``); ``--help`` for options; docs/performance.md explains
every number.
"""
