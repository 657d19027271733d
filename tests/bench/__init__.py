"""txmail's benchmark (not a test): ``python tests/bench/bench.py --help``."""
