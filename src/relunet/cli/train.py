"""``relunet train``: build, train and evaluate a network on a dataset."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from . import common

NAME = "train"
HELP = "train a network and report its test accuracy (or MSE)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_args(p)
    common.add_network_args(p)
    common.add_training_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of text")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-epoch progress")


def run(args: argparse.Namespace) -> int:
    common.resolve_defaults(args)
    data = common.load_data(args)
    net = common.build_network(args, data)
    verbose = 0 if (args.json or args.quiet) else 1
    if verbose:
        print(f"{net}  on {data.name}: {len(data.X_train)} train / {len(data.X_test)} test samples")
    t0 = time.perf_counter()
    history = net.fit(data.X_train, data.y_train, epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, optimizer=args.optimizer, verbose=verbose)
    seconds = time.perf_counter() - t0
    result = summary(net, data, history, seconds)
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        key = "test_accuracy" if "test_accuracy" in result else "test_mse"
        print(f"{key}: {result[key]:.4f}  final_loss: {result['final_loss']:.4g}  "
              f"epochs: {result['epochs']}  time: {seconds:.1f}s")
    return 0


def summary(net, data, history, seconds: float) -> dict:
    """The JSON report of a training run."""
    out = {
        "data": data.name,
        "sizes": net.sizes,
        "activations": [s if isinstance(s, str) else getattr(s, "name", str(s)) for s in net.activation_specs],
        "loss": net.loss.name,
        "epochs": history.epochs,
        "final_loss": history.final_loss,
        "seconds": seconds,
    }
    if net.task == "classification":
        out["train_accuracy"] = net.score(data.X_train, data.y_train)
        out["test_accuracy"] = net.score(data.X_test, data.y_test)
    else:
        pred = net.predict(data.X_test)
        out["test_mse"] = float(np.mean((pred - data.y_test.reshape(pred.shape)) ** 2))
    return out
