"""Benchmarks: each module prints numbers and writes ``bench/results/<name>.json``."""
