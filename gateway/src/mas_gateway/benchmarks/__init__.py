"""Benchmarks run by ``mas bench``: each compares against a baseline in the same run."""
