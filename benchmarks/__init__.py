"""Benchmarks and the accuracy harness: scripts (``python benchmarks/accuracy.py``) that
tests import as modules (``from benchmarks import accuracy``)."""
