"""Overfitting made visible and fixed: 1,000 MNIST images, with and without dropout / L2.

The 784-500-500-500-10 ReLU network has 1.3 million weights; trained on only 1,000 images
it memorises them (training accuracy 100%, training loss near 0) while its loss on the
10k test images climbs again after the first epochs: the train/test gap grows. Dropout
(each hidden unit dropped with probability 0.5 in training, the inputs with 0.2) and an
L2 penalty (``l2``: ``l2 / (2 n) * ||W||^2`` per batch of ``n``, scikit-learn's ``alpha``)
both narrow the gap and raise the test accuracy. The doctor names the problem: its
``overfitting`` finding fires on the plain run's history.

Run: python examples/overfitting.py [--data-dir DIR] [--train-samples 1000] [--epochs 100]
     [--figure overfitting.png]
Measured (seed 0, 1,000 training images, the 10k test images, 100 epochs, SGD momentum 0.9,
lr 0.01, batch 32; figure docs/figures/overfitting.png, discussed in docs/training.md):

    plain                      train 1.0000  test 0.8886  gap 0.1114  test loss 0.532 (min 0.409)
    dropout 0.5 (inputs 0.2)   train 1.0000  test 0.9103  gap 0.0897  test loss 0.424 (min 0.353)
    L2 (l2=0.1)                train 1.0000  test 0.8905  gap 0.1095  test loss 0.375 (min 0.371)
    dropout + L2               train 1.0000  test 0.9107  gap 0.0893  test loss 0.310 (min 0.280)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import relunet
from relunet.data.datasets import load
from relunet.insight import doctor

#: the runs compared: name -> MLP regularization keyword arguments
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "dropout 0.5 (inputs 0.2)": {"dropout": 0.5, "input_dropout": 0.2},
    "L2 (l2=0.1)": {"l2": 0.1},
    "dropout + L2": {"dropout": 0.5, "input_dropout": 0.2, "l2": 0.1},
}


def main(data_dir: str | None = None, train_samples: int = 1000, test_samples: int | None = None,
         epochs: int = 100, seed: int = 0, figure: str | None = None, hidden: tuple[int, ...] = (500, 500, 500),
         verbose: bool = True) -> dict[str, dict[str, Any]]:
    """Train each variant of :data:`VARIANTS`; returns per variant its final ``train_accuracy``,
    ``test_accuracy``, ``gap`` (train minus test accuracy), ``train_loss`` / ``test_loss``
    curves (per epoch), ``min_test_loss`` and ``overfitting`` (the doctor's finding fired)."""
    options = {"data_dir": data_dir} if data_dir else {}
    data = load("mnist", seed=seed, train_samples=train_samples, **options)
    X_test, y_test = data.X_test[:test_samples], data.y_test[:test_samples]
    results: dict[str, dict[str, Any]] = {}
    for name, reg in VARIANTS.items():
        net = relunet.MLP([784, *hidden, 10], seed=seed, **reg)
        t0 = time.perf_counter()
        hist = net.fit(data.X_train, data.y_train, epochs=epochs, batch_size=32, lr=0.01, momentum=0.9,
                       validation_data=(X_test, y_test), verbose=0)
        r = {
            "train_accuracy": net.score(data.X_train, data.y_train),
            "test_accuracy": net.score(X_test, y_test),
            "train_loss": [float(v) for v in hist["loss"]],
            "test_loss": [float(v) for v in hist["val_loss"]],
            "overfitting": bool(doctor.check_overfitting(hist)),
            "seconds": time.perf_counter() - t0,
        }
        r["gap"] = r["train_accuracy"] - r["test_accuracy"]
        r["min_test_loss"] = min(r["test_loss"])
        results[name] = r
        if verbose:
            print(f"{name:<26} train {r['train_accuracy']:.4f}  test {r['test_accuracy']:.4f}  "
                  f"gap {r['gap']:.4f}  test loss {r['test_loss'][-1]:.3f} (min {r['min_test_loss']:.3f})"
                  f"  doctor: {'overfitting' if r['overfitting'] else '-'}  {r['seconds']:.0f}s")
    if figure:
        plot(results, figure, f"MNIST, {len(data.X_train)} training images, "
                              f"{len(X_test)} test images, 784-{'-'.join(map(str, hidden))}-10 ReLU")
    return results


def plot(results: dict[str, dict[str, Any]], path: str, title: str) -> None:
    """Left: training (dashed) and test (solid) loss per epoch; right: accuracies and the gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (name, r), c in zip(results.items(), colors):
        epochs = np.arange(1, len(r["train_loss"]) + 1)
        ax1.plot(epochs, r["train_loss"], "--", color=c, lw=1)
        ax1.plot(epochs, r["test_loss"], "-", color=c, label=name)
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss (log scale)")
    ax1.set_title("test loss (solid) and training loss (dashed;\nwith L2 it includes the penalty l2/(2n)·||W||²)",
                  fontsize="medium")
    ax1.legend(fontsize="small")
    names = list(results)
    xs = np.arange(len(names))
    train = [results[n]["train_accuracy"] for n in names]
    test = [results[n]["test_accuracy"] for n in names]
    ax2.bar(xs - 0.2, train, 0.4, label="train", color="0.6")
    ax2.bar(xs + 0.2, test, 0.4, label="test", color="tab:blue")
    for x, a, b in zip(xs, train, test):
        ax2.annotate(f"test {100 * b:.1f}%\ngap {100 * (a - b):.1f} pts", (x, max(a, b) + 0.002), ha="center",
                     fontsize="small")
    lo = min(test) - 0.03
    ax2.set_ylim(lo, 1.035)
    ax2.set_xticks(xs, [n.replace(" (", "\n(") for n in names])
    ax2.set_ylabel("accuracy")
    ax2.set_title("final accuracy: train vs test")
    ax2.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--train-samples", type=int, default=1000)
    p.add_argument("--test-samples", type=int, default=None)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", default="overfitting.png")
    a = p.parse_args()
    main(a.data_dir, a.train_samples, a.test_samples, a.epochs, a.seed, a.figure)
