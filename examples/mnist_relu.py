"""The 3-hidden-layer ReLU network on MNIST: 784-500-500-500-10, softmax + cross-entropy.

This is the network from the tutorial that made ReLU famous for our users. The full run
(the README gives the command, epochs, accuracy and time) reaches >= 98% on the official
10k test set; by default this script trains on the first ``--train-samples`` images so
that it finishes in a few minutes on a laptop.

Data: the four IDX files of MNIST, found in ``--data-dir``, ``$RELUNET_DATA``, the user
cache, or fetched by ``relunet data fetch mnist``; the repository's CI reads the verified
copy in ``../shared/data/mnist``.

Run: python examples/mnist_relu.py [--data-dir DIR] [--train-samples 60000] [--epochs 10]
Expected output (the test runs it on 3000 training images for 2 epochs and checks
test accuracy >= 0.88 on the 10k test images; 6000 images and 2 epochs gave 0.926):

    784-500-500-500-10 relu, softmax + cross-entropy, SGD momentum 0.9, lr 0.05, batch 128
    epoch 1 ... epoch 2 ...
    test accuracy: 0.9...
"""

from __future__ import annotations

import argparse
import time

import relunet
from relunet.data.datasets import load


def main(data_dir: str | None = None, train_samples: int | None = 20000, epochs: int = 3,
         seed: int = 0, verbose: int = 1) -> dict:
    options = {"data_dir": data_dir} if data_dir else {}
    if train_samples:
        options["train_samples"] = train_samples
    data = load("mnist", seed=seed, **options)
    net = relunet.MLP([784, 500, 500, 500, 10], activation="relu", output="softmax", seed=seed)
    print(f"784-500-500-500-10 relu, softmax + cross-entropy, SGD momentum 0.9, lr 0.05, batch 128; "
          f"{len(data.X_train)} training images")
    t0 = time.perf_counter()
    hist = net.fit(data.X_train, data.y_train, epochs=epochs, batch_size=128, lr=0.05,
                   optimizer="sgd", momentum=0.9, verbose=verbose)
    seconds = time.perf_counter() - t0
    acc = net.score(data.X_test, data.y_test)
    print(f"test accuracy: {acc:.4f} on {len(data.X_test)} test images ({epochs} epochs, {seconds:.0f} s)")
    return {"test_accuracy": acc, "epochs": hist.epochs, "seconds": seconds}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--train-samples", type=int, default=20000, help="0 = all 60000")
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    main(a.data_dir, a.train_samples or None, a.epochs)
