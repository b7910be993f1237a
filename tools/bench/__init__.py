"""`make bench`: the performance targets of issue 5, each measured as a ratio in one run (see docs/performance.md)."""
