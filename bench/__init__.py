"""Benchmarks: capaflow's lifecycles, steps, parked records and timers beside a bare skeleton workflow.

``python -m bench`` (``make bench``) starts its own Temporal dev server and workers, measures each figure for
the product and for the skeleton in the same run, and prints the tables that docs/benchmarks.md records.
"""
