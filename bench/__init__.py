"""Benchmarks of DESIGN section 9: each prints its figure, its target and a reference.

Run them all with `python -m bench`; see bench/README.md.
"""
