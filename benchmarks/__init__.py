"""Benchmarks: epoch time of the same MLP across implementations, and per-op overhead."""
