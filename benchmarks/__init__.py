"""relunet's speed benchmarks against PyTorch and scikit-learn.

Run ``python -m benchmarks`` (``--quick``, ``--out PATH``, ``--threads N``, ``--both``);
see :mod:`benchmarks.suite` for what is measured and how.
"""
