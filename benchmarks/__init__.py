"""relunet's speed benchmarks against PyTorch and scikit-learn.

Run ``python -m benchmarks`` from the repository root (``--quick``, ``--out PATH``,
``--threads N``, ``--both``); see :mod:`benchmarks.suite` for what is measured and how.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("relunet") is None:  # not installed: use the checkout's src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
