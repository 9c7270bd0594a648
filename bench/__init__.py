"""Benchmarks of the SBS Platform against bare baselines; `make bench` writes RESULTS.md."""
