"""What diagnostics cost: training with and without the per-epoch tracker, one diagnosis,
and the doctor's checks before training.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_diagnostics.py [--epochs 10 --repeats 3]``

Prints the median seconds of: ``fit`` on digits (64-64-10, SGD, batch 32) without and with
:class:`relunet.diagnostics.DiagnosticsTracker`; one :func:`relunet.diagnostics.diagnose`
on the 1347 training samples (with gradients); :func:`relunet.doctor.examine` (with the
20-step learning-rate probe).
"""

from __future__ import annotations

import argparse
import statistics
import time

from relunet import MLP
from relunet.data import datasets
from relunet.insight.diagnostics import DiagnosticsTracker, diagnose
from relunet.insight.doctor import examine


def _median(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    d = datasets.load("digits", seed=0)
    X, y = d.X_train, d.y_train

    def train(tracked: bool) -> None:
        net = MLP([64, 64, 10], activation="relu", seed=0)
        cbs = [DiagnosticsTracker(X, y)] if tracked else []
        net.fit(X, y, epochs=args.epochs, batch_size=32, lr=0.1, callbacks=cbs)

    plain = _median(lambda: train(False), args.repeats)
    tracked = _median(lambda: train(True), args.repeats)
    net = MLP([64, 64, 10], activation="relu", seed=0)
    one = _median(lambda: diagnose(net, X, y), args.repeats)
    doc = _median(lambda: examine(net, X, y, lr=0.1), args.repeats)
    print(f"digits {len(X)} samples, 64-64-10, {args.epochs} epochs, median of {args.repeats}")
    print(f"fit without tracker   {plain:8.3f} s")
    print(f"fit with tracker      {tracked:8.3f} s   (+{(tracked - plain) / args.epochs * 1e3:.1f} ms per epoch)")
    print(f"diagnose (with grads) {one * 1e3:8.1f} ms")
    print(f"doctor examine        {doc * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
