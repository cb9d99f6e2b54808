"""``python -m benchmarks``: the speed suite (see :mod:`benchmarks.suite`)."""

from .suite import main

if __name__ == "__main__":
    raise SystemExit(main())
