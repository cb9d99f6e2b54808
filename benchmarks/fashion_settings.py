"""Fashion-MNIST settings compared on a validation part (never the test set).

Trains 784-500-500-500-10 ReLU on the first ``n - val`` training images and reports the
accuracy on the last ``val`` (default 10,000) after SGD with a cosine schedule. The test set
is not read: this is how the settings behind ``relunet train --data fashion-mnist`` were
chosen, before the three-seed runs on the test set in docs/results-data.md.

Run from the repository root, e.g.
``python benchmarks/fashion_settings.py --dropout 0.5 --max-norm 3 --epochs 40``;
one JSON line per run is printed (and appended to ``--out``).

Measured (seed 0, 50,000 / 10,000, batch 64, lr 0.1, 40 epochs unless noted; 2-core Intel
Xeon, one BLAS thread, shared):

    dropout 0.2                                   val 90.13%  train 95.67%
    dropout 0.2, input dropout 0.2                val 89.34%  train 92.00%
    dropout 0.2, per-pixel standardisation        val 90.22%  train 99.24%
    dropout 0.5                                   val 89.20%  train 92.04%
    dropout 0.5, max-norm 3, momentum 0.9, lr .02 val 88.34%  train 91.00%
    dropout 0.2, hflip copies, 20 epochs          val 90.06%  train 93.71%

Random per-batch augmentation (``--random``, relunet.data.augment; train: the augmented
batches' own accuracy):

    dropout 0.2, flip,shift:1, 60 epochs          val 89.52%  train 89.57%
    dropout 0.2, flip,shift:2, 60 epochs          val 88.29%  train 87.50%
    dropout 0.2, flip, 60 epochs                  val 90.25%  train 94.00%
    dropout 0.1, flip,shift:1, 60 epochs          val 90.00%  train 90.68%
    dropout 0,   flip,shift:1, 60 epochs          val 90.69%  train 92.79%
    dropout 0.1, flip,shift:1, 120 epochs         val 90.81%  train 92.41%
    dropout 0,   flip,shift:1, 120 epochs         val 90.94%  train 95.65%

("per-pixel standardisation" divides by the pixel's std + 0.01: a plain per-pixel std of
Fashion-MNIST's border pixels is as small as 4e-4 and maps a rare ink pixel to |z| ~ 280.)
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
from relunet.data import datasets  # noqa: E402
from relunet.data.augment import parse_augment  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-samples", type=int, default=None, help="use the first N training images")
    p.add_argument("--val", type=int, default=10000, help="the last VAL training images are the validation part")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--input-dropout", type=float, default=0.0)
    p.add_argument("--max-norm", type=float, default=None)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--standardise", action="store_true", help="per-pixel (x - mean) / (std + 0.01)")
    p.add_argument("--hflip", action="store_true", help="add a mirrored copy of each training image")
    p.add_argument("--random", default=None, metavar="SPEC",
                   help="random augmentation of every batch, e.g. flip,shift:2 (relunet.data.augment)")
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", default="500,500,500")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict:
    """Train one setting; returns the arguments with ``val_accuracy``, ``train_accuracy``,
    the validation accuracy every 5 epochs (``curve``) and the CPU seconds of ``fit``."""
    options = {"data_dir": a.data_dir} if a.data_dir else {}
    d = datasets.load(a.data, seed=0, train_samples=a.train_samples, **options)
    X, y = np.asarray(d.X_train), np.asarray(d.y_train)
    if not 0 < a.val < len(X):
        raise SystemExit(f"--val must be between 1 and {len(X) - 1}")
    X_tr, y_tr, X_val, y_val = X[:-a.val], y[:-a.val], X[-a.val:], y[-a.val:]
    if a.standardise:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0) + 0.01
        X_tr, X_val = ((X_tr - mean) / std).astype(np.float32), ((X_val - mean) / std).astype(np.float32)
    if a.hflip:
        X_tr = np.concatenate([X_tr, datasets.mirror_images(X_tr, datasets.IMAGE_SHAPES[d.name])])
        y_tr = np.concatenate([y_tr, y_tr])
    hidden = [int(h) for h in a.hidden.split(",")]
    net = MLP([X.shape[1], *hidden, d.n_outputs], seed=a.seed, dropout=a.dropout,
              input_dropout=a.input_dropout, l2=a.l2, max_norm=a.max_norm)
    extra: dict = {"threads": a.threads}
    if a.momentum:
        extra["momentum"] = a.momentum
    if a.random:
        extra["augment"] = parse_augment(a.random, datasets.IMAGE_SHAPES[d.name])
    cpu = time.process_time()
    hist = net.fit(X_tr, y_tr, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, schedule=a.schedule,
                   validation_data=(X_val, y_val), **extra)
    val = [float(v) for v in hist["val_accuracy"]]
    return {**vars(a), "val_accuracy": val[-1], "train_accuracy": float(hist["accuracy"][-1]),
            "curve": [round(v, 4) for v in val[4::5]], "cpu_s": round(time.process_time() - cpu)}


def main(argv: list[str] | None = None) -> dict:
    result = run(parse(argv))
    line = json.dumps(result)
    print(line, flush=True)
    if result["out"]:
        with open(result["out"], "a") as f:
            f.write(line + "\n")
    return result


if __name__ == "__main__":
    main()
