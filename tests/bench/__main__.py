"""``python -m tests.bench``: the same as ``python tests/bench/bench.py``."""

from tests.bench.bench import main

main()
