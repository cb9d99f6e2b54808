"""What fit's per-epoch evaluation costs, by block size (the figures behind ``EVAL_MIN_ROWS``).

``relunet.training.evaluate`` over 60000 synthetic MNIST-sized rows on 784-500-500-500-10
(float32): through the training work arrays in blocks of 32 ... 1024 rows (what ``fit`` does,
blocks of max(batch, 128)), and through the inference path (``infer_chunk`` = 1024 rows,
its own arrays). Best of ``--repeat`` passes each.

Run from the repository root: ``python benchmarks/bench_evaluation.py [--repeat 3]``;
the results go to ``benchmarks/results-evaluation.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchmarks  # noqa: E402,F401  (puts src/ on the path when relunet is not installed)
from relunet import MLP  # noqa: E402
from relunet.io.archive import write_atomic  # noqa: E402
from relunet.training.engine import evaluate  # noqa: E402

BLOCKS = (32, 64, 128, 256, 512, 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results-evaluation.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((args.rows, 784), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.rows)]
    net = MLP([784, 500, 500, 500, 10], seed=0)
    seconds = {}
    for rows in (*BLOCKS, None):
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            evaluate(net, X, Y, loss=False, work_rows=rows)
            best = min(best, time.perf_counter() - t0)
        label = f"work arrays, {rows}-row blocks" if rows else f"inference path, {net.infer_chunk}-row blocks"
        seconds[label] = best
        print(f"{label:36s} {best:6.3f} s", flush=True)
    write_atomic(args.out, json.dumps({"rows": args.rows, "network": "784-500-500-500-10",
                                       "best_seconds": seconds,
                                       "command": "python benchmarks/bench_evaluation.py"}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
