"""Benchmarks: run them as modules, e.g. ``python -m bench.ballots`` (see bench/README.md)."""
