"""One module per backend for ``benchmarks/overhead.py``; each exposes ``run(...)``."""
