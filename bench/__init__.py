"""Benchmarks of DESIGN section 9: each prints its figure, a same-run reference and the ratio,
judged by the ratio target (memory by its absolute target; tiny runs judge nothing).

Run them all with `python -m bench`; see bench/README.md.
"""
