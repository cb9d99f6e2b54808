"""Overhead of the training loop around ``net.train_step`` (online learning is the worst case).

Compares, on the digits training set (1347 samples, 64-32-10 MLP, plain SGD, batch size 1):

* ``bare``: a hand-written loop calling ``net.train_step`` per sample (the floor);
* ``fit verbose=0``: :func:`relunet.training.fit`, silent;
* ``fit bar``: the live progress bar on a (fake) terminal, redrawn at most 10x/s;
* ``fit lines``: one plain line per epoch.

Run: ``PYTHONPATH=src python benchmarks/bench_training_loop.py [--epochs 3] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

import relunet
from relunet.training import optimizers
from relunet.data.datasets import load


class _FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _net() -> relunet.MLP:
    return relunet.MLP([64, 32, 10], activation="relu", seed=0)


def bare(X, y, epochs: int) -> float:
    net = _net()
    Xc, Y = net.check_X(X), net.encode_targets(y)
    opt = optimizers.get("sgd", lr=0.01)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = net.rng.permutation(len(Xc))
        Xe, Ye = Xc[order], Y[order]
        for i in range(len(Xe)):
            net.train_step(Xe[i : i + 1], Ye[i : i + 1], opt)
    return time.perf_counter() - t0


def with_fit(X, y, epochs: int, verbose: int, stream) -> float:
    net = _net()
    t0 = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=1, lr=0.01, verbose=verbose, stream=stream)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    d = load("digits")
    X, y = d.X_train, d.y_train
    n = len(X) * args.epochs
    runs = {
        "bare": lambda: bare(X, y, args.epochs),
        "fit verbose=0": lambda: with_fit(X, y, args.epochs, 0, io.StringIO()),
        "fit bar": lambda: with_fit(X, y, args.epochs, 1, _FakeTty()),
        "fit lines": lambda: with_fit(X, y, args.epochs, 2, io.StringIO()),
    }
    best = {k: min(f() for _ in range(args.repeat)) for k, f in runs.items()}
    base = best["bare"]
    print(f"online SGD, digits ({len(X)} samples) x {args.epochs} epochs, best of {args.repeat}")
    for k, t in best.items():
        print(f"{k:14s} {t:7.3f} s  {n / t / 1e3:7.1f}k samples/s  {100 * (t / base - 1):+6.1f}% vs bare")


if __name__ == "__main__":
    main()
